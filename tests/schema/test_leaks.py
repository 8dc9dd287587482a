"""The leak test: random worlds of partners, schools and consent; every partner reads everything it can
reach (every field of every type from the root fields, `node` and `_entities`), and nothing outside its
grants ever comes back. The oracle below is written from DOMAIN.md, independently of `auth.policy`.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, update
from strawberry.types.base import StrawberryObjectDefinition

from auth.categories import DataCategory
from auth.policy import partner_scope
from auth.viewer import Viewer, ViewerKind
from datasources.access.viewer_facts import partner_facts
from datasources.store.reader import Reader
from datasources.store.tables import BOARDS, CONSENTS, PARTNERS, SCHOOLS
from schema.classification import CATEGORY, PUBLIC
from tests.conftest import examples

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from schema.assembly import LeerpoortSchema
    from settings import Settings
    from tests.schema.conftest import Run

CATEGORIES = sorted(DataCategory, key=lambda category: category.name)
#: Object types whose fields describe the hub or a partner, not a school: nothing there is a school's data.
DIRECTORY_TYPES = {"Partner", "Product", "PageInfo", "DataProcessingAgreement", "Viewer"}


@dataclass(frozen=True)
class PartnerSpec:
    """A partner of a drawn world."""

    declared: frozenset[DataCategory]
    eck_chain: bool


@dataclass(frozen=True)
class World:
    """A drawn world: partners; per (school, partner) no consent, a grant or a revoked one; schools' state."""

    partners: tuple[PartnerSpec, ...]
    consents: dict[tuple[int, int], frozenset[DataCategory] | None]
    revoked: frozenset[tuple[int, int]]
    dpa_signed: tuple[bool, ...]
    active: tuple[bool, ...]


category_sets = st.frozensets(st.sampled_from(CATEGORIES))


@st.composite
def worlds(draw: st.DrawFn) -> World:
    partners = tuple(
        PartnerSpec(declared=draw(category_sets), eck_chain=draw(st.booleans()))
        for _ in range(draw(st.integers(2, 3)))
    )
    consents: dict[tuple[int, int], frozenset[DataCategory] | None] = {}
    revoked: set[tuple[int, int]] = set()
    for school in range(3):
        for partner in range(len(partners)):
            consents[(school, partner)] = draw(st.none() | category_sets)
            if consents[(school, partner)] is not None and draw(st.booleans()):
                revoked.add((school, partner))
    return World(
        partners=partners,
        consents=consents,
        revoked=frozenset(revoked),
        dpa_signed=tuple(draw(st.booleans()) for _ in range(3)),
        active=tuple(draw(st.booleans()) for _ in range(3)),
    )


def expected_categories(world: World, school: int, partner: int) -> frozenset[str] | None:
    """The oracle: what partner `partner` may read at school `school`, or None when it sees no row."""
    granted = world.consents[(school, partner)]
    if granted is None or (school, partner) in world.revoked:
        return None
    if not world.active[school] or not world.dpa_signed[school]:
        return None
    return frozenset(c.name for c in (granted & world.partners[partner].declared)) | {"SCHOOL_BASIC"}


def _unwrap(graphql_type: Any) -> Any:
    while isinstance(graphql_type, (GraphQLNonNull, GraphQLList)):
        graphql_type = graphql_type.of_type
    return graphql_type


def selection(schema: GraphQLSchema, type_name: str, depth: int) -> str:
    """Every field of a type, recursively to `depth` object levels (connections ask for 5 items)."""
    graphql_type = schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    parts = ["__typename"]
    for name, field in graphql_type.fields.items():
        target = _unwrap(field.type)
        arguments = "(first: 5)" if "first" in field.args else ""
        if isinstance(target, GraphQLObjectType):
            if depth > 0:
                parts.append(f"{name}{arguments} {{ {selection(schema, target.name, depth - 1)} }}")
        else:
            parts.append(name)
    return " ".join(parts)


def categories_of_fields(strawberry_schema: LeerpoortSchema) -> dict[tuple[str, str], str]:
    """(type, field) → the category name the field is classified under (or "public")."""
    converter = strawberry_schema.config.name_converter
    found: dict[tuple[str, str], str] = {}
    for graphql_type in strawberry_schema.schema_converter.type_map.values():
        definition = graphql_type.definition
        if not isinstance(definition, StrawberryObjectDefinition):
            continue
        for field in definition.fields:
            category = (getattr(field, "metadata", None) or {}).get(CATEGORY)
            if category is not None:
                name = category if category == PUBLIC else category.name
                found[(definition.name, converter.get_graphql_name(field))] = name
    return found


def assert_within(
    value: Any, type_name: str, allowed: frozenset[str], classes: dict[tuple[str, str], str], path: str
) -> None:
    """Every non-empty value under an object of `type_name` is public or in `allowed`."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            assert_within(item, type_name, allowed, classes, f"{path}[{index}]")
        return
    if not isinstance(value, dict):
        return
    actual_type = value.get("__typename", type_name)
    for key, item in value.items():
        if key == "__typename" or item is None or item == [] or _empty_connection(item):
            continue
        structural = actual_type in DIRECTORY_TYPES or actual_type.endswith(("Connection", "Edge"))
        category = classes.get((actual_type, key), PUBLIC if structural else None)
        assert category is not None, f"{path}.{key}: unclassified field {actual_type}.{key}"
        assert category == PUBLIC or category in allowed, (
            f"{path}.{key} ({category}) leaked; granted {sorted(allowed)}: {str(item)[:300]}"
        )
        assert_within(item, actual_type, allowed, classes, f"{path}.{key}")


def _empty_connection(value: Any) -> bool:
    # A connection with no edges, or one whose items the query's depth no longer asked for, carries no data.
    return isinstance(value, dict) and (value.get("edges") == [] or set(value) <= {"__typename", "pageInfo"})


def collect(value: Any, key: str, found: set[str]) -> set[str]:
    """All values of `key` anywhere in a response."""
    if isinstance(value, dict):
        for name, item in value.items():
            if name == key and isinstance(item, str):
                found.add(item)
            collect(item, key, found)
    elif isinstance(value, list):
        for item in value:
            collect(item, key, found)
    return found


async def _apply(engine: AsyncEngine, world: World, school_ids: list[int], board_ids: list[int]) -> list[int]:
    """Write the drawn world over the seeded one; returns the partners' ids."""
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    async with engine.begin() as connection:
        await connection.execute(delete(CONSENTS))
        partner_ids = []
        for index, spec in enumerate(world.partners):
            inserted = await connection.execute(
                insert(PARTNERS)
                .values(
                    name=f"Leak partner {index}",
                    kind="PUBLISHER",
                    declared_categories=sorted(c.name for c in spec.declared),
                    eck_chain=spec.eck_chain,
                    client_id=f"leak-{index}-{uuid.uuid4().hex[:12]}",
                    created_at=now,
                )
                .returning(PARTNERS.c.id)
            )
            partner_ids.append(inserted.scalar_one())
        for (school, partner), granted in world.consents.items():
            if granted is None:
                continue
            await connection.execute(
                insert(CONSENTS).values(
                    school_id=school_ids[school],
                    partner_id=partner_ids[partner],
                    categories=sorted(c.name for c in granted),
                    granted_by="test",
                    granted_at=now,
                    revoked_at=now if (school, partner) in world.revoked else None,
                    policy_version="test",
                )
            )
        for school, school_id in enumerate(school_ids):
            await connection.execute(
                update(SCHOOLS).where(SCHOOLS.c.id == school_id).values(active=world.active[school])
            )
            await connection.execute(
                update(BOARDS)
                .where(BOARDS.c.id == board_ids[school])
                .values(dpa_signed_at=now if world.dpa_signed[school] else None)
            )
    return partner_ids


@pytest.fixture
async def seeded(engine: AsyncEngine, world: SeedSummary) -> tuple[list[int], list[int]]:
    """The seeded schools, each moved onto a board of its own so DPA states can differ per school."""
    async with engine.begin() as connection:
        rows = (await connection.execute(select(SCHOOLS.c.id).order_by(SCHOOLS.c.id))).scalars().all()
        board_ids = []
        for index, school_id in enumerate(rows):
            inserted = await connection.execute(
                insert(BOARDS)
                .values(number=f"8{index:04d}", name=f"Leak board {index}")
                .returning(BOARDS.c.id)
            )
            board_ids.append(inserted.scalar_one())
            await connection.execute(
                update(SCHOOLS).where(SCHOOLS.c.id == school_id).values(board_id=board_ids[-1])
            )
    return list(rows), board_ids


@settings(
    max_examples=examples(20),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
async def test_no_partner_ever_reads_outside_its_grants(
    world: World,
    engine: AsyncEngine,
    seeded: tuple[list[int], list[int]],
    run: Run,
    schema: LeerpoortSchema,
    settings: Settings,
) -> None:
    school_ids, board_ids = seeded
    partner_ids = await _apply(engine, world, school_ids, board_ids)
    graphql_schema = schema._schema
    classes = categories_of_fields(schema)
    query = f"{{ schools(first: 10) {{ edges {{ node {{ {selection(graphql_schema, 'School', 4)} }} }} }} }}"
    codes = {}
    async with engine.connect() as connection:
        for school_id, code in await connection.execute(select(SCHOOLS.c.id, SCHOOLS.c.code)):
            codes[school_id] = code

    seen_ids: dict[int, set[str]] = {}
    seen_pseudonyms: dict[int, set[str]] = {}
    for index, partner_id in enumerate(partner_ids):
        reader = Reader(engine)
        async with engine.connect() as connection:
            client_id = (
                await connection.execute(select(PARTNERS.c.client_id).where(PARTNERS.c.id == partner_id))
            ).scalar_one()
        facts = await partner_facts(reader, client_id)
        await reader.close()
        assert facts is not None
        scope = partner_scope(
            Viewer(ViewerKind.PARTNER, client_id),
            facts,
            require_dpa=True,
            pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
        )
        result = await run(query, scope=scope)
        assert result["errors"] == [], result["errors"]
        expected = {
            codes[school_ids[school]]: categories
            for school in range(3)
            if (categories := expected_categories(world, school, index)) is not None
        }
        returned = {edge["node"]["code"]: edge["node"] for edge in result["data"]["schools"]["edges"]}
        assert set(returned) == set(expected)
        for code, school in returned.items():
            assert set(school["grantedCategories"]) == expected[code]
            assert_within(school, "School", expected[code], classes, code)
            if not world.partners[index].eck_chain:
                assert collect(school, "eckId", set()) == set()
            license_partners = {
                edge["node"]["product"]["partner"]["name"]
                for edge in school["licenses"]["edges"]
                if edge["node"]["product"]
            }
            assert license_partners <= {f"Leak partner {index}"}
        seen_ids[index] = collect(result["data"], "id", set())
        seen_pseudonyms[index] = collect(result["data"], "pseudonym", set())

        # node and _entities answer only within the scope: operator-style ids resolve to nothing.
        for school_id in school_ids:
            operator_id = base64.urlsafe_b64encode(f"School:{school_id}".encode()).decode().rstrip("=")
            by_node = await run("query($id: ID!) { node(id: $id) { id } }", {"id": operator_id}, scope=scope)
            assert by_node["data"] == {"node": None}
            entities = await run(
                "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
                {"r": [{"__typename": "School", "id": operator_id}]},
                scope=scope,
            )
            hidden = codes[school_id] not in expected
            by_code = await run(
                "query($r: [_Any!]!) { _entities(representations: $r) { ... on School { code } } }",
                {"r": [{"__typename": "School", "code": codes[school_id]}]},
                scope=scope,
            )
            assert entities["data"]["_entities"] == [None]
            assert (by_code["data"]["_entities"] == [None]) == hidden

    # Two partners never share an identifier or a pseudonym, and one's ids mean nothing to the other.
    for first, second in itertools.combinations(seen_ids, 2):
        assert not seen_ids[first] & seen_ids[second]
        assert not seen_pseudonyms[first] & seen_pseudonyms[second]
