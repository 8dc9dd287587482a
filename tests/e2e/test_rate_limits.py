"""Rate limits on every credential check: `signIn` and `POST /oauth/token`, per account, client and address.

Before them, 40 wrong passwords in 5 seconds were all answered and the right one then worked. Now an
account, a client or an address with too many failures within the window is refused with 429,
`Retry-After` and RATE_LIMITED, before its password or secret is checked (so the right one is refused
too), identically whether or not the account exists; once the window has passed on the hub's clock
(`LEERPOORT_NOW`, no sleeping) it works again. The counters are in the database, so two application
instances on the same database (two workers) share them. Both engines.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select

from datasources.store.tables import SCHOOLS
from resolvers import admin
from resolvers.accounts import register_partner
from server import create_app
from tests.e2e.conftest import SERVER_SCRIPT, process_environment

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

pytestmark = pytest.mark.usefixtures("world")

PASSWORD = "a-long-coordinator-password"
SIGN_IN = "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { token } }"
#: The hub's clock for these tests (the sandbox's LEERPOORT_NOW).
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
#: The defaults: 10 failures of one account or client, 30 from one address, in 15 minutes.
SUBJECT_FAILURES = 10
ADDRESS_FAILURES = 30
WINDOW = dt.timedelta(minutes=15)


@pytest.fixture
def clocked(settings: Settings) -> Settings:
    """The test's settings with the hub's clock set to T0 (tests move it by assigning `now_override`)."""
    return settings.model_copy(update={"now_override": T0})


@contextlib.asynccontextmanager
async def _client(settings: Settings, address: str = "192.0.2.10") -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new application instance on the test's database, calling from `address`."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(address, 50_000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://leerpoort.test") as client,
    ):
        yield client


async def _sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/graphql", json={"query": SIGN_IN, "variables": {"e": email, "p": password}})


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["errors"][0]
    return error


def _refusal(response: httpx.Response) -> tuple[int, str, str, Any, str]:
    """What a refused sign-in tells the caller: status, code, message, retryAfter and Retry-After."""
    error = _error(response)
    return (
        response.status_code,
        error["extensions"]["code"],
        error["message"],
        error["extensions"].get("retryAfter"),
        response.headers.get("retry-after", ""),
    )


@pytest.fixture
async def coordinator(clocked: Settings, world: SeedSummary, engine: AsyncEngine) -> str:
    """The e-mail address of a coordinator whose password is PASSWORD."""
    async with engine.connect() as connection:
        code = await connection.scalar(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id).limit(1))
    await admin.add_school_coordinator(clocked, str(code), "ict@limits.example", PASSWORD)
    return "ict@limits.example"


async def test_forty_wrong_passwords_then_the_right_one_is_refused_until_the_window_has_passed(
    clocked: Settings, coordinator: str
) -> None:
    async with _client(clocked) as client:
        answers = [await _sign_in(client, coordinator, f"wrong-guess-{n:02}") for n in range(40)]
        right = await _sign_in(client, coordinator.upper())  # the same account, however it is spelt

    checked = answers[:SUBJECT_FAILURES]
    limited = [*answers[SUBJECT_FAILURES:], right]
    assert all(response.status_code == 200 for response in checked)
    assert {_error(response)["extensions"]["code"] for response in checked} == {"UNAUTHENTICATED"}
    assert all(response.status_code == 429 for response in limited)
    assert {_error(response)["extensions"]["code"] for response in limited} == {"RATE_LIMITED"}
    assert right.json()["data"] is None  # no token
    wait = int(right.headers["retry-after"])
    assert wait == WINDOW.total_seconds()  # all ten failures happened at T0 on the hub's clock
    assert _error(right)["extensions"]["retryAfter"] == wait
    assert _error(right)["message"].startswith("too many failed attempts")

    clocked.now_override = T0 + dt.timedelta(seconds=wait - 1)
    async with _client(clocked) as client:
        still = await _sign_in(client, coordinator, PASSWORD)
    clocked.now_override = T0 + dt.timedelta(seconds=wait)
    async with _client(clocked) as client:
        after = await _sign_in(client, coordinator, PASSWORD)

    assert still.status_code == 429
    assert int(still.headers["retry-after"]) == 1
    assert after.status_code == 200, after.text
    assert after.json()["data"]["signIn"]["token"]


async def test_a_refusal_does_not_tell_whether_the_account_exists(
    clocked: Settings, coordinator: str
) -> None:
    async with _client(clocked) as client:
        for email in (coordinator, "nobody@limits.example"):
            for n in range(SUBJECT_FAILURES):
                await _sign_in(client, email, f"wrong-guess-{n:02}")
        known = await _sign_in(client, coordinator, "one-more-guess")
        unknown = await _sign_in(client, "nobody@limits.example", "one-more-guess")

    assert _refusal(known) == _refusal(unknown)
    assert _refusal(known)[:2] == (429, "RATE_LIMITED")


async def test_the_limit_holds_across_two_application_instances_on_one_database(
    clocked: Settings, coordinator: str
) -> None:
    # Two workers of one server: each its own process memory, the same database.
    async with _client(clocked) as first, _client(clocked) as second:
        for n in range(SUBJECT_FAILURES):
            worker = first if n % 2 else second
            assert (await _sign_in(worker, coordinator, f"wrong-guess-{n:02}")).status_code == 200
        on_first = await _sign_in(first, coordinator)
        on_second = await _sign_in(second, coordinator)

    assert (on_first.status_code, on_second.status_code) == (429, 429)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def two_workers(clocked: Settings, coordinator: str, tmp_path: Path) -> Iterator[str]:
    """`python server.py serve --workers 2` on the test's database and clock; its base URL."""
    port = _free_port()
    log = tmp_path / "server.log"
    environment = process_environment(clocked, LEERPOORT_NOW=T0.isoformat())
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter running this suite, fixed arguments
            [sys.executable, str(SERVER_SCRIPT), "serve", "--port", str(port), "--workers", "2"],
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


async def test_the_limit_holds_across_the_workers_of_a_real_server_and_another_process(
    clocked: Settings, coordinator: str, two_workers: str
) -> None:
    half = SUBJECT_FAILURES // 2
    # Each request on a new connection, so the two workers share them; the other half from this process.
    for n in range(half):
        async with httpx.AsyncClient(base_url=two_workers, trust_env=False, timeout=10.0) as server:
            assert (await _sign_in(server, coordinator, f"wrong-guess-{n:02}")).status_code == 200
    async with _client(clocked) as here:
        for n in range(half, SUBJECT_FAILURES):
            assert (await _sign_in(here, coordinator, f"wrong-guess-{n:02}")).status_code == 200
        refused_here = await _sign_in(here, coordinator)
    async with httpx.AsyncClient(base_url=two_workers, trust_env=False, timeout=10.0) as server:
        refused_there = [await _sign_in(server, coordinator) for _ in range(4)]

    assert refused_here.status_code == 429
    assert {response.status_code for response in refused_there} == {429}
    assert {_error(response)["extensions"]["code"] for response in refused_there} == {"RATE_LIMITED"}


async def test_an_account_is_limited_from_any_address_and_an_address_across_accounts(
    clocked: Settings, coordinator: str
) -> None:
    # A guesser spread over many addresses is still stopped at the account's limit.
    for n in range(SUBJECT_FAILURES):
        async with _client(clocked, address=f"198.51.100.{n}") as client:
            await _sign_in(client, coordinator, f"wrong-guess-{n:02}")
    async with _client(clocked, address="198.51.100.200") as client:
        from_elsewhere = await _sign_in(client, coordinator)
    # One address trying many accounts is stopped at the address's limit, for every account.
    async with _client(clocked, address="203.0.113.5") as client:
        for n in range(ADDRESS_FAILURES):
            response = await _sign_in(client, f"guess-{n}@limits.example", "wrong-guess")
            assert response.status_code == 200
        fresh_account = await _sign_in(client, "never-tried@limits.example", "wrong-guess")
    async with _client(clocked, address="203.0.113.6") as client:
        next_door = await _sign_in(client, "never-tried@limits.example", "wrong-guess")

    assert from_elsewhere.status_code == 429
    assert fresh_account.status_code == 429
    assert _error(next_door)["extensions"]["code"] == "UNAUTHENTICATED"  # another address is unaffected


async def _token(client: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )


async def test_the_token_endpoint_refuses_a_client_with_too_many_failures_until_the_window_has_passed(
    clocked: Settings, engine: AsyncEngine
) -> None:
    credentials = await register_partner(
        engine, name="Uitgeverij Gok", kind="PUBLISHER", categories=[], eck_chain=False, now=T0
    )
    client_id, secret = credentials.client_id, credentials.client_secret
    async with _client(clocked) as client:
        wrong = [await _token(client, client_id, f"wrong-{n}") for n in range(SUBJECT_FAILURES)]
        right = await _token(client, client_id, secret)

    assert {response.status_code for response in wrong} == {401}
    assert right.status_code == 429
    assert right.json()["error"] == "rate_limited"
    assert right.json()["error_description"].startswith("too many failed attempts")
    assert "access_token" not in right.json()
    assert int(right.headers["retry-after"]) == WINDOW.total_seconds()

    clocked.now_override = T0 + WINDOW
    async with _client(clocked) as client:
        after = await _token(client, client_id, secret)
    assert after.status_code == 200, after.text
    assert after.json()["access_token"]


async def test_a_right_secret_is_not_counted_as_a_failure(clocked: Settings, engine: AsyncEngine) -> None:
    credentials = await register_partner(
        engine, name="Uitgeverij Vaak", kind="PUBLISHER", categories=[], eck_chain=False, now=T0
    )
    async with _client(clocked) as client:
        answers = [
            await _token(client, credentials.client_id, credentials.client_secret)
            for _ in range(SUBJECT_FAILURES + 5)
        ]

    assert {response.status_code for response in answers} == {200}
