"""How partners hear of a lifecycle operation: ordinary feed events, for each partner by what it held
before and may read after.

For an entity that moved from a source to the target (a merger's or a split's people, groups and
licenses), per partner:
- it held the entity at the source and may read it at the target: UPDATED at the target (the same id and
  pseudonym; its school changed), after a LEFT_SCOPE of the categories it lost, if any;
- it held it at the source only: LEFT_SCOPE at the source (delete it), or UPDATED there for a member who
  also stays at the source (a teacher of moving and staying groups: fewer groups there);
- it may read it at the target only: ENTERED_SCOPE at the target.
The schools' own changes of scope (a source that merged away, a target with copied consents, a closure,
another board's DPA) are `bring_in_line`'s, as for every other cause. The order is the one a client can
apply: the moved entities' departures, the target's change of scope, the moved entities' arrivals, and
last the sources' change of scope (a School's LEFT_SCOPE then no longer covers what moved on).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from datasources.feed import numbering, recording, scope_history
from datasources.feed.events import ENTERED_SCOPE, LEFT_SCOPE, UPDATED, ChangeEntry
from datasources.feed.scope_changes import bring_in_line, disclosed_now
from datasources.store.tables import LICENSES, PRODUCTS

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection

    from datasources.feed.scope_history import Pair
    from datasources.lifecycle.moves import Moved

#: Per moved entity type: the category its rows need, and all the categories its fields fall under.
_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    "Group": ("GROUP_BASIC", frozenset({"GROUP_BASIC"})),
    "Student": ("STUDENT_BASIC", frozenset({"STUDENT_BASIC", "STUDENT_NAME", "STUDENT_DEMOGRAPHICS"})),
    "StaffMember": ("STAFF_BASIC", frozenset({"STAFF_BASIC", "STAFF_NAME", "STAFF_COMMUNICATION"})),
    "License": ("LICENSE", frozenset({"LICENSE"})),
}


class Announcer:
    """Remembers what partners held at the schools before an operation changed anything, and records
    the events once it is done (`finish`)."""

    def __init__(self, school_ids: Sequence[int], *, require_dpa: bool, now: dt.datetime) -> None:
        self._schools = sorted(set(school_ids))
        self._require_dpa = require_dpa
        self._now = now
        self._held: dict[Pair, frozenset[str]] = {}
        self._first_seq = 0

    async def start(self, connection: AsyncConnection) -> None:
        """Take note of what each partner holds now (call before any change)."""
        self._held = await scope_history.held(connection, self._schools)
        self._first_seq = await numbering.current_seq(connection)

    async def finish(
        self, connection: AsyncConnection, *, moved: Sequence[Moved] = (), target_id: int | None = None
    ) -> int:
        """Record the operation's events in order; returns how many events were recorded."""
        after = await disclosed_now(connection, self._schools, None, require_dpa=self._require_dpa)
        leaving: list[ChangeEntry] = []
        arriving: list[ChangeEntry] = []
        if moved and target_id is not None:
            owners = await _license_owners(
                connection, [m.row_id for m in moved if m.entity_type == "License"]
            )
            partners = sorted({partner for _, partner in set(self._held) | set(after)})
            for partner in partners:
                for entity in moved:
                    if entity.entity_type == "License" and owners.get(entity.row_id) != partner:
                        continue  # a partner sees its own products' licenses only
                    row_category, categories = _TYPES[entity.entity_type]
                    old = self._held.get((entity.source_id, partner), frozenset()) & categories
                    new = after.get((target_id, partner), frozenset()) & categories
                    kinds: list[tuple[list[ChangeEntry], int, int, str, frozenset[str]]] = []
                    row_id = entity.row_id
                    if row_category in old and row_category in new:
                        if old - new:
                            kinds.append((arriving, target_id, row_id, LEFT_SCOPE, old - new))
                        kinds.append((arriving, target_id, row_id, UPDATED, new))
                    elif row_category in old and entity.staying_row_id is not None:
                        # Still a member of the source, with fewer groups there: not gone.
                        kinds.append((arriving, entity.source_id, entity.staying_row_id, UPDATED, old))
                    elif row_category in old:
                        kinds.append((leaving, entity.source_id, row_id, LEFT_SCOPE, old))
                    elif row_category in new:
                        kinds.append((arriving, target_id, row_id, ENTERED_SCOPE, new))
                    for into, school_id, shown_row, kind, touched in kinds:
                        into.append(
                            ChangeEntry(
                                school_id,
                                entity.entity_type,
                                shown_row,
                                kind,
                                tuple(sorted(touched)),
                                person_id=entity.person_id,
                                partner_id=partner,
                            )
                        )
        skip = frozenset((entity.entity_type, entity.row_id) for entity in moved)
        await recording.record(connection, leaving, self._now)
        if target_id is not None:
            await bring_in_line(
                connection, school_ids=[target_id], require_dpa=self._require_dpa, now=self._now, skip=skip
            )
        await recording.record(connection, arriving, self._now)
        others = [school_id for school_id in self._schools if school_id != target_id]
        await bring_in_line(
            connection, school_ids=others, require_dpa=self._require_dpa, now=self._now, skip=skip
        )
        return await numbering.current_seq(connection) - self._first_seq


async def _license_owners(connection: AsyncConnection, license_ids: list[int]) -> dict[int, int]:
    if not license_ids:
        return {}
    rows = await connection.execute(
        select(LICENSES.c.id, PRODUCTS.c.partner_id)
        .join(PRODUCTS, PRODUCTS.c.id == LICENSES.c.product_id)
        .where(LICENSES.c.id.in_(license_ids))
    )
    return {row.id: row.partner_id for row in rows}
