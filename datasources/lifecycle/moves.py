"""Moving a school's groups, people and licenses to another school, keeping every row's identity.

A membership moves by changing its school: the row (and so its id) and its person stay, so partners'
ids and pseudonyms stay the same. Two things can stand in the way, and both are resolved without losing
anyone:
- the person is a member of the target already (a teacher at both schools): the moving row is folded
  into the one at the target (its group links and hand-given roles go over) and removed;
- the target (or another source) already uses the LAS key: the key is kept as a dummy (`#CODE:key`,
  never a match key) and the original key is remembered as a past membership of the source, where an
  import of the target finds it again (datasources.imports.identities: keys within the sources).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, insert, select, update

from datasources.imports.identities import remember_leavers
from datasources.store.tables import (
    ACCOUNT_LINKS,
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    HOME_ACTIVATION_CODES,
    HOME_LINKS,
    HOME_PIN_LINKS,
    LICENSE_GROUPS,
    LICENSES,
    PENDING_CHANGES,
    SCHOOL_FILE_YEARS,
    STAFF_ACCOUNT_ROLES,
    STAFF_MEMBERS,
    STUDENT_LOGINS,
    STUDENTS,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Sequence

    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection

    from datasources.imports.identities import Kind
    from datasources.lifecycle.guards import Location

_KEY_MAX = 100
#: A student login's username is at most this long (`student_logins.username`).
_USERNAME_MAX = 40


@dataclass(frozen=True, slots=True)
class Moved:
    """An entity that now belongs to the target: its row there, its person, and the school it left."""

    entity_type: str
    row_id: int
    person_id: int | None
    source_id: int
    #: For a member who also stays at the source (a teacher of moving and staying groups): the row there.
    staying_row_id: int | None = None


@dataclass(frozen=True, slots=True)
class _Leaver:
    """The keys a moved person had at the source, in the shape `remember_leavers` reads."""

    person_id: int
    key: str
    eck_id: str | None
    email: str | None


def _dummy_key(source: Location, key: str) -> str:
    return f"#{source.code}:{key}"[:_KEY_MAX]


async def move_groups(
    connection: AsyncConnection, group_ids: Sequence[int], source: Location, target_id: int
) -> list[Moved]:
    """Give the groups to the target (same rows, so the same ids for every partner). A LAS key that the
    target already uses in that school year gets the source's code as a suffix (the next import of the
    target replaces such a group by its own)."""
    if not group_ids:
        return []
    rows = (
        await connection.execute(
            select(GROUPS.c.id, GROUPS.c.school_year, GROUPS.c.las_key).where(GROUPS.c.id.in_(group_ids))
        )
    ).all()
    taken = {
        (row.school_year, row.las_key)
        for row in await connection.execute(
            select(GROUPS.c.school_year, GROUPS.c.las_key).where(GROUPS.c.school_id == target_id)
        )
    }
    for row in sorted(rows, key=lambda row: row.id):
        key = row.las_key
        if (row.school_year, key) in taken:
            key = f"{row.las_key}-{source.code}"[:_KEY_MAX]
        taken.add((row.school_year, key))
        await connection.execute(
            update(GROUPS).where(GROUPS.c.id == row.id).values(school_id=target_id, las_key=key)
        )
    return [Moved("Group", row.id, None, source.id) for row in sorted(rows, key=lambda row: row.id)]


async def move_members(
    connection: AsyncConnection,
    kind: Kind,
    row_ids: Sequence[int],
    source: Location,
    target_id: int,
    *,
    now: dt.datetime,
    copy_ids: Sequence[int] = (),
    copy_groups: Iterable[int] = (),
    renamed: list[tuple[str, str]] | None = None,
) -> list[Moved]:
    """Move the memberships `row_ids` (students or staff of `source`) to the target; `copy_ids` are staff
    who stay at the source and also become members of the target, taking their links to `copy_groups`
    along (a teacher of a group that moves and of one that stays). Returns the rows at the target; the
    student logins whose username the target used already are added to `renamed` (old, new)."""
    table = STUDENTS if kind == "student" else STAFF_MEMBERS
    entity_type = "Student" if kind == "student" else "StaffMember"
    wanted = sorted(set(row_ids) | set(copy_ids))
    if not wanted:
        return []
    rows = (await connection.execute(select(table).where(table.c.id.in_(wanted)).order_by(table.c.id))).all()
    at_target = {
        row.person_id: row
        for row in await connection.execute(
            select(*[table.c.id, table.c.person_id, *([table.c.roles] if kind == "staff" else [])]).where(
                table.c.school_id == target_id
            )
        )
    }
    keys_taken = set(await connection.scalars(select(table.c.las_key).where(table.c.school_id == target_id)))
    copying = set(copy_ids)
    moved: list[Moved] = []
    mapping: dict[int, int] = {}
    leavers: list[_Leaver] = []
    for row in rows:
        existing = at_target.get(row.person_id)
        if existing is not None:
            # Already a member of the target: that membership takes this one's links (and roles).
            mapping[row.id] = existing.id
            if kind == "staff":
                roles = sorted(set(existing.roles) | set(row.roles))
                await connection.execute(update(table).where(table.c.id == existing.id).values(roles=roles))
            if row.id not in copying:
                leavers.append(_Leaver(row.person_id, row.las_key, row.eck_id, getattr(row, "email", None)))
            staying = row.id if row.id in copying else None
            moved.append(Moved(entity_type, existing.id, row.person_id, source.id, staying))
            continue
        key = row.las_key
        if key in keys_taken:
            key = _dummy_key(source, key)
        keys_taken.add(key)
        if row.id in copying:
            values = {name: value for name, value in row._mapping.items() if name != "id"}
            inserted = await connection.execute(
                insert(table)
                .values(**(values | {"school_id": target_id, "las_key": key}))
                .returning(table.c.id)
            )
            new_id = int(inserted.scalar_one())
            mapping[row.id] = new_id
            moved.append(Moved(entity_type, new_id, row.person_id, source.id, row.id))
            continue
        leavers.append(_Leaver(row.person_id, row.las_key, row.eck_id, getattr(row, "email", None)))
        await connection.execute(
            update(table).where(table.c.id == row.id).values(school_id=target_id, las_key=key)
        )
        moved.append(Moved(entity_type, row.id, row.person_id, source.id))
    # The keys people had at the source, where an import of the target (or a return) recognises them.
    await remember_leavers(connection, kind, source.id, leavers, now)
    links, column = (
        (GROUP_STUDENTS, GROUP_STUDENTS.c.student_id)
        if kind == "student"
        else (
            GROUP_STAFF,
            GROUP_STAFF.c.staff_id,
        )
    )
    folded = {old: new for old, new in mapping.items() if old not in copying}
    await _repoint(connection, links, column, folded, None)
    await _repoint(connection, links, column, {old: mapping[old] for old in copying}, set(copy_groups))
    gone = list(folded)
    if kind == "student":
        carried = [entity.row_id for entity in moved if entity.row_id not in mapping.values()]
        (renamed if renamed is not None else []).extend(
            await move_logins(connection, carried, gone, target_id)
        )
    if gone:
        if kind == "staff":
            await connection.execute(delete(ACCOUNT_LINKS).where(ACCOUNT_LINKS.c.staff_member_id.in_(gone)))
        await connection.execute(delete(table).where(table.c.id.in_(gone)))
    return moved


async def move_logins(
    connection: AsyncConnection, student_ids: Sequence[int], folded_ids: Sequence[int], target_id: int
) -> list[tuple[str, str]]:
    """Take the hub logins of moved students (`student_ids`, now at the target) along: the username, the
    password or picture code and the home login stay the child's, so the printed login cards and the
    parents' PINs keep working. A username the target already uses gets a number (anna -> anna2); returns
    those renames (old, new), for the coordinator to print new cards. The logins of `folded_ids` (rows of
    people who are students of the target already, which are removed) go with their rows: the person
    keeps the target's own login."""
    if folded_ids:
        links = select(HOME_LINKS.c.id).where(HOME_LINKS.c.student_id.in_(folded_ids))
        await connection.execute(delete(HOME_PIN_LINKS).where(HOME_PIN_LINKS.c.home_link_id.in_(links)))
        for table in (HOME_LINKS, HOME_ACTIVATION_CODES, STUDENT_LOGINS):
            await connection.execute(delete(table).where(table.c.student_id.in_(folded_ids)))
    if not student_ids:
        return []
    moving = (
        await connection.execute(
            select(STUDENT_LOGINS.c.student_id, STUDENT_LOGINS.c.username)
            .where(STUDENT_LOGINS.c.student_id.in_(student_ids))
            .order_by(STUDENT_LOGINS.c.student_id)
        )
    ).all()
    taken = set(
        await connection.scalars(
            select(STUDENT_LOGINS.c.username).where(STUDENT_LOGINS.c.school_id == target_id)
        )
    )
    renamed: list[tuple[str, str]] = []
    for student_id, username in moving:
        name = username if username not in taken else _free_username(username, taken)
        taken.add(name)
        if name != username:
            renamed.append((username, name))
        await connection.execute(
            update(STUDENT_LOGINS)
            .where(STUDENT_LOGINS.c.student_id == student_id)
            .values(school_id=target_id, username=name)
        )
    return renamed


def _free_username(username: str, taken: set[str]) -> str:
    """`username` with the first number from 2 that makes it unused at the school."""
    number = 2
    while True:
        suffix = str(number)
        candidate = username[: _USERNAME_MAX - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


async def _repoint(
    connection: AsyncConnection, links: Table, column: Any, mapping: dict[int, int], groups: set[int] | None
) -> None:
    """Move group links from old members to new ones (only links to `groups`, if given), keeping a link
    the new member already has."""
    mapping = {old: new for old, new in mapping.items() if old != new}
    if not mapping:
        return
    statement = select(links).where(column.in_(list(mapping)))
    if groups is not None:
        statement = statement.where(links.c.group_id.in_(sorted(groups)))
    found = (await connection.execute(statement)).all()
    if not found:
        return
    member = column.key
    existing = {
        (row.group_id, row._mapping[member])
        for row in await connection.execute(
            select(links.c.group_id, column).where(column.in_(set(mapping.values())))
        )
    }
    for row in found:
        values = dict(row._mapping)
        old = values[member]
        await connection.execute(delete(links).where(links.c.group_id == row.group_id, column == old))
        if (row.group_id, mapping[old]) not in existing:
            existing.add((row.group_id, mapping[old]))
            await connection.execute(insert(links).values(**(values | {member: mapping[old]})))


async def drop_links_behind(connection: AsyncConnection, moved: Sequence[Moved], source_id: int) -> int:
    """Remove moved members' links to groups that stayed at the source (a split's composite groups that
    did not move); returns how many."""
    behind = select(GROUPS.c.id).where(GROUPS.c.school_id == source_id)
    removed = 0
    for links, column, entity_type in (
        (GROUP_STUDENTS, GROUP_STUDENTS.c.student_id, "Student"),
        (GROUP_STAFF, GROUP_STAFF.c.staff_id, "StaffMember"),
    ):
        ids = sorted({entity.row_id for entity in moved if entity.entity_type == entity_type})
        if ids:
            result = await connection.execute(
                delete(links).where(column.in_(ids), links.c.group_id.in_(behind))
            )
            removed += result.rowcount or 0
    return removed


async def move_licenses(connection: AsyncConnection, source: Location, target_id: int) -> list[Moved]:
    """A merger's licenses go to the target with their couplings and year-level rules."""
    ids = sorted(await connection.scalars(select(LICENSES.c.id).where(LICENSES.c.school_id == source.id)))
    if ids:
        await connection.execute(update(LICENSES).where(LICENSES.c.id.in_(ids)).values(school_id=target_id))
    return [Moved("License", license_id, None, source.id) for license_id in ids]


async def end_couplings(connection: AsyncConnection, group_ids: Sequence[int], source_id: int) -> int:
    """A split's moved groups leave the source's licenses: their couplings end; returns how many."""
    if not group_ids:
        return 0
    licenses = select(LICENSES.c.id).where(LICENSES.c.school_id == source_id)
    result = await connection.execute(
        delete(LICENSE_GROUPS).where(
            LICENSE_GROUPS.c.group_id.in_(sorted(group_ids)), LICENSE_GROUPS.c.license_id.in_(licenses)
        )
    )
    return result.rowcount or 0


async def move_roles(connection: AsyncConnection, source_id: int, target_id: int) -> int:
    """A merger's hub roles (coordinators and the like) go to the target; returns how many."""
    rows = (
        await connection.execute(
            select(STAFF_ACCOUNT_ROLES).where(STAFF_ACCOUNT_ROLES.c.school_id == source_id)
        )
    ).all()
    held = {
        (row.account_id, row.role)
        for row in await connection.execute(
            select(STAFF_ACCOUNT_ROLES).where(STAFF_ACCOUNT_ROLES.c.school_id == target_id)
        )
    }
    await connection.execute(delete(STAFF_ACCOUNT_ROLES).where(STAFF_ACCOUNT_ROLES.c.school_id == source_id))
    new = [
        {"account_id": row.account_id, "school_id": target_id, "role": row.role}
        for row in rows
        if (row.account_id, row.role) not in held
    ]
    if new:
        await connection.execute(insert(STAFF_ACCOUNT_ROLES), new)
    return len(rows)


async def carry_file_years(connection: AsyncConnection, source_id: int, target_id: int) -> None:
    """The school years the source had files of count at the target too, so the moved groups are current
    there exactly as they were at the source (datasources.store.current)."""
    years = SCHOOL_FILE_YEARS.c
    have = set(await connection.scalars(select(years.school_year).where(years.school_id == target_id)))
    rows = (await connection.execute(select(SCHOOL_FILE_YEARS).where(years.school_id == source_id))).all()
    new = [
        {"school_id": target_id, "school_year": row.school_year, "received_at": row.received_at}
        for row in rows
        if row.school_year not in have
    ]
    if new:
        await connection.execute(insert(SCHOOL_FILE_YEARS), new)


async def carry_pending(
    connection: AsyncConnection, moved: Sequence[Moved], source_id: int, target_id: int
) -> None:
    """Events that fall due later (a coming year's group) go with the moved entity."""
    for entity_type in sorted({entity.entity_type for entity in moved}):
        ids = sorted({entity.row_id for entity in moved if entity.entity_type == entity_type})
        await connection.execute(
            update(PENDING_CHANGES)
            .where(
                and_(
                    PENDING_CHANGES.c.school_id == source_id,
                    PENDING_CHANGES.c.entity_type == entity_type,
                    PENDING_CHANGES.c.entity_id.in_(ids),
                )
            )
            .values(school_id=target_id)
        )
