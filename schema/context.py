"""The typed `Info` that every resolver of the graph receives."""

from __future__ import annotations

from typing import Annotated, TypeAlias

import strawberry

from resolvers.context import Context

Info: TypeAlias = strawberry.Info[Context, None]

First: TypeAlias = Annotated[
    int | None, strawberry.argument(description="How many items to return: 1 to 1,000, 100 when omitted.")
]
After: TypeAlias = Annotated[
    str | None, strawberry.argument(description="Return the items after this cursor (an `endCursor`).")
]

__all__ = ["After", "Context", "First", "Info"]
