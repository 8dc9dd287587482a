"""The feed's memory of scope: per partner, school and category, the stretches of the feed during which the
policy disclosed that category to the partner (`scope_periods`).

A change of scope (a grant, a revoke, a DPA signed or withdrawn, a school moved to another board, closed or
reopened) ends and begins periods at one feed position, taken with the counter row locked, so that every
event lies clearly before or after it. The feed shows a partner a school's event only if the event's
categories were in a period that covered it: rewinding the feed after a widening shows no earlier change in
the newly granted categories, and nothing that happened while the school disclosed nothing.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, and_, case, exists, insert, or_, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from datasources.store.tables import SCOPE_PERIODS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sqlalchemy import ColumnElement
    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlalchemy.sql.compiler import SQLCompiler

#: (school id, partner id)
Pair = tuple[int, int]


async def held(
    connection: AsyncConnection, school_ids: Iterable[int], partner_id: int | None = None
) -> dict[Pair, frozenset[str]]:
    """The categories each partner holds now at these schools (its open periods), by (school, partner)."""
    p = SCOPE_PERIODS.c
    statement = select(p.school_id, p.partner_id, p.category).where(
        p.school_id.in_(sorted(set(school_ids))), p.until_seq.is_(None)
    )
    if partner_id is not None:
        statement = statement.where(p.partner_id == partner_id)
    found: dict[Pair, set[str]] = defaultdict(set)
    for row in await connection.execute(statement):
        found[(row.school_id, row.partner_id)].add(row.category)
    return {pair: frozenset(categories) for pair, categories in found.items()}


async def move(
    connection: AsyncConnection,
    pair: Pair,
    *,
    old: frozenset[str],
    new: frozenset[str],
    position: int,
) -> None:
    """End the periods of what the partner lost and begin periods for what it gained, at `position`."""
    school_id, partner_id = pair
    p = SCOPE_PERIODS.c
    if old - new:
        await connection.execute(
            update(SCOPE_PERIODS)
            .where(
                p.school_id == school_id,
                p.partner_id == partner_id,
                p.category.in_(sorted(old - new)),
                p.until_seq.is_(None),
            )
            .values(until_seq=position)
        )
    await begin(connection, {pair: new - old}, position)


async def begin(connection: AsyncConnection, gained: Mapping[Pair, Iterable[str]], position: int) -> None:
    """Begin periods at `position` (events numbered after it are covered)."""
    rows = [
        {
            "school_id": school_id,
            "partner_id": partner_id,
            "category": category,
            "from_seq": position,
            "until_seq": None,
        }
        for (school_id, partner_id), categories in gained.items()
        for category in sorted(categories)
    ]
    if rows:
        await connection.execute(insert(SCOPE_PERIODS), rows)


def in_scope_when_recorded(
    events: Any, partner_id: int, row_categories: Mapping[str, Any], updated: str
) -> ColumnElement[bool]:
    """SQL: the event (a row of `events`, the change events table) fell inside the partner's scope when it
    was recorded: the category its entity's rows need was in a period covering it, and for an update at
    least one of the categories that changed (so a field granted later never names earlier changes)."""
    row_category = case(
        {name: category.name for name, category in row_categories.items()}, value=events.entity_type
    )
    return and_(
        _covered(events, partner_id, lambda category: category == row_category),
        or_(
            events.kind != updated,
            _json_length(events.categories) == 0,
            _covered(events, partner_id, lambda category: json_list_has(events.categories, category)),
        ),
    )


def _covered(events: Any, partner_id: int, matches: Any) -> ColumnElement[bool]:
    period = SCOPE_PERIODS.alias("held")
    return exists().where(
        period.c.partner_id == partner_id,
        period.c.school_id == events.school_id,
        matches(period.c.category),
        period.c.from_seq < events.seq,
        or_(period.c.until_seq.is_(None), events.seq <= period.c.until_seq),
    )


class json_list_has(FunctionElement[bool]):  # noqa: N801 - reads as the SQL function it compiles to
    """SQL: whether a JSON list of strings holds a value (compiled per engine below)."""

    type = Boolean()
    name = "json_list_has"
    inherit_cache = True


class _json_length(FunctionElement[int]):  # noqa: N801 - reads as the SQL function it compiles to
    """SQL: the length of a JSON list (compiled per engine below)."""

    name = "json_length"
    inherit_cache = True


@compiles(json_list_has, "sqlite")
def _has_sqlite(element: json_list_has, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = (compiler.process(clause, **kw) for clause in element.clauses)
    # Both parts are compiled SQL expressions (bound parameters stay parameters), never caller text.
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {value})"  # noqa: S608


@compiles(json_list_has, "postgresql")
def _has_postgresql(element: json_list_has, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = (compiler.process(clause, **kw) for clause in element.clauses)
    # An equality with the list's elements lets the period's index match the category (`JSONB @>` was
    # checked on every period of the school: a third of a feed page's statement, issue 14).
    return f"({value} = ANY (ARRAY(SELECT json_array_elements_text(CAST({column} AS JSON)))))"


@compiles(_json_length, "sqlite")
def _length_sqlite(element: _json_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_array_length({compiler.process(element.clauses, **kw)})"


@compiles(_json_length, "postgresql")
def _length_postgresql(element: _json_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_array_length(CAST({compiler.process(element.clauses, **kw)} AS JSON))"
