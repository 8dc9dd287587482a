"""Live feeds: `subscription { changes(after:) }`, and the per-process signal that wakes it.

A subscription delivers exactly what `changes(after:)` would, in the same order, without gaps or
duplicates: it reads the feed with the query's own `feed_page` from its position onwards. Each read is
a *poll cycle* with its own reader and loaders. A cycle first reads the feed's counter, then computes
the viewer's scope afresh from the consent facts, then delivers the events up to that counter value.
Writers number their events under the counter row in the transaction that makes the change, so every
event up to a counter value that has been read is committed, and so is every consent change among or
before them: the scope, read afterwards, already has it. The policy is thus applied again to every
event delivered: after a revoke or a narrowed grant nothing more of what it took away arrives (the
LEFT_SCOPE events the change wrote are addressed to the partner and still do).

Between cycles a subscription waits on the `ChangeSignal`: one task per process that reads the counter
(`change_counter.last_seq`, one row by primary key) every 200 ms and wakes the waiters when it moved.
Changes committed by other worker processes or by the command line are therefore noticed within one
interval, with one cheap query per process however many subscriptions are open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeAlias, TypeVar, cast

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.types.nodes import SelectedField, Selection

from auth.permissions import may_read_feed
from auth.viewer import Viewer
from datasources.feed import reading, schedule
from datasources.graph.disclosures import record_disclosures
from datasources.graph.loaders import Loaders
from datasources.store.pagination import decode_cursor
from datasources.store.reader import Reader
from datasources.store.tables import CHANGE_COUNTER
from errors import Forbidden
from resolvers.changes import node as event_node
from resolvers.context import Context
from resolvers.signing import Keys
from resolvers.viewers import scope_of
from schema.changes import Change, change_of
from schema.classification import CATEGORY, PUBLIC
from schema.context import Info
from settings import Settings

if TYPE_CHECKING:
    import datetime as dt

    from auth.policy import Scope
    from datasources.store.pagination import PageArgs

logger = logging.getLogger("leerpoort.subscriptions")

#: How often each process reads the feed's counter: delivery comes well within a second.
POLL_INTERVAL_SECONDS: Final = 0.2
#: How often the signal publishes changes that fell due on a date (a school year's groups on 1 August).
PUBLISH_DUE_INTERVAL_SECONDS: Final = 1.0
#: Events read per poll cycle; a longer backlog is delivered in several cycles, each with a fresh scope.
CYCLE_EVENTS: Final = 100


#: A plain read of the counter row: `numbering.current_seq` would first insert it, which is a write that
#: waits for an import holding the row (PostgreSQL) or for SQLite's write lock.
_LAST_SEQ = select(CHANGE_COUNTER.c.last_seq).where(CHANGE_COUNTER.c.id == 1)


async def _last_seq(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(_LAST_SEQ) or 0)


class ChangeSignal:
    """Tells this process's subscriptions that the feed moved (one per process, in the lifespan state).

    It starts polling with the first subscription and stops when the application shuts down. It also
    publishes changes that fall due on a date, so that waiting subscriptions receive them on that date
    without any other change happening.
    """

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        """A signal on the feed of `engine`'s database; `settings` gives the hub's date."""
        self._engine = engine
        self._settings = settings
        self._last: int | None = None
        self._moved = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def moved_past(self, seen: int) -> None:
        """Return once the counter is beyond `seen` (the first call starts the polling)."""
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name="leerpoort-change-signal")
        while self._last is None or self._last <= seen:
            await self._moved.wait()

    async def close(self) -> None:
        """Stop polling (the application shuts down)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _update(self, value: int) -> None:
        if value != self._last:
            self._last = value
            # Wake every waiter at once and give later ones a fresh event to wait on.
            self._moved.set()
            self._moved = asyncio.Event()

    async def _poll(self) -> None:
        ticks_per_publish = max(1, round(PUBLISH_DUE_INTERVAL_SECONDS / POLL_INTERVAL_SECONDS))
        tick = 0
        while True:
            try:
                if tick % ticks_per_publish == 0:
                    now = self._settings.now()
                    await schedule.publish_due(self._engine, now.date(), now)
                self._update(await _last_seq(self._engine))
            except Exception as error:
                # The type only: a driver's message may quote statement parameters.
                logger.warning("reading the change counter failed: %s", type(error).__name__)
            tick += 1
            await asyncio.sleep(POLL_INTERVAL_SECONDS)


@dataclass
class SubscriptionContext:
    """The context of one subscription: who asks, fixed for its lifetime, and the poll cycle in progress.

    It offers what `resolvers.context.Context` offers; the per-request parts (scope, reader, loaders,
    now) are those of the cycle whose events are being delivered, so the fields of an event (its node,
    its ids) are resolved under the scope that the event was read with.
    """

    settings: Settings
    viewer: Viewer
    engine: AsyncEngine
    keys: Keys
    signal: ChangeSignal
    cycle: Context | None = field(default=None, repr=False)

    @property
    def _current(self) -> Context:
        if self.cycle is None:
            raise RuntimeError("a subscription's event is resolved outside a poll cycle")
        return self.cycle

    @property
    def scope(self) -> Scope:
        """The scope computed for the current cycle."""
        return self._current.scope

    @property
    def reader(self) -> Reader:
        """The current cycle's reader."""
        return self._current.reader

    @property
    def loaders(self) -> Loaders:
        """The current cycle's loaders."""
        return self._current.loaders

    @property
    def now(self) -> dt.datetime:
        """The hub's time when the current cycle began."""
        return self._current.now

    @property
    def today(self) -> dt.date:
        """The hub's date when the current cycle began."""
        return self._current.today

    def page_args(self, first: int | None, after: str | None) -> PageArgs:
        """Validated page arguments under the hub's page cap."""
        return self._current.page_args(first, after)

    async def open_cycle(self) -> tuple[Context, int]:
        """Start a poll cycle: a fresh reader, the feed's counter, then the viewer's scope as the consent
        facts say now, and loaders. The cycle may deliver events up to that counter value only: a consent
        change that concerns them committed before it was read, so the scope, read after it, has it."""
        reader = Reader(self.engine)
        try:
            rows = await reader.rows(_LAST_SEQ)
            seen = int(rows[0][0]) if rows else 0
            scope = await scope_of(reader, self.viewer, self.settings)
        except BaseException:
            await reader.close()
            raise
        now = self.settings.now()
        self.cycle = Context(
            settings=self.settings,
            viewer=self.viewer,
            scope=scope,
            reader=reader,
            loaders=Loaders.build(reader, scope, now.date()),
            now=now,
            engine=self.engine,
            keys=self.keys,
        )
        return self.cycle, seen

    async def close_cycle(self, operation_name: str | None) -> None:
        """End the cycle: give its connection back and audit what it disclosed to a partner."""
        cycle, self.cycle = self.cycle, None
        if cycle is None:
            return
        await cycle.reader.close()
        scope = cycle.scope
        if scope.partner_id is not None and cycle.reader.disclosed:
            await record_disclosures(
                self.engine,
                partner_id=scope.partner_id,
                operation_name=operation_name,
                records_by_school=cycle.reader.disclosed,
                categories_by_school={
                    school: scope.categories_for(school) for school in cycle.reader.disclosed
                },
                at=cycle.now,
            )


SubscriptionInfo: TypeAlias = strawberry.Info[SubscriptionContext, None]

F = TypeVar("F", bound=Callable[..., Any])


def _subscription(description: str) -> Callable[[F], F]:
    """A root subscription field; metadata, like every field of the graph (classification.py)."""

    def decorate(function: F) -> F:
        # strawberry replaces the function with its field object; the cast keeps the method's type for mypy.
        subscription = strawberry.subscription(description=description, metadata={CATEGORY: PUBLIC})
        return cast("F", subscription(function))

    return decorate


def _selects_node(info: SubscriptionInfo) -> bool:
    """Whether the subscription asks for every event's `node`. A `node` under `@skip` or `@include` does
    not count: it is then read event by event, so that nothing is read (and audited) that is not sent."""
    pending: list[Selection] = [
        selection for selected in info.selected_fields for selection in selected.selections
    ]
    while pending:
        selection = pending.pop()
        if selection.directives:
            continue
        if isinstance(selection, SelectedField):
            if selection.name == "node":
                return True
        else:
            pending.extend(selection.selections)
    return False


async def _follow(info: SubscriptionInfo, position: int) -> AsyncGenerator[Change, None]:
    """The viewer's events after `position`, cycle by cycle, for as long as the client listens."""
    live = info.context
    operation_name = info.operation.name.value if info.operation.name else None
    prefetch = _selects_node(info)
    # The event types read the context as a request's Context, which this one stands in for.
    event_info = cast("Info", info)
    # Like the query: changes that fell due are published before the first read.
    now = live.settings.now()
    await schedule.publish_due(live.engine, now.date(), now)
    while True:
        cycle, seen = await live.open_cycle()
        try:
            page = await reading.feed_page(cycle.reader, cycle.scope, position, CYCLE_EVENTS)
            # Events committed after the counter was read wait for the next cycle (and its scope).
            events = [event for event in page.events if event.seq <= seen]
            more = page.has_next or len(events) < len(page.events)
            if prefetch:
                # One statement per entity type for the whole cycle; each event's `node` then finds its
                # record in the cycle's loaders instead of reading it on its own.
                await asyncio.gather(*(event_node(cycle, event) for event in events))
            for event in events:
                position = event.seq
                # The client receives the event while the cycle (and its scope) is still current.
                yield change_of(event_info, event)
        finally:
            await live.close_cycle(operation_name)
        if not more:
            await live.signal.moved_past(seen)


@strawberry.type(description="Live feeds over WebSocket (`graphql-transport-ws` at /graphql).")
class Subscription:
    """Root subscriptions; each applies the same policy as the query it mirrors, to every event."""

    @_subscription(
        description=(
            "Your change feed, live (partners; also coordinators and the operator): exactly the events"
            " `changes(after:)` returns, in the same order, then every new one within about a second of"
            " its commit. Without `after` it starts at the beginning of your feed, as the query does; pass"
            " the cursor of the last event you applied to continue from there. Your grants are checked"
            " again for every event: after a revoke you receive the LEFT_SCOPE events and nothing more of"
            " that school. The connection closes with 4401 when your token expires: reconnect with a new"
            " token and the cursor of the last event you received."
        ),
    )
    async def changes(
        self,
        info: SubscriptionInfo,
        after: Annotated[
            str | None,
            strawberry.argument(description="Deliver the events after this cursor (an event's `cursor`)."),
        ] = None,
    ) -> AsyncGenerator[Change, None]:
        # Checked before the stream starts, so a refusal is the operation's error, not an event.
        if not may_read_feed(info.context.viewer):
            raise Forbidden("the change feed is for partners, coordinators and the operator")
        return _follow(info, decode_cursor(after) if after else 0)


__all__ = ["ChangeSignal", "Subscription", "SubscriptionContext", "SubscriptionInfo"]
