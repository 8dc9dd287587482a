"""The federation schema assembly: types, the classification check, and safe `_entities`."""

from __future__ import annotations

import logging
from typing import Any, Final

import strawberry
from graphql import GraphQLError, GraphQLSchema
from strawberry.extensions import ValidationCache
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types.base import StrawberryObjectDefinition

from errors import PublicError
from schema.assertion_keys import AssertionKeysMutation
from schema.classification import category_fields, describe_categories, unclassified_fields
from schema.costs import CostLimiter
from schema.groups import Group
from schema.license_admin import LicenseMutation
from schema.licenses import License, Partner, Product
from schema.lifecycle import LifecycleMutation
from schema.limits import PARSE_CACHE_SIZE, LimitRules, TokenLimitedParser
from schema.mutations import Mutation
from schema.oidc_clients import OidcClientMutation
from schema.people import StaffMember, Student
from schema.query import Query
from schema.school_networks import SchoolNetworkMutation
from schema.schools import Board, School
from schema.staff_accounts import StaffAccountMutation
from schema.student_logins import StudentLoginMutation
from schema.subscriptions import Subscription
from settings import Settings

#: The newest federation version the common open composers accept (strawberry's default is newer).
FEDERATION_VERSION: Final = "2.9"

logger = logging.getLogger("leerpoort.graphql")


#: Descriptions of the federation plumbing strawberry adds without one, so that every type, field and argument
#: of the published SDL has a description (tests/schema/test_descriptions.py).
_FEDERATION_DESCRIPTIONS: Final = {
    "_Any": "A representation of an entity (Apollo Federation): `__typename` and its key fields.",
    "_Entity": "Every entity type of this subgraph (Apollo Federation).",
    "_Service": "This subgraph's own SDL (Apollo Federation).",
    "_Service.sdl": "The subgraph's SDL, with the federation directives.",
    "Query._entities": (
        "The entities these representations name, for a federation gateway (Apollo Federation): each is"
        " resolved through its type's own scoped lookup; null for a type that is no entity or for what"
        " you may not see."
    ),
    "Query._entities.representations": "The `__typename` and key fields of each entity to resolve.",
    "Query._service": "This subgraph's SDL, for a federation gateway (Apollo Federation).",
}


def _describe_federation(graphql_schema: GraphQLSchema) -> None:
    for coordinate, description in _FEDERATION_DESCRIPTIONS.items():
        type_name, *path = coordinate.split(".")
        target: Any = graphql_schema.type_map.get(type_name)
        for index, name in enumerate(path):
            target = (target.fields if index == 0 else target.args).get(name) if target else None
        if target is not None and not target.description:
            target.description = description


class SchemaClassificationError(TypeError):
    """Raised at start-up when a field of the graph is not classified under a data category."""


class LeerpoortSchema(strawberry.federation.Schema):
    """A federation subgraph whose `_entities` resolves only entity types, each through its own
    scoped `resolve_reference`: a representation can never construct an object from client input."""

    def entities_resolver(  # strawberry builds `_entities` from this signature: keep its annotations
        self, info: strawberry.Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        results: list[Any] = []
        for representation in representations:
            if not isinstance(representation, dict):
                results.append(None)
                continue
            type_name = representation.get("__typename")
            graphql_type = (
                self.schema_converter.type_map.get(type_name) if isinstance(type_name, str) else None
            )
            definition = getattr(graphql_type, "definition", None)
            origin = getattr(definition, "origin", None)
            if not isinstance(definition, StrawberryObjectDefinition) or origin is None:
                results.append(None)
                continue
            if not hasattr(origin, "resolve_reference"):
                # Unknown and non-entity types resolve to null instead of being built from the input.
                results.append(None)
                continue
            # The representation is passed whole: its keys are client input and never become arguments.
            results.append(origin.resolve_reference(info, representation))
        return results

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log unexpected errors without tracebacks or messages (they may quote personal data)."""
        operation = execution_context.operation_name if execution_context else None
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, (PublicError, GraphQLError)):
                continue  # the client's own mistake (a bad query or variable), not ours
            logger.error(
                "internal error %s in operation %s at %s",
                type(original).__name__,
                operation or "(anonymous)",
                ".".join(str(part) for part in error.path or ()),
            )


@strawberry.type(name="Mutation", description="Changes to the hub; each names who may make it.")
class RootMutation(
    Mutation,
    StaffAccountMutation,
    LicenseMutation,
    StudentLoginMutation,
    SchoolNetworkMutation,
    OidcClientMutation,
    LifecycleMutation,
    AssertionKeysMutation,
):
    """Root writes: those of `schema.mutations` and of the domain modules that keep their own."""


def build_schema(settings: Settings | None = None) -> LeerpoortSchema:
    """The Leerpoort subgraph; refuses to build while any field is unclassified."""
    limits = settings or Settings()
    schema = LeerpoortSchema(
        query=Query,
        mutation=RootMutation,
        subscription=Subscription,
        # Types reached only through lazy annotations must be named here to join the `_Entity` union.
        types=[Board, School, Group, Student, StaffMember, Partner, Product, License],
        federation_version=FEDERATION_VERSION,
        # "Did you mean 'name'?" would hand the schema to anyone refused introspection.
        config=StrawberryConfig(disable_field_suggestions=True),
        # Every limit is checked once per operation, never per field: nothing on the resolving hot path.
        # Factories, so that every request gets its own extension instances.
        extensions=[
            # First, so its refusal in `on_execute` comes before any other extension's hook is entered.
            lambda: CostLimiter(max_cost=limits.max_cost),
            # Partners repeat the same few documents: parse and validate each once (shared caches).
            lambda: TokenLimitedParser(max_tokens=limits.max_tokens),
            # Ours rather than strawberry's limiters: those made new rule classes per request (so the
            # validation cache never hit) and took exponential time on fragments spread twice over.
            lambda: LimitRules(max_depth=limits.max_depth, max_aliases=limits.max_aliases),
            # As many validations as parsed documents: a document evicted from one is gone from both.
            lambda: ValidationCache(maxsize=PARSE_CACHE_SIZE),
        ],
    )
    definitions = [
        graphql_type.definition
        for graphql_type in schema.schema_converter.type_map.values()
        if isinstance(graphql_type.definition, StrawberryObjectDefinition)
        and not graphql_type.definition.name.startswith("_")
        and graphql_type.definition.name not in {"Query", "Mutation", "Subscription"}
    ]
    problems = unclassified_fields(definitions)
    if problems:
        raise SchemaClassificationError("unclassified fields: " + "; ".join(problems))
    # The SDL says what each category opens, written from the classification the check above just passed.
    graphql_schema = schema._schema
    describe_categories(
        graphql_schema,
        category_fields(graphql_schema, definitions, schema.config.name_converter.get_graphql_name),
    )
    _describe_federation(graphql_schema)
    return schema


__all__ = ["FEDERATION_VERSION", "LeerpoortSchema", "build_schema"]
