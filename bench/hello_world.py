"""The yardstick of `bench/small_queries.py`: a strawberry + Starlette hello-world GraphQL server, the least
a GraphQL request over HTTP can cost with the hub's own stack (`uvicorn bench.hello_world:app`)."""

from __future__ import annotations

import strawberry
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL


@strawberry.type
class Query:
    """The whole schema."""

    @strawberry.field
    def hello(self) -> str:
        """A greeting."""
        return "Hallo"


async def _health(_request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/health", _health),
        Route("/graphql", GraphQL(strawberry.Schema(query=Query), graphql_ide=None), methods=["POST"]),
    ]
)
