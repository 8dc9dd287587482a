"""Helpers to run GraphQL documents straight against the schema (no HTTP), with any scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event

from auth.policy import Scope, operator_scope
from auth.viewer import Viewer, ViewerKind
from datasources.registry.duo import read_registry
from datasources.sandbox.world import SeedSummary, seed_world
from resolvers.requests import Services, open_request
from resolvers.signing import Keys
from schema.assembly import LeerpoortSchema, build_schema
from settings import Settings
from tests.reference import DUO_FILE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

REGISTRY = (
    Path(__file__).resolve().parents[2]
    / "reference"
    / "duo"
    / "vestigingen-bo-2013-drenthe-flevoland-groningen.csv"
)
OPERATOR = Viewer(ViewerKind.OPERATOR, "helpdesk")
#: A date inside the seeded school year, so the seeded groups are current.
TODAY = dt.date(2026, 11, 29)


@dataclass
class StatementCounter:
    """Counts the SQL statements an engine runs (to pin the cost of a query)."""

    statements: list[str] = field(default_factory=list)

    def __call__(self, *args: Any) -> None:
        self.statements.append(str(args[2]))


@pytest.fixture(scope="session")
def schema() -> LeerpoortSchema:
    """The schema, built once: building it also proves every field is classified."""
    return build_schema(Settings())


@pytest.fixture
async def world(engine: AsyncEngine) -> SeedSummary:
    """A small seeded world: three DUO schools of twenty students with groups, staff, licenses, consents."""
    return await seed_world(
        engine, registry=read_registry(DUO_FILE), schools=3, students_per_school=20, seed=11, today=TODAY
    )


Run = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def run(engine: AsyncEngine, schema: LeerpoortSchema, settings: Settings) -> Run:
    """Execute a document as a viewer with a scope (the operator's by default); returns data and errors."""

    async def execute(
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        scope: Scope | None = None,
        today: dt.date = TODAY,
    ) -> dict[str, Any]:
        scope = scope or operator_scope(OPERATOR)
        now = dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)
        services = Services(settings, engine, Keys(engine, settings))
        # The server's own pipeline, with the given scope in place of the policy's.
        async with open_request(services, scope.viewer, now=now, scope=scope) as context:
            result = await schema.execute(query, variable_values=variables, context_value=context)
        return {
            "data": result.data,
            "errors": [
                {
                    "message": error.message,
                    "code": getattr(error.original_error, "code", None),
                    "path": error.path,
                }
                for error in result.errors or ()
            ],
        }

    return execute


@pytest.fixture
def count_statements(engine: AsyncEngine) -> Iterator[Callable[[], StatementCounter]]:
    """Start counting the engine's SQL statements."""
    counters: list[StatementCounter] = []

    def start() -> StatementCounter:
        counter = StatementCounter()
        event.listen(engine.sync_engine, "before_cursor_execute", counter)
        counters.append(counter)
        return counter

    yield start
    for counter in counters:
        event.remove(engine.sync_engine, "before_cursor_execute", counter)
