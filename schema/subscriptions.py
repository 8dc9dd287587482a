"""Live feeds: `subscription { changes(after:) }`, over the WebSocket handler of `schema.websocket`.

A subscription delivers exactly what `changes(after:)` would, in the same order, without gaps or
duplicates: it reads the feed with the query's own `feed_page` from its position onwards. Each read is
a *poll cycle*, a request of its own (`resolvers.requests.open_request`: a fresh reader, scope and
loaders, and the disclosure audit when it closes). A cycle first reads the feed's counter, then computes
the viewer's scope afresh from the consent facts, then delivers the events up to that counter value.
Writers number their events under the counter row in the transaction that makes the change, so every
event up to a counter value that has been read is committed, and so is every consent change among or
before them: the scope, read afterwards, already has it. The policy is thus applied again to every
event delivered: after a revoke or a narrowed grant nothing more of what it took away arrives (the
LEFT_SCOPE events the change wrote are addressed to the partner and still do).

Between cycles a subscription waits on the process's `ChangeSignal` (`datasources.feed.signal`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeAlias, TypeVar, cast

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from auth.permissions import may_read_feed
from auth.viewer import Viewer
from datasources.feed import reading, schedule
from datasources.feed.signal import ChangeSignal, counter_value
from datasources.store.pagination import FEED, decode_cursor
from errors import Forbidden
from resolvers.changes import node as event_node
from resolvers.context import Context
from resolvers.requests import Services, open_request
from schema.changes import Change, change_of
from schema.classification import CATEGORY, PUBLIC
from schema.context import Info

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import Scope
    from datasources.graph.loaders import Loaders
    from datasources.store.pagination import PageArgs
    from datasources.store.reader import Reader
    from resolvers.signing import Keys
    from settings import Settings

#: Events read per poll cycle; a longer backlog is delivered in several cycles, each with a fresh scope.
CYCLE_EVENTS: Final = 100


@dataclass
class SubscriptionContext:
    """The context of one subscription: who asks, fixed for its lifetime, and the poll cycle in progress.

    It offers what `resolvers.context.Context` offers; the per-request parts (scope, reader, loaders,
    now) are those of the cycle whose events are being delivered, so the fields of an event (its node,
    its ids) are resolved under the scope that the event was read with.
    """

    services: Services
    viewer: Viewer
    signal: ChangeSignal
    cycle: Context | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """The hub's settings."""
        return self.services.settings

    @property
    def engine(self) -> AsyncEngine:
        """The database, for writes and for minting tokens (as a request's context has it)."""
        return self.services.engine

    @property
    def keys(self) -> Keys:
        """The process's signing keys."""
        return self.services.keys

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

    @contextlib.asynccontextmanager
    async def poll_cycle(self, operation_name: str | None) -> AsyncIterator[tuple[Context, int]]:
        """One poll cycle as a request of its own, and the counter value it may deliver events up to.

        The counter is read on the cycle's reader before the scope: a consent change that concerns the
        events up to it committed before it was read, so the scope, read after it, has it. Leaving the
        cycle gives its connection back and audits what it disclosed to a partner.
        """
        counter: list[int] = []

        async def read_counter(reader: Reader) -> None:
            counter.append(await counter_value(reader))

        async with open_request(
            self.services, self.viewer, operation_name=operation_name, before_scope=read_counter
        ) as cycle:
            self.cycle = cycle
            try:
                yield cycle, counter[0]
            finally:
                self.cycle = None


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
        async with live.poll_cycle(operation_name) as (cycle, seen):
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
        if not more:
            await live.signal.moved_past(seen)


async def _position(info: SubscriptionInfo, after: str | None) -> int:
    """The feed number inside `after`, read before the stream starts so that a cursor that is not the
    viewer's own is the operation's error. A cursor is sealed per viewer, so opening it takes the viewer's
    identifiers, which come with a scope: one cycle is opened for it (it delivers nothing)."""
    if not after:
        return 0
    operation_name = info.operation.name.value if info.operation.name else None
    async with info.context.poll_cycle(operation_name) as (cycle, _):
        return decode_cursor(cycle.scope, after, FEED)


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
        return _follow(info, await _position(info, after))


__all__ = ["Subscription", "SubscriptionContext", "SubscriptionInfo"]
