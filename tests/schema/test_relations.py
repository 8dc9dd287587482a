"""Relations, tried as an attacker: an entity exists for a partner only under its own category, whichever way
the partner walks to it. After a narrowing that takes a category away, no relation still yields an entity
of that category (the feed has just told the partner to delete them): a single relation is null, a list or
a connection is empty, and `node` and `_entities` resolve the ids the partner kept to null."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from graphql import GraphQLObjectType, get_named_type
from sqlalchemy import insert, select

from auth.categories import DataCategory
from datasources.store.tables import GROUPS, LICENSE_GROUPS, LICENSES, PRODUCTS
from tests.schema.test_feed import grant, scope_of_partner, world

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from schema.assembly import LeerpoortSchema
    from settings import Settings
    from tests.schema.conftest import Run

#: The entity types whose rows exist only under a category (a school is always granted: school.basic).
ENTITIES = {
    "Group": DataCategory.GROUP_BASIC,
    "Student": DataCategory.STUDENT_BASIC,
    "StaffMember": DataCategory.STAFF_BASIC,
    "License": DataCategory.LICENSE,
}
#: Every relation of the graph to one of those entities, as `EVERYTHING` walks it.
RELATIONS = {
    "School.groups": "Group",
    "School.students": "Student",
    "School.staff": "StaffMember",
    "School.licenses": "License",
    "Group.students": "Student",
    "Group.staff": "StaffMember",
    "Student.mainGroup": "Group",
    "Student.groups": "Group",
    "StaffMember.groups": "Group",
    "License.coupledGroups": "Group",
    "Group.licenses": "License",
}
#: The mutations that answer with one of those entities: the one they wrote, not a walk to others.
WRITES = {
    "Mutation.createLicense": "License",
    "Mutation.updateLicense": "License",
    "Mutation.endLicense": "License",
    "Mutation.coupleLicense": "License",
    "Mutation.uncoupleLicense": "License",
    # A school's coordinator writes its own staff members' roles (never a partner).
    "Mutation.addStaffMember": "StaffMember",
    "Mutation.addStaffRole": "StaffMember",
    "Mutation.removeStaffRole": "StaffMember",
}
_ENTITY = "__typename id"
_PEOPLE_OF_GROUP = (
    f"students(first: 5) {{ edges {{ node {{ {_ENTITY} }} }} }}"
    f" staff(first: 5) {{ edges {{ node {{ {_ENTITY} }} }} }}"
    f" licenses {{ {_ENTITY} }}"
)
#: Every relation in `RELATIONS`, from each parent the partner can reach.
EVERYTHING = (
    f"{{ schools(first: 2) {{ edges {{ node {{ {_ENTITY}"
    f" groups(first: 5) {{ edges {{ node {{ {_ENTITY} {_PEOPLE_OF_GROUP} }} }} }}"
    f" students(first: 5) {{ edges {{ node {{ {_ENTITY}"
    f" mainGroup {{ {_ENTITY} {_PEOPLE_OF_GROUP} }} groups {{ {_ENTITY} {_PEOPLE_OF_GROUP} }} }} }} }}"
    f" staff(first: 5) {{ edges {{ node {{ {_ENTITY} groups {{ {_ENTITY} {_PEOPLE_OF_GROUP} }} }} }} }}"
    f" licenses(first: 5) {{ edges {{ node {{ {_ENTITY}"
    f" coupledGroups {{ {_ENTITY} {_PEOPLE_OF_GROUP} }} }} }} }} }} }} }} }}"
)
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
ENTITIES_QUERY = (
    "query($representations: [_Any!]!) { _entities(representations: $representations) { __typename } }"
)


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every object of a result (anything with a `__typename`), at any depth."""
    if isinstance(value, dict):
        if "__typename" in value:
            yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def _by_type(result: dict[str, Any]) -> dict[str, set[str]]:
    assert result["errors"] == [], result["errors"]
    found: dict[str, set[str]] = {}
    for item in _objects(result["data"]):
        found.setdefault(item["__typename"], set()).add(item["id"])
    return found


def test_the_attack_covers_every_relation_to_an_entity_that_a_category_gates(schema: LeerpoortSchema) -> None:
    relations: dict[str, str] = {}
    writes: dict[str, str] = {}
    for parent in schema._schema.type_map.values():
        if not isinstance(parent, GraphQLObjectType) or parent.name.endswith(("Edge", "Connection")):
            continue
        for name, field in parent.fields.items():
            target = get_named_type(field.type)
            if isinstance(target, GraphQLObjectType) and target.name.endswith("Connection"):
                edge = get_named_type(target.fields["edges"].type)
                assert isinstance(edge, GraphQLObjectType)
                target = get_named_type(edge.fields["node"].type)
            if target.name in ENTITIES:
                found = writes if parent.name == "Mutation" else relations
                found[f"{parent.name}.{name}"] = target.name

    assert relations == RELATIONS
    assert writes == WRITES


async def _licensed_world(engine: AsyncEngine) -> tuple[int, str, int, str]:
    """The feed tests' school and partner, with a license of the partner's product coupled to a group."""
    school_id, code, partner_id, client_id = await world(engine)
    async with engine.begin() as connection:
        product_id = (
            await connection.execute(
                insert(PRODUCTS).values(partner_id=partner_id, name="Rekenen").returning(PRODUCTS.c.id)
            )
        ).scalar_one()
        license_id = (
            await connection.execute(
                insert(LICENSES)
                .values(school_id=school_id, product_id=product_id, valid_from=dt.date(2026, 8, 1))
                .returning(LICENSES.c.id)
            )
        ).scalar_one()
        group_ids = (
            await connection.execute(select(GROUPS.c.id).where(GROUPS.c.school_id == school_id))
        ).scalars()
        await connection.execute(
            insert(LICENSE_GROUPS),
            [{"license_id": license_id, "group_id": group_id} for group_id in group_ids],
        )
    return school_id, code, partner_id, client_id


@pytest.mark.parametrize("withheld", sorted(ENTITIES), ids=str)
async def test_after_a_narrowing_no_relation_yields_an_entity_of_the_category_taken_away(
    engine: AsyncEngine, run: Run, settings: Settings, withheld: str
) -> None:
    school_id, _, partner_id, client_id = await _licensed_world(engine)
    await grant(engine, school_id, partner_id, list(DataCategory))
    before = _by_type(await run(EVERYTHING, scope=await scope_of_partner(engine, settings, client_id)))
    assert set(before) == {"School", *ENTITIES}, "the world must show every entity before the narrowing"

    await grant(engine, school_id, partner_id, [c for c in DataCategory if c is not ENTITIES[withheld]])
    scope = await scope_of_partner(engine, settings, client_id)
    after = _by_type(await run(EVERYTHING, scope=scope))

    assert withheld not in after
    # The other entities are still there, so every relation to the withheld one was walked.
    assert set(after) == {"School", *ENTITIES} - {withheld}
    for kept in sorted(before[withheld]):
        node = await run(NODE, {"id": kept}, scope=scope)
        assert node["data"]["node"] is None, kept
        assert [error["code"] for error in node["errors"]] == ["NOT_FOUND"]
    representations = [{"__typename": withheld, "id": kept} for kept in sorted(before[withheld])]
    entities = await run(ENTITIES_QUERY, {"representations": representations}, scope=scope)
    assert entities["errors"] == []
    assert entities["data"]["_entities"] == [None] * len(representations)
