"""Reading a viewer's feed: the events after a cursor that the viewer's scope lets it see, a page at a time.

The scope is applied twice: in the query (which schools' events, and which partner's own), and per event
(`_visible`: the row category, and for an update the categories that changed), so that a revoke stops the
feed at once and withheld fields are not even named. For a partner the query also asks the feed's memory
of scope (`scope_history`): a school's event is shown only if its categories were in the partner's scope
when it was recorded, so rewinding after a widening, or after a DPA was signed, reveals nothing earlier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Select, Text, and_, cast, or_, select, true

from auth.categories import DataCategory
from datasources.feed.events import LEFT_SCOPE, UPDATED
from datasources.feed.scope_history import in_scope_when_recorded
from datasources.store.tables import CHANGE_COUNTER, CHANGE_EVENTS, SCHOOLS, SCOPE_PERIODS
from errors import BadUserInput

if TYPE_CHECKING:
    import datetime as dt

    from auth.policy import Scope
    from datasources.store.reader import Reader

#: The category without which a viewer sees no row of an entity type at all.
ROW_CATEGORY: dict[str, DataCategory] = {
    "School": DataCategory.SCHOOL_BASIC,
    "Group": DataCategory.GROUP_BASIC,
    "Student": DataCategory.STUDENT_BASIC,
    "StaffMember": DataCategory.STAFF_BASIC,
    "License": DataCategory.LICENSE,
}

#: The fewest events a statement of `feed_page` asks for: a page needs `first` visible events and one
#: more (to tell whether more follow), so it asks for that many; when some of them are not the viewer's,
#: the next statement asks for what is still missing, but never fewer than this.
_SMALLEST_BATCH = 100


class ChangeRecord(NamedTuple):
    """A recorded event as the feed reads it (a tuple: a page builds a thousand of them)."""

    seq: int
    occurred_at: dt.datetime
    school_id: int
    school_code: str
    entity_type: str
    entity_id: int
    person_id: int | None
    kind: str
    categories: tuple[str, ...]
    partner_id: int | None


@dataclass
class FeedPage:
    """Events of one feed page, in order, and whether more follow."""

    events: list[ChangeRecord] = field(default_factory=list)
    has_next: bool = False
    #: Where the next page starts: the last event returned when more follow, else the last event read
    #: (which may be one the viewer may not see: reading it again next time would find nothing new).
    last_seq: int = 0


def _visible(scope: Scope, event: ChangeRecord) -> bool:
    """Whether an event is within the scope now: its school visible, its row category granted, and for an
    update at least one category of what changed (so withheld fields are not even named). Consent events
    are written for the partner they concern; of those, LEFT_SCOPE always reaches it (it must delete), but
    what enters its scope only while the school may disclose (a board without a signed DPA, or a closed
    school, discloses nothing, not even the ids of what a grant would open)."""
    if event.partner_id is not None and event.kind == LEFT_SCOPE:
        return True
    granted = scope.categories_for(event.school_id)
    row_category = ROW_CATEGORY.get(event.entity_type)
    if row_category is None or row_category not in granted:
        return False
    if event.partner_id is not None:
        return True
    if event.kind == UPDATED and event.categories:
        return any(
            name in DataCategory.__members__ and DataCategory[name] in granted for name in event.categories
        )
    return True


def _events_after(scope: Scope, columns: tuple[Any, ...], position: int) -> Select[Any]:
    """The statement of the events after `position` that the viewer's scope may hold (in order, unlimited)."""
    e = CHANGE_EVENTS.c
    statement = select(*columns).join(SCHOOLS, SCHOOLS.c.id == e.school_id).where(e.seq > position)
    if scope.partner_id is not None:
        # Its own events, and those of the schools it ever had in scope: read (and skipped by `feed_page` when
        # out of scope then or now) so that the end cursor moves past them.
        ever = select(SCOPE_PERIODS.c.school_id).where(SCOPE_PERIODS.c.partner_id == scope.partner_id)
        statement = statement.where(
            or_(
                e.partner_id == scope.partner_id,
                and_(e.partner_id.is_(None), e.school_id.in_(ever)),
            )
        )
    elif not scope.is_unrestricted:
        visible = sorted(scope.visible_school_ids or ())
        statement = statement.where(e.partner_id.is_(None), e.school_id.in_(visible))
    else:
        statement = statement.where(e.partner_id.is_(None))
    return statement.order_by(e.seq)


async def feed_page(reader: Reader, scope: Scope, after: int, first: int) -> FeedPage:
    """The next events after `after` that this viewer may see, at most `first` (plus whether more follow)."""
    pruned = await reader.rows(select(CHANGE_COUNTER.c.pruned_through).where(CHANGE_COUNTER.c.id == 1))
    if pruned and after < int(pruned[0].pruned_through) and after != 0:
        raise BadUserInput(
            "this cursor is older than the feed keeps events: resync with a full query, then follow the feed"
            " again from its start (without `after`)"
        )
    e = CHANGE_EVENTS.c
    # The categories as their JSON text, decoded once per distinct text below: a page's events repeat a
    # few lists, and the driver's decoding of every event's JSON was ~5% of a page.
    columns: tuple[Any, ...] = (
        e.seq, e.occurred_at, e.school_id, SCHOOLS.c.code, e.entity_type, e.entity_id, e.person_id, e.kind,
        cast(e.categories, Text), e.partner_id,
    )  # fmt: skip
    if scope.partner_id is not None:
        # A school's event counts only if it was in the partner's scope when it was recorded (the feed's
        # memory of scope); the partner's own events were written for its scope as it changed.
        then = or_(
            e.partner_id.is_not(None), in_scope_when_recorded(e, scope.partner_id, ROW_CATEGORY, UPDATED)
        )
        columns += (then.label("in_scope_then"),)
    else:
        columns += (true().label("in_scope_then"),)
    page = FeedPage(last_seq=after)
    position = after
    # `_visible` depends on nothing but these fields of an event, and a page repeats few combinations of
    # them (a school's students' updates): decided once per combination, not once per event.
    verdicts: dict[tuple[Any, ...], bool] = {}
    decoded: dict[str, tuple[str, ...]] = {}
    while len(page.events) <= first:
        statement = _events_after(scope, columns, position)
        batch = max(first + 1 - len(page.events), _SMALLEST_BATCH)
        rows = await reader.rows(statement.limit(batch))
        for row in rows:
            position = row.seq
            if not row.in_scope_then:
                continue
            text = row[8]
            categories = decoded.get(text)
            if categories is None:
                categories = decoded[text] = tuple(json.loads(text))
            # Positional (the columns' order is the record's): naming ten attributes of a row cost more
            # than the rest of this loop.
            event = ChangeRecord._make((*row[:8], categories, row.partner_id))
            verdict_key = (event.school_id, event.entity_type, event.kind, categories, event.partner_id)
            visible = verdicts.get(verdict_key)
            if visible is None:
                visible = verdicts[verdict_key] = _visible(scope, event)
            if visible:
                page.events.append(event)
                if len(page.events) > first:
                    break
        if len(rows) < batch:
            break
    page.has_next = len(page.events) > first
    page.events = page.events[:first]
    page.last_seq = page.events[-1].seq if page.has_next else position
    return page
