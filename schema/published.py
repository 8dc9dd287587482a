"""The published SDL: the federation SDL for routers, and a client SDL that standard tools load as is.

The federation SDL (`schema.graphql`, served at `/schema.federation.graphql`) applies `@link` and `@key`
without defining them, as Federation 2 subgraphs do: a router knows them, but graphql-js, graphql-core
(`build_schema`, gql) and graphql-inspector refuse it with "Unknown directive". The client SDL
(`schema.client.graphql`, served at `/schema.graphql`) is the same graph without the federation plumbing:
no `_service`, `_entities`, `_Any`, `_Entity`, `_Service` or `_FieldSet`, and no `@link` or `@key`. We leave
the plumbing out rather than add the directives' definitions, because a client never calls `_entities` (a
router does, and reads the federation SDL): code generators would otherwise emit types for it, and its
`link__Import`/`FieldSet` scalars would mean nothing to a partner's developer.

Both are printed from the assembled schema itself, so they are current by construction; the committed
files are checked against them (tests/schema/test_federation.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from graphql import GraphQLObjectType, GraphQLSchema, print_schema

if TYPE_CHECKING:
    from strawberry.federation import Schema

#: The root fields that only a router uses.
PLUMBING_FIELDS: Final = frozenset({"_service", "_entities"})
#: The types and directives that exist for the federation protocol only.
PLUMBING_TYPES: Final = frozenset({"_Any", "_Entity", "_Service", "_FieldSet"})
PLUMBING_DIRECTIVES: Final = frozenset({"key", "link"})

#: Where the hub serves them, without a token (stable: partners' build scripts fetch them).
CLIENT_SDL_PATH: Final = "/schema.graphql"
FEDERATION_SDL_PATH: Final = "/schema.federation.graphql"


@dataclass(frozen=True, slots=True)
class PublishedDocument:
    """An SDL as it is served: its text and the entity tag that lets caches revalidate it."""

    text: str
    etag: str

    @classmethod
    def of(cls, text: str) -> PublishedDocument:
        """The document `text` with a strong ETag derived from its content."""
        return cls(text, '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"')


def federation_sdl(schema: Schema) -> str:
    """The subgraph SDL, as `{ _service { sdl } }` hands it to a router (and `schema.graphql` holds it)."""
    return schema.as_str()


def client_schema(schema: Schema) -> GraphQLSchema:
    """The live graph without the federation plumbing: what a client can query."""
    live = schema._schema
    query = live.query_type
    assert query is not None
    client_query = GraphQLObjectType(
        query.name,
        fields={name: value for name, value in query.fields.items() if name not in PLUMBING_FIELDS},
        interfaces=query.interfaces,
        description=query.description,
    )
    types = [
        graphql_type
        for name, graphql_type in live.type_map.items()
        if not name.startswith("__") and name not in PLUMBING_TYPES and name != query.name
    ]
    return GraphQLSchema(
        query=client_query,
        mutation=live.mutation_type,
        subscription=live.subscription_type,
        types=types,
        directives=[directive for directive in live.directives if directive.name not in PLUMBING_DIRECTIVES],
        description=live.description,
    )


def client_sdl(schema: Schema) -> str:
    """The client SDL (`schema.client.graphql`): standard GraphQL that any tool loads."""
    return print_schema(client_schema(schema))


__all__ = [
    "CLIENT_SDL_PATH",
    "FEDERATION_SDL_PATH",
    "PLUMBING_FIELDS",
    "PLUMBING_TYPES",
    "PublishedDocument",
    "client_schema",
    "client_sdl",
    "federation_sdl",
]
