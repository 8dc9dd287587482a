"""People who leave a school and come back (or move to another school of the same board) are the same person:
every partner sees the same ids and pseudonyms as before, so their learning results are not orphaned.

The scenario of issue 9 end to end through the import entry point (`sync_school`), read back through the
graph as two partners; and the guards: a LAS key reused for another child (another ECK-iD) and a LAS key at
a school of another board never make two people one.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from auth.categories import DataCategory
from tests.schema.test_feed import (
    grant,
    group,
    import_school,
    new_board,
    new_partner,
    new_school,
    read_feed,
    school_file,
    scope_of_partner,
    student,
    teacher,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import Scope
    from datasources.school_files.model import SchoolFile
    from settings import Settings
    from tests.schema.conftest import Run

GRANTED = [
    DataCategory.STUDENT_BASIC,
    DataCategory.STUDENT_NAME,
    DataCategory.STAFF_BASIC,
    DataCategory.STAFF_NAME,
    DataCategory.GROUP_BASIC,
]
PEOPLE = (
    "{ schools(first: 10) { edges { node { code"
    " students(first: 100) { edges { node { id pseudonym firstName lastName } } }"
    " staff(first: 100) { edges { node { id pseudonym firstName lastName } } } } } } }"
)
NODE = "query($id: ID!) { node(id: $id) { __typename id ... on Student { pseudonym firstName } } }"

#: (school code, first name, last name) -> (id, pseudonym), as one partner sees them.
Seen = dict[tuple[str, str, str], tuple[str, str]]


def _students(keys: range, **fields: Any) -> list[Any]:
    return [student(f"L{index}", first_name=f"Kind{index}", **fields) for index in keys]


def _roster(code: str, students: list[Any], staff: list[Any] | None = None) -> SchoolFile:
    return school_file(
        code,
        groups=[group("G1")],
        students=students,
        staff=staff if staff is not None else [teacher("T1", first_name="Anna"), teacher("T2")],
    )


async def _seen(run: Run, scope: Scope) -> Seen:
    result = await run(PEOPLE, scope=scope)
    assert result["errors"] == [], result["errors"]
    seen: Seen = {}
    for edge in result["data"]["schools"]["edges"]:
        school = edge["node"]
        for connection in ("students", "staff"):
            for person in school[connection]["edges"]:
                node = person["node"]
                seen[(school["code"], node["firstName"], node["lastName"])] = (node["id"], node["pseudonym"])
    return seen


async def _partners(
    engine: AsyncEngine, settings: Settings, school_ids: list[int]
) -> tuple[tuple[int, Scope], tuple[int, Scope]]:
    """Two partners (one in the ECK chain, one not), each granted the same categories at the schools."""
    found = []
    for eck_chain in (True, False):
        partner_id, client_id = await new_partner(engine, eck_chain=eck_chain)
        for school_id in school_ids:
            await grant(engine, school_id, partner_id, GRANTED)
        found.append((partner_id, await scope_of_partner(engine, settings, client_id)))
    return found[0], found[1]


async def test_thirty_students_who_leave_and_come_back_keep_every_partners_ids_and_pseudonyms(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code = await new_school(engine, await new_board(engine))
    full = _roster(code, _students(range(40)))
    await import_school(engine, full)
    first, second = await _partners(engine, settings, [school_id])
    before = [await _seen(run, scope) for _, scope in (first, second)]
    _, cursor = await read_feed(run, first[1])
    leaving = {(code, f"Kind{index}", "Jansen") for index in range(10, 40)}
    assert leaving <= before[0].keys()
    assert set(before[0].values()).isdisjoint(before[1].values())  # per-partner values

    await import_school(engine, _roster(code, _students(range(10))))  # confirmed: 30 of 40 leave
    gone = await _seen(run, first[1])
    assert leaving.isdisjoint(gone)
    await import_school(engine, full)

    for (_, scope), seen_before in zip((first, second), before, strict=True):
        after = await _seen(run, scope)
        assert after == seen_before  # the 30 (and everyone else) have exactly their ids and pseudonyms
        for key in sorted(leaving)[:3]:
            found = await run(NODE, {"id": seen_before[key][0]}, scope=scope)
            assert found["data"]["node"] == {
                "__typename": "Student",
                "id": seen_before[key][0],
                "pseudonym": seen_before[key][1],
                "firstName": key[1],
            }
    # The feed told the partner to delete them, and now that they are back again, under the same ids.
    events, _ = await read_feed(run, first[1], cursor)
    ids = {before[0][key][0] for key in leaving}
    deleted = [event["entityId"] for event in events if event["kind"] == "DELETED"]
    created = [event["entityId"] for event in events if event["kind"] == "CREATED"]
    assert sorted(deleted) == sorted(created) == sorted(ids)


async def test_staff_who_leave_and_come_back_keep_their_ids_by_las_key_or_by_school_address(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code = await new_school(engine, await new_board(engine))
    anna, bram = teacher("T1", first_name="Anna"), teacher("T2")
    await import_school(engine, _roster(code, _students(range(3)), [anna, bram]))
    first, second = await _partners(engine, settings, [school_id])
    before = [await _seen(run, scope) for _, scope in (first, second)]

    await import_school(engine, _roster(code, _students(range(3)), []))
    # Anna comes back under the same key; Bram under a new key, known by his school address.
    back = [anna, dataclasses.replace(bram, key="T20")]
    await import_school(engine, _roster(code, _students(range(3)), back))

    for (_, scope), seen_before in zip((first, second), before, strict=True):
        assert await _seen(run, scope) == seen_before


async def test_a_child_who_moves_to_another_school_of_the_same_board_keeps_their_ids(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    board = await new_board(engine)
    (old_id, old), (new_id, new) = await new_school(engine, board), await new_school(engine, board)
    # L1 has an ECK-iD; L2 has none and is known by the LAS key the board's LAS keeps.
    movers = [student("L1", first_name="Kind1"), student("L2", first_name="Kind2", eck_id=None)]
    await import_school(engine, _roster(old, [*movers, *_students(range(3, 10))]))
    await import_school(engine, _roster(new, _students(range(20, 25))))
    first, second = await _partners(engine, settings, [old_id, new_id])
    before = [await _seen(run, scope) for _, scope in (first, second)]

    await import_school(engine, _roster(old, _students(range(3, 10))))
    await import_school(engine, _roster(new, [*movers, *_students(range(20, 25))]))

    for (_, scope), seen_before in zip((first, second), before, strict=True):
        after = await _seen(run, scope)
        for name in ("Kind1", "Kind2"):
            assert (old, name, "Jansen") not in after
            assert after[(new, name, "Jansen")] == seen_before[(old, name, "Jansen")]


async def test_a_las_key_reused_for_a_child_with_another_eck_id_is_a_new_person(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code = await new_school(engine, await new_board(engine))
    await import_school(engine, _roster(code, _students(range(5))))
    first, second = await _partners(engine, settings, [school_id])
    before = [await _seen(run, scope) for _, scope in (first, second)]

    await import_school(engine, _roster(code, _students(range(4))))
    # The LAS hands L4 to another child, with an ECK-iD of its own (or, new to the chain, none yet).
    other = student("L4", first_name="Kind4", eck_id="https://ketenid.nl/201703/" + "f" * 64)
    await import_school(engine, _roster(code, [*_students(range(4)), other]))
    newcomer = [await _seen(run, scope) for _, scope in (first, second)]
    await import_school(engine, _roster(code, _students(range(4))))
    await import_school(
        engine, _roster(code, [*_students(range(4)), dataclasses.replace(other, eck_id=None)])
    )
    without_eck_id = [await _seen(run, scope) for _, scope in (first, second)]

    key = (code, "Kind4", "Jansen")
    for index in range(2):
        values = {before[index][key], newcomer[index][key], without_eck_id[index][key]}
        assert len(values) == 3  # three children, three identities
        assert {k: v for k, v in newcomer[index].items() if k != key} == {
            k: v for k, v in before[index].items() if k != key
        }


async def test_a_school_of_another_board_does_not_match_by_las_key(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    (old_id, old), (other_id, other) = (
        await new_school(engine, await new_board(engine)),
        await new_school(engine, await new_board(engine)),
    )
    child = student("L1", first_name="Kind1", eck_id=None)
    await import_school(engine, _roster(old, [child, *_students(range(2, 6))]))
    await import_school(engine, _roster(other, _students(range(10, 15))))
    first, second = await _partners(engine, settings, [old_id, other_id])
    before = [await _seen(run, scope) for _, scope in (first, second)]

    await import_school(engine, _roster(old, _students(range(2, 6))))
    await import_school(engine, _roster(other, [child, *_students(range(10, 15))]))

    for (_, scope), seen_before in zip((first, second), before, strict=True):
        after = await _seen(run, scope)
        assert after[(other, "Kind1", "Jansen")] != seen_before[(old, "Kind1", "Jansen")]
