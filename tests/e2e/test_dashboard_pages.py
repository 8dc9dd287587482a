"""The dashboard's page shell and files over HTTP (both engines): /beheer needs a signed-in staff member
(anyone else goes to /login and comes back), carries the session's CSRF token for its script and a
Content-Security-Policy that runs this site's scripts only; its two files are served from a fixed list."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import TYPE_CHECKING

import httpx

from resolvers import admin, registry_commands
from server import create_app
from tests.e2e.test_imports import school_file
from tests.e2e.web import graphql, sign_in_staff

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from settings import Settings

CODE = "99DC00"
EMAIL = "ict@pagina.example"
PASSWORD = "een-lange-wachtzin-voor-de-pagina"
NOW = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)


@contextlib.asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    at = settings.model_copy(update={"now_override": NOW})
    app = create_app(at)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield client


async def _school(settings: Settings) -> None:
    at = settings.model_copy(update={"now_override": NOW})
    await registry_commands.add_location(at, CODE, "De Pagina", "99977")
    await admin.import_file(at, lambda: school_file(CODE, "2026-2027"), dry_run=False, confirm=True)
    await admin.add_school_coordinator(at, CODE, EMAIL, PASSWORD)


async def test_the_dashboard_sends_a_visitor_without_a_session_to_sign_in(settings: Settings) -> None:
    async with _client(settings) as client:
        page = await client.get("/beheer")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fbeheer"


async def test_the_signed_in_coordinator_gets_the_shell_with_the_csrf_token_and_a_strict_policy(
    settings: Settings,
) -> None:
    await _school(settings)
    async with _client(settings) as client:
        await sign_in_staff(client, EMAIL, PASSWORD)
        page = await client.get("/beheer")
        script = await client.get("/beheer/static/beheer.js")
        stylesheet = await client.get("/beheer/static/beheer.css")
        missing = await client.get("/beheer/static/..%2Fsignin.py")
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert token is not None
        # What the page's script does with that token: read the graph as the coordinator.
        readiness = await graphql(
            client,
            "query($c: String!) { school(code: $c) { readiness { code } } }",
            {"c": CODE},
            csrf=token.group(1),
        )
    assert page.status_code == 200
    assert '<html lang="nl">' in page.text
    assert '<script type="module" src="/beheer/static/beheer.js"></script>' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    # Partners' text goes in as text nodes only: the module never parses a string as markup.
    assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write|DOMParser", script.text)
    assert stylesheet.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404
    assert len(readiness.json()["data"]["school"]["readiness"]) == 11
