"""Who a newcomer to a school is: the person the hub already knows by their keys, or a new person.

Removal ends a membership, never the person (ARCHITECTURE.md, "Identity"). When an import removes a student or
staff member, the keys they were known by at that school are kept as a past membership; a member an import
adds is looked up before a person is created, in this order:

1. the ECK-iD, among the current members of every school and the past members of every school (it is the
   chain's identifier of the child, not a school's; the hub already matched current members by it);
2. the LAS key, among the past members of the same school and of the schools merged into it (a merger
   keeps the keys people had at its sources, datasources.lifecycle);
3. for staff, the school e-mail address, among the past members of the same school;
4. the LAS key, among the past members of the other schools of the same board (whose LAS keeps its keys).

Partners' ids and pseudonyms are derived from the person (datasources.store.scoping), so giving a returning
child their person again is what gives every partner the same values as before. Merging two people into one
would show one child's learning results to another, so the guards lean towards a new person:
- a dummy key (`#...`) is never a match key;
- a key or address names whoever held it there last; when that holder was known by an ECK-iD the file does
  not carry (another one, or none), the LAS gave the key to another child: a new person;
- a record whose ECK-iD is known belongs to that person or, should that person be taken, to a new one;
- a person holds at most one membership of a school: never one who stays in the file, never two newcomers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import delete, insert, or_, select

from datasources.imports.plan import is_dummy
from datasources.store.tables import PAST_MEMBERSHIPS, PERSONS, SCHOOLS, STAFF_MEMBERS, STUDENTS

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from sqlalchemy import Select
    from sqlalchemy.ext.asyncio import AsyncConnection

Kind = Literal["student", "staff"]
#: Values per IN list, well inside both engines' limits on bound parameters.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class _Holder:
    """The person who last held a key at a school, with the ECK-iD they were known by there."""

    person_id: int
    eck_id: str | None


async def remember_leavers(
    connection: AsyncConnection, kind: Kind, school_id: int, leavers: Sequence[Any], now: dt.datetime
) -> None:
    """Keep the keys of the stored members an import removes from the school (their latest ones only)."""
    if not leavers:
        return
    past = PAST_MEMBERSHIPS.c
    for chunk in _chunks([leaver.person_id for leaver in leavers]):
        await connection.execute(
            delete(PAST_MEMBERSHIPS).where(
                past.school_id == school_id, past.kind == kind, past.person_id.in_(chunk)
            )
        )
    await connection.execute(
        insert(PAST_MEMBERSHIPS),
        [
            {
                "person_id": leaver.person_id,
                "kind": kind,
                "school_id": school_id,
                "las_key": None if is_dummy(leaver.key) else leaver.key,
                "eck_id": leaver.eck_id,
                "email": getattr(leaver, "email", None),
                "ended_at": now,
            }
            for leaver in leavers
        ],
    )


async def persons_for(
    connection: AsyncConnection,
    kind: Kind,
    school_id: int,
    newcomers: Sequence[Any],
    *,
    staying: Iterable[int],
) -> list[int]:
    """The person of each newcomer to the school, in order: the one known by their keys, or a new person.
    `staying` are the persons of the members the file keeps. Past memberships of the school that a returning
    person takes up again are forgotten (their membership holds the keys now)."""
    if not newcomers:
        return []
    known = await _known(connection, kind, school_id, newcomers)
    taken = set(staying)
    persons: list[int | None] = []
    for record in newcomers:
        person = _person_of(record, *known)
        if person is None or person in taken:
            persons.append(None)
        else:
            taken.add(person)
            persons.append(person)
    returning = [person for person in persons if person is not None]
    past = PAST_MEMBERSHIPS.c
    for chunk in _chunks(returning):
        await connection.execute(
            delete(PAST_MEMBERSHIPS).where(
                past.school_id == school_id, past.kind == kind, past.person_id.in_(chunk)
            )
        )
    missing = persons.count(None)
    created: Iterator[int] = iter(())
    if missing:
        now = dt.datetime.now(dt.UTC)
        rows = await connection.execute(
            insert(PERSONS).returning(PERSONS.c.id, sort_by_parameter_order=True),
            [{"created_at": now}] * missing,
        )
        created = iter([row.id for row in rows])
    return [person if person is not None else next(created) for person in persons]


_Known = tuple[dict[str, int], dict[str, _Holder], dict[str, _Holder], dict[str, _Holder]]


def _person_of(
    record: Any,
    by_eck_id: dict[str, int],
    key_here: dict[str, _Holder],
    email_here: dict[str, _Holder],
    key_on_board: dict[str, _Holder],
) -> int | None:
    """The person a newcomer is, by the first of its keys that names someone; None for nobody."""
    if record.eck_id and record.eck_id in by_eck_id:
        return by_eck_id[record.eck_id]
    key = None if is_dummy(record.key) else record.key
    email = getattr(record, "email", None)
    for holders, value in ((key_here, key), (email_here, email), (key_on_board, key)):
        holder = holders.get(value) if value else None
        if holder is not None:
            # Known by another ECK-iD (or by one the file lacks): the key now names another child.
            return holder.person_id if holder.eck_id in (None, record.eck_id) else None
    return None


async def _known(connection: AsyncConnection, kind: Kind, school_id: int, newcomers: Sequence[Any]) -> _Known:
    """Who the hub knows by the newcomers' ECK-iDs, LAS keys and (staff) addresses, as `_person_of` asks."""
    table = STUDENTS if kind == "student" else STAFF_MEMBERS
    past = PAST_MEMBERSHIPS.c
    eck_ids = sorted({record.eck_id for record in newcomers if record.eck_id})
    keys = sorted({record.key for record in newcomers if not is_dummy(record.key)})
    emails = sorted({email for record in newcomers if (email := getattr(record, "email", None))})
    board_id = await connection.scalar(select(SCHOOLS.c.board_id).where(SCHOOLS.c.id == school_id))

    by_eck_id: dict[str, int] = {}
    for chunk in _chunks(eck_ids):
        # A current membership first (the oldest, as the graph resolves a person), then the latest past one.
        current = (
            select(table.c.eck_id, table.c.person_id).where(table.c.eck_id.in_(chunk)).order_by(table.c.id)
        )
        for row in await connection.execute(current):
            by_eck_id.setdefault(row.eck_id, row.person_id)
        former = _latest(select(past.eck_id, past.person_id).where(past.kind == kind, past.eck_id.in_(chunk)))
        for row in await connection.execute(former):
            by_eck_id.setdefault(row.eck_id, row.person_id)

    key_here: dict[str, _Holder] = {}
    key_on_board: dict[str, _Holder] = {}
    for chunk in _chunks(keys):
        holders = _latest(
            select(past.las_key, past.person_id, past.eck_id, past.school_id, SCHOOLS.c.merged_into_id)
            .join(SCHOOLS, SCHOOLS.c.id == past.school_id)
            .where(
                past.kind == kind,
                past.las_key.in_(chunk),
                or_(SCHOOLS.c.board_id == board_id, SCHOOLS.c.merged_into_id == school_id),
            )
        )
        for row in await connection.execute(holders):
            here = school_id in (row.school_id, row.merged_into_id)
            found = key_here if here else key_on_board
            found.setdefault(row.las_key, _Holder(row.person_id, row.eck_id))

    email_here: dict[str, _Holder] = {}
    for chunk in _chunks(emails):
        holders = _latest(
            select(past.email, past.person_id, past.eck_id).where(
                past.kind == kind, past.school_id == school_id, past.email.in_(chunk)
            )
        )
        for row in await connection.execute(holders):
            email_here.setdefault(row.email, _Holder(row.person_id, row.eck_id))
    return by_eck_id, key_here, email_here, key_on_board


def _latest(statement: Select[Any]) -> Select[Any]:
    """Past memberships, the most recently ended first (so `setdefault` keeps the latest holder)."""
    return statement.order_by(PAST_MEMBERSHIPS.c.ended_at.desc(), PAST_MEMBERSHIPS.c.id.desc())


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
