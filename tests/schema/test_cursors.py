"""Cursors are sealed per viewer, like ids: two partners reading the same school get different cursors for
the same rows and the same events, a cursor tells no row id or hub-wide count, and a cursor is refused
(BAD_USER_INPUT, as a malformed one) from anyone it was not given to."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from auth.categories import DataCategory
from auth.policy import operator_scope
from tests.schema.conftest import OPERATOR
from tests.schema.test_feed import grant, new_partner, read_feed, scope_of_partner, world

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import Scope
    from settings import Settings
    from tests.schema.conftest import Run

STUDENTS = """query($code: String!, $after: String) { school(code: $code) {
    students(first: 2, after: $after) { edges { cursor node { id } }
    pageInfo { startCursor endCursor } } } }"""
MALFORMED = "the cursor is malformed; pass an endCursor this API returned"
OPERATOR_SCOPE = operator_scope(OPERATOR)


async def _two_partners(engine: AsyncEngine, settings: Settings) -> tuple[str, Scope, Scope]:
    """A school that granted the same categories to two partners: (code, first's scope, second's)."""
    school_id, code, first_id, first_client = await world(engine)
    second_id, second_client = await new_partner(engine)
    for partner_id in (first_id, second_id):
        await grant(engine, school_id, partner_id, [DataCategory.STUDENT_BASIC, DataCategory.GROUP_BASIC])
    return (
        code,
        await scope_of_partner(engine, settings, first_client),
        await scope_of_partner(engine, settings, second_client),
    )


async def _students(run: Run, scope: Scope, code: str, after: str | None = None) -> dict[str, Any]:
    result = await run(STUDENTS, {"code": code, "after": after}, scope=scope)
    assert result["errors"] == [], result["errors"]
    students: dict[str, Any] = result["data"]["school"]["students"]
    return students


def _readable(cursor: str) -> str | None:
    """The text inside a cursor, when it is base64 of text at all."""
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        return None


def _codes(result: dict[str, Any]) -> list[str | None]:
    return [error["code"] for error in result["errors"]]


async def test_two_partners_get_different_cursors_for_the_same_students_and_neither_reads_a_row_id(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    code, first, second = await _two_partners(engine, settings)
    mine = await _students(run, first, code)
    theirs = await _students(run, second, code)
    hub = await _students(run, OPERATOR_SCOPE, code)
    mine_cursors = [edge["cursor"] for edge in mine["edges"]]
    theirs_cursors = [edge["cursor"] for edge in theirs["edges"]]

    assert len(mine_cursors) == len(theirs_cursors) == 2
    assert not set(mine_cursors) & set(theirs_cursors)
    assert not set(mine_cursors) & {edge["cursor"] for edge in hub["edges"]}
    for cursor in mine_cursors + theirs_cursors:
        assert not (_readable(cursor) or "").startswith("c1:"), cursor
    assert _readable(hub["edges"][0]["cursor"]) is not None  # the hub's staff keep a readable form
    assert mine["pageInfo"]["startCursor"] == mine_cursors[0]
    assert mine["pageInfo"]["endCursor"] == mine_cursors[-1]
    # The partner's own cursor still pages on: the next page follows, without overlap.
    following = await _students(run, first, code, mine["pageInfo"]["endCursor"])
    assert following["edges"]
    assert not {edge["node"]["id"] for edge in following["edges"]} & {
        edge["node"]["id"] for edge in mine["edges"]
    }


async def test_a_cursor_is_refused_from_any_viewer_it_was_not_given_to(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    code, first, second = await _two_partners(engine, settings)
    mine = (await _students(run, first, code))["pageInfo"]["endCursor"]
    hubs = (await _students(run, OPERATOR_SCOPE, code))["pageInfo"]["endCursor"]

    for cursor, scope in ((mine, second), (hubs, first), (mine, OPERATOR_SCOPE)):
        result = await run(STUDENTS, {"code": code, "after": cursor}, scope=scope)
        assert _codes(result) == ["BAD_USER_INPUT"], (cursor, scope.partner_id)
        # The same answer as for a damaged cursor: a refusal does not tell whose cursor it was.
        assert result["errors"][0]["message"] == MALFORMED


async def test_feed_cursors_are_sealed_per_partner_and_refused_from_anyone_else(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    code, first, second = await _two_partners(engine, settings)
    mine, my_end = await read_feed(run, first)
    theirs, their_end = await read_feed(run, second)
    hubs, hub_end = await read_feed(run, OPERATOR_SCOPE)
    page_cursor = (await _students(run, first, code))["pageInfo"]["endCursor"]
    assert my_end is not None
    assert their_end is not None
    assert hub_end is not None

    # The same school's events, told to each partner under cursors of its own.
    assert [event["entityId"] for event in mine if event["entityType"] == "School"]
    assert not {event["cursor"] for event in mine} & {event["cursor"] for event in theirs}
    assert not {event["cursor"] for event in mine} & {event["cursor"] for event in hubs}
    assert my_end != their_end
    for event in mine:
        assert not (_readable(event["cursor"]) or "").startswith("c1:"), event["cursor"]

    refused = [(their_end, first), (hub_end, first), (my_end, OPERATOR_SCOPE), (page_cursor, first)]
    for cursor, scope in refused:
        result = await run(
            "query($after: String) { changes(after: $after) { pageInfo { endCursor } } }",
            {"after": cursor},
            scope=scope,
        )
        assert _codes(result) == ["BAD_USER_INPUT"], (cursor, scope.partner_id)
        assert result["errors"][0]["message"] == MALFORMED
    # Its own end cursor continues the partner's feed (nothing new since).
    assert (await read_feed(run, first, my_end)) == ([], my_end)
