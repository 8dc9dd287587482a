"""Licenses and products as an attacker reads them: a partner sees its own products only, and a person's
products follow the groups the graph says the person is in.

The seeded showcase school licenses every demo publisher's products to all its groups, so a partner that
could read another's licenses through `Group.licenses`, `Student.products` or `StaffMember.products` would
see them here. A substitute whose substitution ended is no longer in the group (`Group.staff`), so the
group's products are no longer theirs to open either. Both engines.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from datasources.sandbox.names import DEMO_PARTNERS
from datasources.store.tables import GROUP_STAFF, LICENSES, PARTNERS, PRODUCTS, SCHOOLS, STAFF_MEMBERS
from tests.e2e.test_hostile import _token

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

SCHOOL = """query($code: String!) { school(code: $code) {
    licenses(first: 100) { edges { node { product { name } } } }
    groups(first: 40) { edges { node { name licenses { product { name } }
        students(first: 40) { edges { node { id products { name } } } }
        staff(first: 40) { edges { node { id } } } } } }
    staff(first: 100) { edges { node { id products { name } } } } } }"""


async def _school(client: httpx.AsyncClient, token: str, code: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": SCHOOL, "variables": {"code": code}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    school: dict[str, Any] = body["data"]["school"]
    return school


def _names(items: list[dict[str, Any]]) -> set[str]:
    return {item["product"]["name"] if "product" in item else item["name"] for item in items}


async def test_a_partner_sees_only_its_own_licenses_and_products_where_others_license_the_same_groups(
    app_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, world: SeedSummary
) -> None:
    async with engine.connect() as connection:
        showcase = (
            await connection.execute(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id).limit(1))
        ).scalar_one()
    for partner in (p for p in DEMO_PARTNERS if "LICENSE" in p.declared_categories):
        own = {product.name for product in partner.products}
        token = await _token(engine, settings, f"partner:{partner.client_id}", "partner")
        school = await _school(app_client, token, showcase)

        licensed = _names([edge["node"] for edge in school["licenses"]["edges"]])
        groups = [edge["node"] for edge in school["groups"]["edges"]]
        by_group = set().union(*(_names(group["licenses"]) for group in groups))
        opened = {
            name
            for group in groups
            for edge in group["students"]["edges"]
            for name in _names(edge["node"]["products"])
        }
        assert licensed, f"{partner.client_id} has licenses at the showcase school"
        assert licensed <= own, partner.client_id
        assert by_group <= own, partner.client_id
        assert opened <= own, partner.client_id
    del world


async def test_a_substitute_whose_substitution_ended_opens_none_of_the_groups_products(
    app_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, world: SeedSummary
) -> None:
    publisher = DEMO_PARTNERS[0]  # the showcase school licenses its products to all groups
    token = await _token(engine, settings, f"partner:{publisher.client_id}", "partner")
    yesterday = settings.now().date() - dt.timedelta(days=1)
    async with engine.begin() as connection:
        school_id, code = (
            await connection.execute(select(SCHOOLS.c.id, SCHOOLS.c.code).order_by(SCHOOLS.c.id).limit(1))
        ).one()
        before = await _school(app_client, token, code)
        # Every link of the school's staff becomes a substitution that ended yesterday.
        await connection.execute(
            update(GROUP_STAFF)
            .where(
                GROUP_STAFF.c.staff_id.in_(
                    select(STAFF_MEMBERS.c.id).where(STAFF_MEMBERS.c.school_id == school_id)
                )
            )
            .values(role="SUBSTITUTE", until=yesterday)
        )
    after = await _school(app_client, token, code)

    assert any(edge["node"]["products"] for edge in before["staff"]["edges"]), "teachers open the products"
    assert all(not edge["node"]["staff"]["edges"] for edge in after["groups"]["edges"]), (
        "nobody in the groups"
    )
    assert [edge["node"]["products"] for edge in after["staff"]["edges"]] == [[]] * len(
        after["staff"]["edges"]
    )
    del world


async def test_without_the_license_category_a_partner_reads_none_of_its_own_licenses_or_products(
    app_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, world: SeedSummary
) -> None:
    # The showcase school holds a license of every demo partner's products, also of a network provider
    # that was never granted LICENSE: licenses, couplings and products stay out of its reach.
    partner = next(p for p in DEMO_PARTNERS if "LICENSE" not in p.declared_categories)
    token = await _token(engine, settings, f"partner:{partner.client_id}", "partner")
    async with engine.connect() as connection:
        showcase_id, showcase = (
            await connection.execute(select(SCHOOLS.c.id, SCHOOLS.c.code).order_by(SCHOOLS.c.id).limit(1))
        ).one()
        held = (
            await connection.execute(
                select(LICENSES.c.id)
                .join(PRODUCTS, PRODUCTS.c.id == LICENSES.c.product_id)
                .join(PARTNERS, PARTNERS.c.id == PRODUCTS.c.partner_id)
                .where(LICENSES.c.school_id == showcase_id, PARTNERS.c.client_id == partner.client_id)
            )
        ).all()
    assert held, "the school holds a license of this partner's product"

    school = await _school(app_client, token, showcase)

    groups = [edge["node"] for edge in school["groups"]["edges"]]
    assert groups, "it reads the groups (group.basic)"
    assert school["licenses"]["edges"] == []
    assert all(group["licenses"] == [] for group in groups)
    assert all(edge["node"]["products"] == [] for group in groups for edge in group["students"]["edges"])
    assert all(edge["node"]["products"] == [] for edge in school["staff"]["edges"])
    del world
