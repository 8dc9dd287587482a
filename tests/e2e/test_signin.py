"""Staff sign in on `/login` (plain HTML forms, CSRF-protected) and get a session cookie that `/graphql`
accepts with the session's CSRF token in `X-CSRF-Token`, and only then. Signing out, a disabled account
and the rate limits end or refuse it; a `next` off the site never redirects there. Both engines, over
HTTP against the application with its lifespan running; the client keeps cookies as a browser does."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from datasources.store.tables import SCHOOLS, STAFF_ACCOUNTS, WEB_SESSIONS
from resolvers import admin
from server import create_app
from tests.e2e.conftest import SERVER_SCRIPT, process_environment
from tests.e2e.web import form_csrf_token, graphql, session_csrf_token, sign_in_form, sign_in_staff

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

pytestmark = pytest.mark.usefixtures("world")

PASSWORD = "a-long-coordinator-password"
EMAIL = "ict@aanmelden.example"
VIEWER = "{ viewer { kind subject scopes } }"
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


@contextlib.asynccontextmanager
async def browser(settings: Settings, address: str = "192.0.2.20") -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new application instance that keeps cookies, calling from `address`."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(address, 50_000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://leerpoort.test") as client,
    ):
        yield client


@pytest.fixture
def clocked(settings: Settings) -> Settings:
    """The test's settings with the hub's clock at T0."""
    return settings.model_copy(update={"now_override": T0})


@pytest.fixture
async def coordinator(clocked: Settings, world: SeedSummary, engine: AsyncEngine) -> tuple[str, str]:
    """A coordinator's e-mail address (password PASSWORD) and their school's code."""
    async with engine.connect() as connection:
        code = await connection.scalar(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id).limit(1))
    await admin.add_school_coordinator(clocked, str(code), EMAIL, PASSWORD)
    return EMAIL, str(code)


async def _sessions(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list(await connection.execute(select(WEB_SESSIONS).order_by(WEB_SESSIONS.c.id)))


async def test_the_sign_in_page_is_a_plain_form_that_works_without_javascript(clocked: Settings) -> None:
    async with browser(clocked) as client:
        page = await client.get("/login?next=/groepen")
        stylesheet = await client.get("/static/leerpoort.css")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert '<html lang="nl">' in text
    assert '<meta name="viewport"' in text
    assert '<form method="post" action="/login">' in text
    assert "<script" not in text
    assert 'name="email"' in text
    assert 'name="wachtwoord"' in text
    assert '<input type="hidden" name="next" value="/groepen">' in text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    # the double-submit cookie carries the same token as the form
    assert client.cookies["leerpoort_csrf"] == form_csrf_token(text)
    assert stylesheet.status_code == 200
    assert stylesheet.headers["content-type"].startswith("text/css")


async def test_staff_sign_in_gives_a_session_that_graphql_answers_only_with_the_csrf_header(
    clocked: Settings, coordinator: tuple[str, str], engine: AsyncEngine
) -> None:
    email, code = coordinator
    async with browser(clocked) as client:
        await sign_in_staff(client, email.upper(), PASSWORD)  # however the address is typed
        csrf = await session_csrf_token(client)
        answered = await graphql(client, VIEWER, csrf=csrf)
        without = await client.post("/graphql", json={"query": VIEWER})
        wrong = await graphql(client, VIEWER, csrf=csrf[:-2] + "xx")
        # a bearer token, when sent, is what counts (the session is not mixed in)
        bearer = await client.post(
            "/graphql", json={"query": VIEWER}, headers={"Authorization": "Bearer not-a-token"}
        )

    assert answered.status_code == 200, answered.text
    viewer = answered.json()["data"]["viewer"]
    (stored,) = await _sessions(engine)
    assert viewer["kind"] == "STAFF"
    assert viewer["subject"] == f"staff:{stored.subject_id}"
    assert viewer["scopes"] == sorted(["staff", "coordinator", f"school:{code}"])
    for refused in (without, wrong):
        assert refused.status_code == 403, refused.text
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert "X-CSRF-Token" in refused.json()["errors"][0]["message"]
        assert "data" not in refused.json()
    assert bearer.status_code == 401
    # only a hash of the cookie is stored
    assert stored.token_hash != client.cookies["leerpoort_session"]
    assert len(stored.token_hash) == 64
    assert stored.address == "192.0.2.20"
    assert stored.expires_at == T0 + dt.timedelta(hours=8)


async def test_the_session_cookie_is_httponly_lax_and_secure_outside_the_sandbox(
    clocked: Settings, coordinator: tuple[str, str]
) -> None:
    email, _ = coordinator
    production = clocked.model_copy(
        update={"mode": "production", "pseudonym_key": SecretStr("e2e-production-pseudonym-key-0123456789")}
    )
    cookies = {}
    for name, settings in (("sandbox", clocked), ("production", production)):
        async with browser(settings) as client:
            page = await client.get("/login")
            token = form_csrf_token(page.text)
            # A Secure cookie is not sent back over http://, so the test sends the double-submit pair.
            response = await client.post(
                "/login",
                data={"csrf_token": token, "soort": "medewerker", "email": email, "wachtwoord": PASSWORD},
                headers={"Cookie": f"leerpoort_csrf={token}"},
            )
            assert response.status_code == 303, response.text
            cookies[name] = (page.headers["set-cookie"], response.headers["set-cookie"])

    for name, (csrf_cookie, session_cookie) in cookies.items():
        for header in (csrf_cookie, session_cookie):
            attributes = [part.strip().lower() for part in header.split(";")]
            assert "httponly" in attributes
            assert "samesite=lax" in attributes
            assert "path=/" in attributes
            assert ("secure" in attributes) == (name == "production")
        assert session_cookie.startswith("leerpoort_session=")
        assert "max-age=28800" in session_cookie.lower()


async def test_signing_out_ends_the_session(
    clocked: Settings, coordinator: tuple[str, str], engine: AsyncEngine
) -> None:
    email, _ = coordinator
    async with browser(clocked) as client:
        await sign_in_staff(client, email, PASSWORD)
        csrf = await session_csrf_token(client)
        cookie = client.cookies["leerpoort_session"]
        refused = await client.post("/logout", data={"csrf_token": "not-the-token"})
        still = await graphql(client, VIEWER, csrf=csrf)
        out = await client.post("/logout", data={"csrf_token": csrf})
        after = await graphql(client, VIEWER, csrf=csrf)
        page = await client.get("/login")
    async with browser(clocked) as replay:  # the old cookie, kept by someone, opens nothing
        replayed = await replay.post(
            "/graphql",
            json={"query": VIEWER},
            headers={"X-CSRF-Token": csrf, "Cookie": f"leerpoort_session={cookie}"},
        )

    assert refused.status_code == 403
    assert "verlopen" in refused.text
    assert still.status_code == 200
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    assert (
        'leerpoort_session=""' in out.headers["set-cookie"]
        or "max-age=0" in out.headers["set-cookie"].lower()
    )
    assert after.status_code == 401
    assert replayed.status_code == 401
    assert "Leerkrachten en medewerkers" in page.text  # the sign-in form again
    (stored,) = await _sessions(engine)
    assert stored.ended_at == T0


async def test_a_form_without_the_right_csrf_token_is_refused_and_signs_nobody_in(
    clocked: Settings, coordinator: tuple[str, str], engine: AsyncEngine
) -> None:
    email, _ = coordinator
    fields = {"soort": "medewerker", "email": email, "wachtwoord": PASSWORD}
    async with browser(clocked) as client:
        page = await client.get("/login")
        token = form_csrf_token(page.text)
        missing = await client.post("/login", data=fields)
        wrong = await client.post("/login", data={**fields, "csrf_token": token[:-3] + "abc"})
    async with browser(clocked) as other:  # another site's form: the browser has no (or another) cookie
        cross_site = await other.post("/login", data={**fields, "csrf_token": token})

    for refused in (missing, wrong, cross_site):
        assert refused.status_code == 403
        assert "Deze pagina is verlopen" in refused.text
        assert "leerpoort_session" not in refused.headers.get("set-cookie", "")
    assert await _sessions(engine) == []


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/groepen?jaar=5", "/groepen?jaar=5"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/%09/evil.example", "/%09/evil.example"),
        ("/\t/evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
async def test_next_only_ever_leads_to_a_page_of_this_site(
    clocked: Settings, coordinator: tuple[str, str], target: str, expected: str
) -> None:
    email, _ = coordinator
    async with browser(clocked) as client:
        page = await client.get("/login", params={"next": target})
        response = await sign_in_form(
            client, {"soort": "medewerker", "email": email, "wachtwoord": PASSWORD, "next": target}
        )

    assert page.status_code == 200
    assert response.status_code == 303
    assert response.headers["location"] == expected


async def test_a_disabled_account_loses_its_session_on_its_next_request(
    clocked: Settings, coordinator: tuple[str, str], engine: AsyncEngine
) -> None:
    email, _ = coordinator
    async with browser(clocked) as client:
        await sign_in_staff(client, email, PASSWORD)
        csrf = await session_csrf_token(client)
        async with engine.begin() as connection:
            await connection.execute(update(STAFF_ACCOUNTS).values(active=False))
        disabled = await graphql(client, VIEWER, csrf=csrf)
        page = await client.get("/login")
        async with engine.begin() as connection:
            await connection.execute(update(STAFF_ACCOUNTS).values(active=True))
        back = await graphql(client, VIEWER, csrf=csrf)
        again = await sign_in_form(client, {"soort": "medewerker", "email": email, "wachtwoord": PASSWORD})

    assert disabled.status_code == 401
    assert disabled.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Leerkrachten en medewerkers" in page.text  # not signed in any more
    assert back.status_code == 401  # the ended session stays ended
    assert again.status_code == 303  # signing in again works
    first, second = await _sessions(engine)
    assert first.ended_at == T0
    assert second.ended_at is None


async def test_wrong_passwords_are_rate_limited_with_a_dutch_message(
    clocked: Settings, coordinator: tuple[str, str], engine: AsyncEngine
) -> None:
    email, _ = coordinator
    async with browser(clocked) as client:
        wrong = [
            await sign_in_form(client, {"soort": "medewerker", "email": email, "wachtwoord": f"guess-{n}"})
            for n in range(10)
        ]
        limited = await sign_in_form(client, {"soort": "medewerker", "email": email, "wachtwoord": PASSWORD})

    assert {response.status_code for response in wrong} == {401}
    assert "Het e-mailadres of het wachtwoord klopt niet." in wrong[0].text
    assert f'value="{email}"' in wrong[0].text  # the address stays filled in
    assert PASSWORD not in limited.text
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "900"
    assert "Te veel mislukte pogingen" in limited.text
    assert "15 minuten" in limited.text
    assert await _sessions(engine) == []

    clocked.now_override = T0 + dt.timedelta(minutes=15)
    async with browser(clocked) as client:
        await sign_in_staff(client, email, PASSWORD)


async def test_the_sign_in_api_for_clients_still_works(
    clocked: Settings, coordinator: tuple[str, str]
) -> None:
    email, _ = coordinator
    async with browser(clocked) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { token } }",
                "variables": {"e": email, "p": PASSWORD},
            },
        )
        token = response.json()["data"]["signIn"]["token"]
        viewer = await client.post(
            "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
        )
    assert set(viewer.json()["data"]["viewer"]["scopes"]) >= {"staff", "coordinator"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def real_server(clocked: Settings, coordinator: tuple[str, str], tmp_path: Path) -> Iterator[str]:
    """`python server.py serve` on the test's database and clock, over TCP; its base URL."""
    port = _free_port()
    log = tmp_path / "server.log"
    environment = process_environment(clocked, LEERPOORT_NOW=T0.isoformat())
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter running this suite, fixed arguments
            [sys.executable, str(SERVER_SCRIPT), "serve", "--port", str(port)],
            env=environment,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{base_url}/health").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not become healthy:\n{log.read_text()}")
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_a_browser_signs_in_and_out_on_a_real_server(
    coordinator: tuple[str, str], real_server: str
) -> None:
    email, code = coordinator
    async with httpx.AsyncClient(base_url=real_server, trust_env=False, timeout=10.0) as client:
        await sign_in_staff(client, email, PASSWORD)
        csrf = await session_csrf_token(client)
        signed_in = await graphql(client, VIEWER, csrf=csrf)
        refused = await client.post("/graphql", json={"query": VIEWER})
        out = await client.post("/logout", data={"csrf_token": csrf})
        after = await graphql(client, VIEWER, csrf=csrf)

    assert signed_in.json()["data"]["viewer"]["kind"] == "STAFF"
    assert f"school:{code}" in signed_in.json()["data"]["viewer"]["scopes"]
    assert refused.status_code == 403
    assert out.status_code == 303
    assert after.status_code == 401


async def test_signing_in_again_in_the_same_browser_ends_the_previous_session(
    clocked: Settings, coordinator: tuple[str, str], engine: AsyncEngine
) -> None:
    email, _ = coordinator
    async with browser(clocked) as client:
        await sign_in_staff(client, email, PASSWORD)
        first_cookie = client.cookies["leerpoort_session"]
        csrf = await session_csrf_token(client)
        # the signed-in page shows no sign-in form; a form kept open in another tab still posts
        again = await client.post(
            "/login",
            data={
                "csrf_token": client.cookies["leerpoort_csrf"],
                "soort": "medewerker",
                "email": email,
                "wachtwoord": PASSWORD,
            },
        )
        assert again.status_code == 303
        assert client.cookies["leerpoort_session"] != first_cookie
    first, second = await _sessions(engine)
    async with browser(clocked) as replay:
        replayed = await replay.post(
            "/graphql",
            json={"query": VIEWER},
            headers={"X-CSRF-Token": csrf, "Cookie": f"leerpoort_session={first_cookie}"},
        )

    assert replayed.status_code == 401
    assert first.ended_at == T0
    assert second.ended_at is None
