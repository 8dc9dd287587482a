"""A school may bind sessions to the network address they started from (`setSessionBinding`): a request
from another address (Wi-Fi to 4G, a copied cookie) ends the session, `/graphql` answers 401 and `/login`
says why in Dutch. Over real HTTP against a served hub behind a trusted proxy (the test client is the
proxy, naming each request's client in `X-Forwarded-For`), on both engines."""

from __future__ import annotations

import contextlib
import html
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from datasources.store.tables import WEB_SESSIONS
from resolvers import admin
from schema.pages.signin import ADDRESS_CHANGED
from tests.e2e.test_hostile import _partner_token
from tests.e2e.test_school_networks import _served
from tests.e2e.test_staff_roles import CODE, COORDINATOR, NOW, OTHER_CODE, PASSWORD, _account, _school
from tests.e2e.web import graphql, session_csrf_token, sign_in_staff

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings

WIFI = "192.0.2.20"
MOBILE = "198.51.100.7"
TEACHER = "els@school.example"
BIND = "mutation($c: String!, $on: Boolean!) { setSessionBinding(schoolCode: $c, enabled: $on) }"
BINDING = "query($c: String!) { school(code: $c) { sessionBinding } }"
VIEWER = "{ viewer { kind } }"


@contextlib.asynccontextmanager
async def _hub(settings: Settings) -> AsyncIterator[str]:
    """The hub served on a loopback port on the clock of the schools' files (`_at`), trusting the loopback
    client as its reverse proxy."""
    async with _served(_at(settings)) as base_url:
        yield base_url


def _at(settings: Settings) -> Settings:
    return settings.model_copy(update={"now_override": NOW, "trusted_proxies": "127.0.0.1"})


@contextlib.asynccontextmanager
async def _browser(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser that keeps its cookies; `_move` sets the network it calls from."""
    async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=10.0) as client:
        _move(client, WIFI)
        yield client


def _move(client: httpx.AsyncClient, address: str) -> None:
    client.headers["X-Forwarded-For"] = address


def _data(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _bind(client: httpx.AsyncClient, code: str, enabled: bool) -> httpx.Response:
    return await graphql(client, BIND, {"c": code, "on": enabled})


async def test_a_session_that_moves_to_another_address_ends_with_a_clear_message_where_the_school_binds(
    settings: Settings, engine: AsyncEngine
) -> None:
    await _school(settings)
    async with _hub(settings) as base_url, _browser(base_url) as browser:
        await sign_in_staff(browser, f"{CODE.lower()}-{COORDINATOR}", PASSWORD)
        csrf = await session_csrf_token(browser)
        assert _data(await _bind(browser, CODE, True)) == {"setSessionBinding": True}
        assert _data(await graphql(browser, BINDING, {"c": CODE}, csrf=csrf)) == {
            "school": {"sessionBinding": True}
        }
        # On the network it started from, the session goes on.
        assert _data(await graphql(browser, VIEWER, csrf=csrf)) == {"viewer": {"kind": "STAFF"}}

        _move(browser, MOBILE)
        moved = await graphql(browser, VIEWER, csrf=csrf)
        assert moved.status_code == 401, moved.text
        error = moved.json()["errors"][0]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert "another one" in error["message"]
        assert "sign in again" in error["message"]
        # Ended for good: back on the school's Wi-Fi the cookie opens nothing either.
        _move(browser, WIFI)
        assert (await graphql(browser, VIEWER, csrf=csrf)).status_code == 401
        # The sign-in page says why, in Dutch, wherever the person now is.
        _move(browser, MOBILE)
        page = await browser.get("/login")
        assert page.status_code == 200
        assert ADDRESS_CHANGED in html.unescape(page.text)
        # A new sign-in on the new network starts a new session there, and the message is gone.
        await sign_in_staff(browser, f"{CODE.lower()}-{COORDINATOR}", PASSWORD)
        assert ADDRESS_CHANGED not in html.unescape((await browser.get("/login")).text)
        assert _data(await graphql(browser, VIEWER)) == {"viewer": {"kind": "STAFF"}}

    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    WEB_SESSIONS.c.address, WEB_SESSIONS.c.end_reason, WEB_SESSIONS.c.ended_at.is_(None)
                ).order_by(WEB_SESSIONS.c.id)
            )
        ).all()
    assert [tuple(row) for row in rows] == [(WIFI, "address_changed", False), (MOBILE, None, True)]


async def test_a_teachers_session_is_bound_by_the_school_she_works_at_and_unbound_schools_keep_theirs(
    settings: Settings, engine: AsyncEngine
) -> None:
    await _school(settings)
    await _school(settings, OTHER_CODE)
    await _account(engine, TEACHER)
    async with _hub(settings) as base_url:
        async with _browser(base_url) as coordinator:
            await sign_in_staff(coordinator, f"{CODE.lower()}-{COORDINATOR}", PASSWORD)
            assert _data(await _bind(coordinator, CODE, True)) == {"setSessionBinding": True}
        # A teacher at the binding school (no coordinator, and her session names no school) is bound.
        async with _browser(base_url) as teacher:
            await sign_in_staff(teacher, TEACHER, PASSWORD)
            csrf = await session_csrf_token(teacher)
            _move(teacher, MOBILE)
            assert (await graphql(teacher, VIEWER, csrf=csrf)).status_code == 401
        # The other school did not bind its sessions: its coordinator moves networks freely.
        async with _browser(base_url) as other:
            await sign_in_staff(other, f"{OTHER_CODE.lower()}-{COORDINATOR}", PASSWORD)
            csrf = await session_csrf_token(other)
            _move(other, MOBILE)
            assert _data(await graphql(other, VIEWER, csrf=csrf)) == {"viewer": {"kind": "STAFF"}}
        # Switching it off again at the first school lets a moved session of that school go on.
        async with _browser(base_url) as coordinator:
            await sign_in_staff(coordinator, f"{CODE.lower()}-{COORDINATOR}", PASSWORD)
            assert _data(await _bind(coordinator, CODE, False)) == {"setSessionBinding": False}
            csrf = await session_csrf_token(coordinator)
            _move(coordinator, MOBILE)
            assert _data(await graphql(coordinator, VIEWER, csrf=csrf)) == {"viewer": {"kind": "STAFF"}}


async def test_only_the_schools_coordinator_binds_its_sessions_and_partners_do_not_read_it(
    settings: Settings, engine: AsyncEngine
) -> None:
    await _school(settings)
    await _school(settings, OTHER_CODE)
    async with _hub(settings) as base_url:
        async with _browser(base_url) as other:
            await sign_in_staff(other, f"{OTHER_CODE.lower()}-{COORDINATOR}", PASSWORD)
            refused = (await _bind(other, CODE, True)).json()
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert refused["data"] is None
        partner = await _partner_token(engine, _at(settings))
        operator = await admin.operator_token(_at(settings))
        async with httpx.AsyncClient(base_url=base_url, trust_env=False) as client:

            async def as_token(query: str, token: str) -> dict[str, Any]:
                answer = await client.post(
                    "/graphql",
                    json={"query": query, "variables": {"c": CODE, "on": True}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                body: dict[str, Any] = answer.json()
                return body

            assert (await as_token(BIND, partner))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert (await as_token(BIND, operator))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            # The operator (the helpdesk) reads the setting; a partner never does.
            assert (await as_token(BINDING, operator))["data"] == {"school": {"sessionBinding": False}}
            partner_view = (await as_token(BINDING, partner))["data"]["school"]
            assert partner_view is None  # no consent: the school itself is withheld
