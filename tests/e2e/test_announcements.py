"""Announcements over HTTP: the operator posts, everyone reads the current ones (without a token too), by
the hub's clock, and the sandbox's explorer page shows them as text."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from resolvers import admin
from tests.e2e.test_staff_roles import CODE, COORDINATOR, _school, hub_at

if TYPE_CHECKING:
    import httpx

    from settings import Settings

NOW = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
POST = """mutation($t: String!, $b: String!, $s: AnnouncementSeverity!, $f: DateTime, $u: DateTime) {
    postAnnouncement(title: $t, body: $b, severity: $s, validFrom: $f, validUntil: $u) {
        title severity validFrom validUntil } }"""
READ = "{ announcements { title body severity } }"


async def _anonymous(client: httpx.AsyncClient, query: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": query})


def _post(title: str, severity: str, valid_from: str | None, valid_until: str | None) -> dict[str, Any]:
    return {
        "t": title,
        "b": "Het inloggen kan even haperen.",
        "s": severity,
        "f": valid_from,
        "u": valid_until,
    }


async def test_everyone_reads_the_current_announcements_by_the_hubs_clock(settings: Settings) -> None:
    async with hub_at(settings, NOW) as hub:
        operator = await admin.operator_token(hub.settings)
        posted = await hub.graphql(
            POST, _post("Onderhoud", "WARNING", "2026-12-01T18:00:00Z", "2026-12-01T22:00:00Z"), operator
        )
        assert posted["data"]["postAnnouncement"]["severity"] == "WARNING"
        await hub.graphql(POST, _post("Welkom", "INFO", None, None), operator)
        now = await _anonymous(hub.client, READ)
        assert now.status_code == 200
        assert [item["title"] for item in now.json()["data"]["announcements"]] == ["Welkom"]
    async with hub_at(settings, dt.datetime(2026, 12, 1, 19, tzinfo=dt.UTC)) as hub:
        during = (await _anonymous(hub.client, READ)).json()["data"]["announcements"]
        assert [item["title"] for item in during] == ["Onderhoud", "Welkom"]  # the most severe first
    async with hub_at(settings, dt.datetime(2026, 12, 1, 22, tzinfo=dt.UTC)) as hub:
        after = (await _anonymous(hub.client, READ)).json()["data"]["announcements"]
        assert [item["title"] for item in after] == ["Welkom"]


async def test_only_the_operator_posts_and_bad_announcements_are_refused(settings: Settings) -> None:
    await _school(settings)
    async with hub_at(settings, NOW) as hub:
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        refused = await hub.graphql(POST, _post("Van de school", "INFO", None, None), coordinator)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        anonymous = await hub.client.post(
            "/graphql", json={"query": POST, "variables": _post("x", "INFO", None, None)}
        )
        assert anonymous.status_code == 401
        operator = await admin.operator_token(hub.settings)
        backwards = _post("Terug", "INFO", "2026-12-02T10:00:00Z", "2026-12-01T10:00:00Z")
        wrong = await hub.graphql(POST, backwards, operator)
        assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        empty = await hub.graphql(POST, _post("   ", "INFO", None, None), operator)
        assert empty["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert (await _anonymous(hub.client, READ)).json()["data"]["announcements"] == []
        # Reading anything else without a token is still refused.
        assert (
            await _anonymous(hub.client, "{ announcements { title } schools(first: 1) { edges { cursor } } }")
        ).status_code == 401


async def test_the_explorer_shows_the_announcements_as_text(settings: Settings) -> None:
    async with hub_at(settings, NOW) as hub:
        operator = await admin.operator_token(hub.settings)
        await hub.graphql(POST, _post("<script>alert(1)</script>", "OUTAGE", None, None), operator)
        page = await hub.client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<script>alert(1)</script>" not in page.text
        assert "Het inloggen kan even haperen." in page.text
