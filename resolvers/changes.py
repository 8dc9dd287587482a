"""The change feed: a viewer's events in order, the node each one names, and confirming deletions."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from auth.permissions import may_acknowledge_deletion, may_read_feed
from datasources.access.accounts import school_id_by_code
from datasources.feed import acknowledgements, events, reading, schedule
from datasources.store.pagination import FEED, PageArgs, decode_cursor
from datasources.store.scoping import person_public_id, public_id
from errors import Forbidden, NotFound

if TYPE_CHECKING:
    from collections.abc import Sequence

    from datasources.feed.acknowledgements import DeletionStatus
    from datasources.feed.reading import ChangeRecord, FeedPage
    from datasources.graph.loaders import KeyLoader
    from datasources.store.records import SchoolRecord
    from resolvers.context import Context

#: Kinds whose event carries the entity's new state.
WITH_NODE = frozenset({events.CREATED, events.UPDATED, events.ENTERED_SCOPE})


def feed_arguments(ctx: Context, after: str | None, first: int | None) -> tuple[PageArgs, int]:
    """The feed's page size and the event number it continues after, as `feed` takes them; refused
    (FORBIDDEN, BAD_USER_INPUT) before anything is read or published. The compiled path checks a request
    with it before it reads anything (`schema.compiled_feed`)."""
    if not may_read_feed(ctx.viewer):
        raise Forbidden("the change feed is for partners, coordinators and the operator")
    args: PageArgs = ctx.page_args(first, None)
    return args, decode_cursor(ctx.scope, after, FEED) if after else 0


async def feed(ctx: Context, after: str | None, first: int | None) -> FeedPage:
    """The viewer's next events. Changes that fell due (a school year's groups) are published first."""
    args, after_seq = feed_arguments(ctx, after, first)
    await schedule.publish_due(ctx.engine, ctx.today, ctx.now)
    return await reading.feed_page(ctx.reader, ctx.scope, after_seq, args.first)


def entity_id(ctx: Context, event: ChangeRecord) -> str:
    """The identifier of the event's entity as this viewer sees it (a partner's are its own)."""
    if event.person_id is not None:
        return person_public_id(ctx.scope, event.entity_type, event.entity_id, event.person_id)
    return public_id(ctx.scope, event.entity_type, event.entity_id)


def _node_loader(
    ctx: Context, entity_type: str, *, student_rows: bool = False, main_group: bool = True
) -> KeyLoader[int, Any] | None:
    """The loader of an entity type the feed names (None for a type without a node); students as rows when
    `student_rows` (the compiled feed builds their JSON from the rows), with their main group's columns
    null unless `main_group`."""
    rows = ctx.loaders.student_rows if main_group else ctx.loaders.student_rows_without_main_group
    loaders: dict[str, KeyLoader[int, Any]] = {
        "School": ctx.loaders.schools,
        "Group": ctx.loaders.groups,
        "Student": rows if student_rows else ctx.loaders.students,
        "StaffMember": ctx.loaders.staff,
        "License": ctx.loaders.licenses,
    }
    return loaders.get(entity_type)


async def node(ctx: Context, event: ChangeRecord) -> Any | None:
    """The entity's current state within the scope, for events that carry one (null when it is gone)."""
    if event.kind not in WITH_NODE:
        return None
    loader = _node_loader(ctx, event.entity_type)
    return None if loader is None else await loader.get(event.entity_id)


async def nodes(
    ctx: Context, page: Sequence[ChangeRecord], *, student_rows: bool = False, main_group: bool = True
) -> dict[int, Any | None]:
    """The current state of every entity a page of events names, by event number, as `node` gives it one
    by one: read through the same loaders (so within the same scope, and tallied for the audit alike),
    with one statement per entity type for the whole page whatever its size. Students come as the rows
    of their records when `student_rows` (without their main group unless `main_group`)."""
    wanted: dict[str, list[int]] = defaultdict(list)
    for event in page:
        if event.kind in WITH_NODE:
            wanted[event.entity_type].append(event.entity_id)
    loaders = {
        name: loader
        for name in wanted
        if (loader := _node_loader(ctx, name, student_rows=student_rows, main_group=main_group)) is not None
    }
    # One statement per type, all in one gather so that they run concurrently.
    loaded = await asyncio.gather(*(loader.many(wanted[name]) for name, loader in loaders.items()))
    by_type = dict(zip(loaders, loaded, strict=True))
    found: dict[int, Any | None] = {}
    for event in page:
        records = by_type.get(event.entity_type) if event.kind in WITH_NODE else None
        found[event.seq] = None if records is None else records.get(event.entity_id)
    return found


async def acknowledge(ctx: Context, school_code: str) -> tuple[SchoolRecord | None, int]:
    """A partner confirms it deleted what left its scope at a school."""
    if not may_acknowledge_deletion(ctx.viewer) or ctx.scope.partner_id is None:
        raise Forbidden("only a partner confirms deletion")
    school_id = await school_id_by_code(ctx.engine, school_code)
    if school_id is None:
        raise NotFound(f"no school with code {school_code}")
    through = await acknowledgements.acknowledge_deletion(
        ctx.engine, school_id=school_id, partner_id=ctx.scope.partner_id, now=ctx.now
    )
    return await ctx.loaders.schools.get(school_id), through


async def deletion_statuses(ctx: Context, school: SchoolRecord) -> list[DeletionStatus]:
    """Per partner that lost scope at the school, whether it confirmed deletion (coordinator, operator)."""
    if not ctx.scope.manages(school.id):
        return []
    return await acknowledgements.deletion_statuses(ctx.reader, school.id)
