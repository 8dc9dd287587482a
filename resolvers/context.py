"""The context of one GraphQL request: who asks, what they may see, and the loaders bound to that."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from auth.policy import Scope
from auth.viewer import Viewer
from datasources.graph.loaders import Loaders
from datasources.store.pagination import PageArgs
from datasources.store.reader import Reader
from resolvers.signing import Keys
from settings import Settings


@dataclass(frozen=True)
class Context:
    """Per-request state, handed to every resolver.

    Built in one place only, `resolvers.requests.open_request`, which also closes it (the reader's
    connection given back, the partner's disclosures recorded): for a request over HTTP
    (`schema.http.answer`), for each poll cycle of a subscription (`schema.subscriptions`), and in the
    tests' helpers.
    """

    settings: Settings
    viewer: Viewer
    scope: Scope
    reader: Reader
    loaders: Loaders
    now: dt.datetime
    #: For writes (mutations run their own transactions) and for minting tokens.
    engine: AsyncEngine
    keys: Keys
    #: The network address the request came from (for the rate limits on credential checks); "" if unknown.
    client_address: str = ""

    @property
    def today(self) -> dt.date:
        """The hub's date (honouring the sandbox clock override)."""
        return self.now.date()

    def with_fresh_loaders(self) -> Context:
        """The same context with new loaders (empty caches) on the same reader, scope and date."""
        return dataclasses.replace(self, loaders=Loaders.build(self.reader, self.scope, self.today))

    def page_args(self, first: int | None, after: str | None) -> PageArgs:
        """Validated page arguments under the hub's page cap (`after` must be this viewer's cursor)."""
        return PageArgs.parse(self.scope, first, after, cap=self.settings.max_page_size)
