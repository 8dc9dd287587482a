"""The change feed in the graph: `changes(after:)`, its events, and deletion confirmations."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any, Final, cast

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from datasources.feed.acknowledgements import DeletionStatus
from datasources.feed.reading import ChangeRecord, FeedPage
from datasources.store.pagination import FEED, decode_cursor, encode_cursor
from resolvers import changes, partners
from schema.classification import public, resolves_public
from schema.context import Info
from schema.enums import DataCategory
from schema.groups import Group
from schema.licenses import License, Partner
from schema.people import StaffMember, Student
from schema.relay import Node, PageInfo, to_global_id
from schema.schools import School


@strawberry.enum(description="What happened to an entity, as one partner's feed tells it.")
class ChangeKind(enum.Enum):
    """The kind of a change."""

    CREATED = strawberry.enum_value("CREATED", description="The entity is new: store `node`.")
    UPDATED = strawberry.enum_value("UPDATED", description="The entity changed: replace it with `node`.")
    DELETED = strawberry.enum_value(
        "DELETED", description="The entity is gone at its school: delete everything you hold of it."
    )
    ENTERED_SCOPE = strawberry.enum_value(
        "ENTERED_SCOPE",
        description="You may now see the entity, or more of it (a consent, a widened grant): store `node`.",
    )
    LEFT_SCOPE = strawberry.enum_value(
        "LEFT_SCOPE",
        description=(
            "You may no longer see (part of) the entity: delete the fields of each category in"
            " `lostCategories`, or the entity itself (see `Change.lostCategories`)."
        ),
    )


_CONVERT: dict[str, Any] = {
    "School": School.from_record,
    "Group": Group.from_record,
    "Student": Student.from_record,
    "StaffMember": StaffMember.from_record,
    "License": License.from_record,
}


#: What `Change.prefetched` holds when the event's page did not read its node (`node` then reads it).
UNREAD: Final = object()


def _cursor(root: Change, info: Info) -> str:
    # Sealed for a partner only when asked for: one AES-SIV operation per event that selects it.
    return encode_cursor(info.context.scope, root.record.seq, FEED)


def _edge_cursor(root: ChangeEdge, info: Info) -> str:
    return encode_cursor(info.context.scope, root.node.record.seq, FEED)


@strawberry.type(description="One event of a feed.")
class Change:
    """An event: apply it in order; for DELETED and LEFT_SCOPE delete what it names."""

    record: strawberry.Private[ChangeRecord]
    cursor: str = public("The event's cursor: pass it as `after` to continue after it.", resolver=_cursor)
    kind: ChangeKind = public(
        "What happened: CREATED, UPDATED and ENTERED_SCOPE carry the entity's state in `node`; DELETED means"
        " forget the entity; LEFT_SCOPE means forget what `lostCategories` names."
    )
    entity_type: str = public(
        "The GraphQL type of the entity: School, Group, Student, StaffMember or License."
    )
    entity_id: strawberry.ID = public(
        "The entity's global id as you see it (the same as its `id` in a query)."
    )
    school_code: str = public("The school the entity belongs to.")
    lost_categories: list[DataCategory] = public(
        "For LEFT_SCOPE: the categories you lost (empty for other kinds). Delete the fields under them (each"
        " `DataCategory` value lists the fields it opens, and each field says its category), and"
        " the entity itself when the category its rows need is among them (SCHOOL_BASIC for a School,"
        " GROUP_BASIC for a Group, STUDENT_BASIC for a Student, STAFF_BASIC for a StaffMember, LICENSE for a"
        " License). A School's LEFT_SCOPE speaks for the whole school: apply it to everything you hold of"
        " that school (after a revoke, which takes SCHOOL_BASIC, nothing of it remains)."
    )
    occurred_at: dt.datetime = public("When the change was recorded.")
    #: The record of the entity as the event's page read it with all the page's nodes
    #: (`changes.nodes`: None when it is gone), or UNREAD.
    prefetched: strawberry.Private[object] = UNREAD

    @resolves_public(
        "The entity's current state, minimised to your grants, for CREATED, UPDATED and ENTERED_SCOPE: keep"
        " it as the entity's state. Null for DELETED and LEFT_SCOPE, and when the entity has gone or left"
        " your scope since (a later event says so: skip this one)."
    )
    def node(self, info: Info) -> Node | None:
        # Synchronous when the page read its nodes: a coroutine (and a task to gather it) per event of a
        # page of 1,000 cost more than reading the nodes. Otherwise (a subscription's event, a `node` under
        # a directive) it hands back an awaitable, which strawberry and graphql-core await like an async
        # resolver's result.
        if self.prefetched is not UNREAD:
            return self._as_node(self.prefetched)
        return cast("Node | None", self._read_node(info))

    async def _read_node(self, info: Info) -> Node | None:
        return self._as_node(await changes.node(info.context, self.record))

    def _as_node(self, record: Any) -> Node | None:
        if record is None:
            return None
        node: Node = _CONVERT[self.record.entity_type](record)
        # A row may hold someone else by now (SQLite gives a new row the id of a deleted last row): a
        # student's or staff member's id comes from the person, so a node of another person is not this one.
        return node if node.id == self.entity_id else None


@strawberry.type(description="A page of the feed, in order.")
class ChangeEdge:
    """An event with its cursor."""

    cursor: str = public("The event's cursor.", resolver=_edge_cursor)
    node: Change = public("The event.")


@strawberry.type(description="A page of your change feed; keep `pageInfo.endCursor` and continue after it.")
class ChangeConnection:
    """Events in order."""

    edges: list[ChangeEdge] = public("The events of this page, oldest first.")
    page_info: PageInfo = public("Whether more events follow; `endCursor` continues the feed.")


def change_of(info: Info, event: ChangeRecord, prefetched: object = UNREAD) -> Change:
    """The GraphQL event of a recorded change, with identifiers as this viewer sees them (and its node's
    record when its page read it)."""
    return Change(
        record=event,
        kind=ChangeKind(event.kind),
        entity_type=event.entity_type,
        entity_id=to_global_id(event.entity_type, changes.entity_id(info.context, event)),
        school_code=event.school_code,
        lost_categories=[DataCategory[name] for name in event.categories]
        if event.kind == "LEFT_SCOPE"
        else [],
        occurred_at=event.occurred_at,
        prefetched=prefetched,
    )


def selects_every_node(info: Info) -> bool:
    """Whether a `changes` query asks for the node of every event of its page: `edges { node { node } }`
    with no `@skip` or `@include` on the way. A conditional `node` is read event by event instead, so that
    nothing is read (and audited) that is not sent."""
    level: list[Selection] = [selection for field in info.selected_fields for selection in field.selections]
    for name in ("edges", "node", "node"):
        level = _inside_fields_named(level, name)
        if not level:
            return False
    return True


def _inside_fields_named(selections: list[Selection], name: str) -> list[Selection]:
    """The selections inside the fields called `name` among `selections` (through fragments), leaving out
    whatever stands under a directive."""
    inside: list[Selection] = []
    pending = list(selections)
    while pending:
        selection = pending.pop()
        if selection.directives:
            continue
        if isinstance(selection, SelectedField):
            if selection.name == name:
                inside.extend(selection.selections)
        else:
            pending.extend(selection.selections)
    return inside


async def feed_connection(info: Info, page: FeedPage, after: str | None) -> ChangeConnection:
    """The feed page as a connection, its nodes read for the whole page at once (one statement per entity
    type) when the query asks for every event's node."""
    found = await changes.nodes(info.context, page.events) if selects_every_node(info) else {}
    return connection_of(info, page, after, found)


def connection_of(
    info: Info, page: FeedPage, after: str | None, nodes: Mapping[int, object] | None = None
) -> ChangeConnection:
    """The feed page as a connection (with the records of its nodes by event number, when read). The end
    cursor continues after everything the page read, including events this viewer may not see, so the next
    call does not read them again (with nothing read it stays where the reader was)."""
    scope = info.context.scope
    found = nodes or {}
    edges = [ChangeEdge(node=change_of(info, event, found.get(event.seq, UNREAD))) for event in page.events]
    moved = page.last_seq > (decode_cursor(scope, after, FEED) if after else 0)
    return ChangeConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=after is not None,
            start_cursor=encode_cursor(scope, page.events[0].seq, FEED) if page.events else after,
            end_cursor=encode_cursor(scope, page.last_seq, FEED) if moved else after,
        ),
    )


@strawberry.type(description="A partner's confirmation that it deleted what left its scope at a school.")
class DeletionAcknowledgement:
    """A confirmation."""

    school: School | None = public("The school.")
    through_cursor: str = public("The feed position the confirmation covers.")
    acknowledged_at: dt.datetime = public("When the partner confirmed.")


@strawberry.type(
    description="Whether a partner that lost (part of) its scope at this school confirmed deleting it."
)
class DeletionState:
    """Deletion confirmation per partner."""

    record: strawberry.Private[DeletionStatus]
    left_scope_at: dt.datetime = public("When the partner last lost scope here.")
    confirmed: bool = public("Whether the partner confirmed deleting everything it lost, up to that moment.")
    confirmed_at: dt.datetime | None = public("When it confirmed.")

    @resolves_public("The partner.")
    async def partner(self, info: Info) -> Partner | None:
        record = await partners.partner_by_id(info.context, self.record.partner_id)
        return None if record is None else Partner.from_record(record)

    @classmethod
    def from_record(cls, record: DeletionStatus) -> DeletionState:
        """The GraphQL object of a deletion status."""
        return cls(
            record=record,
            left_scope_at=record.left_scope_at,
            confirmed=record.confirmed_at is not None,
            confirmed_at=record.confirmed_at,
        )
