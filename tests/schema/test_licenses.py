"""Products and licenses: a publisher licenses its products to schools and couples them to groups and year
levels; the coordinator couples by hand; the graph shows what each group and person may open; another
publisher can neither see nor touch them; year-level rules hold across imports and the school year's start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from auth.categories import DataCategory
from auth.policy import Scope, StaffFacts, operator_scope, staff_scope
from auth.viewer import Viewer, ViewerKind
from datasources.imports.sync import sync_school
from datasources.school_files.model import ImportedGroup
from datasources.store.tables import LICENSE_GROUPS, LICENSE_RULES, LICENSES, PRODUCTS
from schema.relay import to_global_id
from tests.schema.conftest import OPERATOR, TODAY
from tests.schema.test_feed import (
    NEXT_YEAR,
    grant,
    new_board,
    new_partner,
    new_school,
    now_on,
    school_file,
    scope_of_partner,
    student,
    teacher,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.school_files.model import SchoolFile
    from settings import Settings
    from tests.schema.conftest import Run

GROUPS = (
    ImportedGroup("G4", "Groep 4", "4", composite=False),
    ImportedGroup("G5", "Groep 5", "5", composite=False),
)
#: Next school year: the LAS keeps its keys, so last year's group 5 (key G5) is now group 6, and a new
#: key holds the new group 5 (last year's group 4's pupils).
NEXT_GROUPS = (
    ImportedGroup("G5", "Groep 6", "6", composite=False),
    ImportedGroup("G4", "Groep 5", "5", composite=False),
)
STUDENTS = (
    student("S5A", main_group="G5", year_level="5"),
    student("S5B", main_group="G5", year_level="5"),
    student("S4A", main_group="G4", year_level="4"),
)
STAFF = (teacher("T5", groups=("G5",)), teacher("T4", groups=("G4",)))

CREATE_PRODUCT = (
    "mutation($name: String!) { createProduct(name: $name, allowedAtHome: true,"
    ' launchUrl: "https://methode.example/start") { id name allowedAtHome launchUrl } }'
)
CREATE_LICENSE = (
    "mutation($code: String!, $product: ID!, $seats: Int) { createLicense(schoolCode: $code,"
    ' productId: $product, seats: $seats, validFrom: "2026-08-01") { id seats validFrom validUntil } }'
)
COUPLE = (
    "mutation($license: ID!, $groups: [ID!], $levels: [String!]) { coupleLicense(licenseId: $license,"
    " groupIds: $groups, yearLevels: $levels) { id coupledYearLevels coupledGroups { name } } }"
)
UNCOUPLE = (
    "mutation($license: ID!, $groups: [ID!], $levels: [String!]) { uncoupleLicense(licenseId: $license,"
    " groupIds: $groups, yearLevels: $levels) { id coupledYearLevels coupledGroups { name } } }"
)
UPDATE = (
    "mutation($license: ID!, $seats: Int) { updateLicense(licenseId: $license, seats: $seats,"
    ' validFrom: "2026-08-01") { id seats } }'
)
END = "mutation($license: ID!) { endLicense(licenseId: $license) { id validUntil } }"
#: What each group, student and teacher of the school may open.
OPENS = (
    "query($code: String!) { school(code: $code) { groups(first: 20) { edges { node { id name"
    " licenses { id product { name } }"
    " students(first: 20) { edges { node { lastName products { name } } } }"
    " staff(first: 20) { edges { node { lastName products { name } } } } } } } } }"
)


@dataclass
class Setting:
    """A school with groups 4 and 5, two publishers with full consent there, and the scopes that ask."""

    school_id: int
    code: str
    publisher: Scope
    other_publisher: Scope
    coordinator: Scope


def _file(code: str, *, year: str = "2026-2027", groups: tuple[ImportedGroup, ...] = GROUPS) -> SchoolFile:
    return school_file(code, year=year, groups=groups, students=STUDENTS, staff=STAFF)


@pytest.fixture
async def setting(engine: AsyncEngine, settings: Settings) -> Setting:
    school_id, code = await new_school(engine, await new_board(engine))
    await sync_school(engine, _file(code), today=TODAY, now=now_on(TODAY))
    scopes = []
    for _ in range(2):
        partner_id, client_id = await new_partner(engine)
        await grant(engine, school_id, partner_id, DataCategory)
        scopes.append(await scope_of_partner(engine, settings, client_id))
    coordinator = staff_scope(Viewer(ViewerKind.STAFF, "1"), StaffFacts(1, frozenset({school_id})))
    return Setting(school_id, code, scopes[0], scopes[1], coordinator)


def ok(result: dict[str, Any]) -> dict[str, Any]:
    """The data of a result that must have no errors."""
    assert result["errors"] == [], result["errors"]
    data: dict[str, Any] = result["data"]
    return data


async def _license(run: Run, setting: Setting, *, seats: int | None = 30) -> str:
    product = ok(await run(CREATE_PRODUCT, {"name": "Rekenroute"}, scope=setting.publisher))["createProduct"]
    assert product["launchUrl"] == "https://methode.example/start"
    variables = {"code": setting.code, "product": product["id"], "seats": seats}
    created = ok(await run(CREATE_LICENSE, variables, scope=setting.publisher))["createLicense"]
    return str(created["id"])


async def _shown_to(run: Run, scope: Scope, code: str) -> str:
    """The id of the school's (only) license as this viewer is shown it."""
    found = ok(
        await run(
            "query($code: String!) { school(code: $code) { licenses { edges { node { id } } } } }",
            {"code": code},
            scope=scope,
        )
    )
    [edge] = found["school"]["licenses"]["edges"]
    return str(edge["node"]["id"])


async def _groups(run: Run, scope: Scope, code: str, today: dt.date = TODAY) -> dict[str, str]:
    data = ok(await run(OPENS, {"code": code}, scope=scope, today=today))
    return {edge["node"]["name"]: edge["node"]["id"] for edge in data["school"]["groups"]["edges"]}


async def _opens(run: Run, scope: Scope, code: str, today: dt.date = TODAY) -> dict[str, list[str]]:
    """Who may open what: each group's licensed products, and each person's products, by name."""
    data = ok(await run(OPENS, {"code": code}, scope=scope, today=today))
    found: dict[str, list[str]] = {}
    for edge in data["school"]["groups"]["edges"]:
        group = edge["node"]
        found[group["name"]] = [license_["product"]["name"] for license_ in group["licenses"]]
        for kind in ("students", "staff"):
            for person in group[kind]["edges"]:
                found[f"{group['name']}/{person['node']['lastName']}"] = [
                    product["name"] for product in person["node"]["products"]
                ]
    return found


async def _count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


STUDENT_5, TEACHER_5 = "Groep 5/Jansen", "Groep 5/Bakker"
STUDENT_4, TEACHER_4 = "Groep 4/Jansen", "Groep 4/Bakker"


async def test_a_license_coupled_to_year_level_5_is_what_group_5_opens_and_nobody_in_group_4(
    run: Run, setting: Setting
) -> None:
    license_id = await _license(run, setting)
    coupled = ok(await run(COUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.publisher))
    assert coupled["coupleLicense"]["coupledYearLevels"] == ["5"]
    assert [group["name"] for group in coupled["coupleLicense"]["coupledGroups"]] == ["Groep 5"]
    for scope in (operator_scope(OPERATOR), setting.coordinator, setting.publisher):
        opens = await _opens(run, scope, setting.code)
        assert opens["Groep 5"] == ["Rekenroute"]
        assert opens[STUDENT_5] == ["Rekenroute"]
        assert opens[TEACHER_5] == ["Rekenroute"]
        assert opens["Groep 4"] == []
        assert opens[STUDENT_4] == []
        assert opens[TEACHER_4] == []


async def test_another_publisher_neither_sees_nor_touches_the_license(
    run: Run, setting: Setting, engine: AsyncEngine
) -> None:
    license_id = await _license(run, setting)
    ok(await run(COUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.publisher))
    groups = await _groups(run, setting.other_publisher, setting.code)
    opens = await _opens(run, setting.other_publisher, setting.code)
    assert opens["Groep 5"] == []
    assert opens[STUDENT_5] == []
    assert opens[TEACHER_5] == []
    async with engine.connect() as connection:
        raw = await connection.scalar(select(LICENSES.c.id))
        product_raw = await connection.scalar(select(PRODUCTS.c.id).order_by(PRODUCTS.c.id.desc()))
    # The id the first publisher was shown, and the hub's own id, as global ids.
    for shown in (license_id, to_global_id("License", str(raw))):
        node = await run(
            "query($id: ID!) { node(id: $id) { id } }", {"id": shown}, scope=setting.other_publisher
        )
        assert node["data"] == {"node": None}
        assert [error["code"] for error in node["errors"]] == ["NOT_FOUND"]
        for document, variables in (
            (UPDATE, {"license": shown, "seats": 1000}),
            (END, {"license": shown}),
            (COUPLE, {"license": shown, "groups": [groups["Groep 4"]]}),
            (UNCOUPLE, {"license": shown}),
        ):
            refused = await run(document, variables, scope=setting.other_publisher)
            assert [error["code"] for error in refused["errors"]] == ["NOT_FOUND"], document
    # Nor does it license the first publisher's product, by any id.
    for product in (to_global_id("Product", str(product_raw)),):
        refused = await run(
            CREATE_LICENSE, {"code": setting.code, "product": product}, scope=setting.other_publisher
        )
        assert [error["code"] for error in refused["errors"]] == ["FORBIDDEN"]
    # Everything is as the first publisher left it.
    mine = ok(
        await run(
            "query($id: ID!) { node(id: $id) { ... on License { seats validUntil coupledYearLevels"
            " coupledGroups { name } } } }",
            {"id": license_id},
            scope=setting.publisher,
        )
    )
    assert mine["node"] == {
        "seats": 30, "validUntil": None, "coupledYearLevels": ["5"], "coupledGroups": [{"name": "Groep 5"}]
    }  # fmt: skip
    assert await _count(engine, LICENSES) == 1


async def test_more_students_than_seats_is_refused_and_nothing_is_coupled(
    run: Run, setting: Setting, engine: AsyncEngine
) -> None:
    license_id = await _license(run, setting, seats=1)
    refused = await run(COUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.publisher)
    assert [error["code"] for error in refused["errors"]] == ["BAD_USER_INPUT"]
    assert "1 seats" in refused["errors"][0]["message"]
    assert "2 students" in refused["errors"][0]["message"]
    assert await _count(engine, LICENSE_GROUPS) == 0
    assert await _count(engine, LICENSE_RULES) == 0
    # With room for both, the coupling goes through; fewer seats afterwards is refused as well.
    ok(await run(UPDATE, {"license": license_id, "seats": 2}, scope=setting.publisher))
    ok(await run(COUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.publisher))
    refused = await run(UPDATE, {"license": license_id, "seats": 1}, scope=setting.publisher)
    assert [error["code"] for error in refused["errors"]] == ["BAD_USER_INPUT"]
    async with engine.connect() as connection:
        assert await connection.scalar(select(LICENSES.c.seats)) == 2


async def test_a_school_without_license_consent_gets_no_license(
    run: Run, setting: Setting, engine: AsyncEngine, settings: Settings
) -> None:
    partner_id, client_id = await new_partner(engine)
    await grant(engine, setting.school_id, partner_id, set(DataCategory) - {DataCategory.LICENSE})
    scope = await scope_of_partner(engine, settings, client_id)
    product = ok(await run(CREATE_PRODUCT, {"name": "Topo"}, scope=scope))["createProduct"]
    refused = await run(CREATE_LICENSE, {"code": setting.code, "product": product["id"]}, scope=scope)
    assert [error["code"] for error in refused["errors"]] == ["FORBIDDEN"]
    assert "LICENSE consent" in refused["errors"][0]["message"]
    assert await _count(engine, LICENSES) == 0


async def test_only_a_publisher_creates_products(
    run: Run, setting: Setting, engine: AsyncEngine, settings: Settings
) -> None:
    for scope in (operator_scope(OPERATOR), setting.coordinator):
        refused = await run(CREATE_PRODUCT, {"name": "Eigen"}, scope=scope)
        assert [error["code"] for error in refused["errors"]] == ["FORBIDDEN"]
    assert await _count(engine, PRODUCTS) == 0


async def test_the_coordinator_couples_and_uncouples_by_hand_and_a_rule_group_is_uncoupled_by_level(
    run: Run, setting: Setting
) -> None:
    license_id = await _license(run, setting)
    groups = await _groups(run, setting.coordinator, setting.code)
    ok(await run(COUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.publisher))
    license_id = await _shown_to(run, setting.coordinator, setting.code)
    coupled = ok(
        await run(COUPLE, {"license": license_id, "groups": [groups["Groep 4"]]}, scope=setting.coordinator)
    )
    assert {group["name"] for group in coupled["coupleLicense"]["coupledGroups"]} == {"Groep 4", "Groep 5"}
    refused = await run(
        UNCOUPLE, {"license": license_id, "groups": [groups["Groep 5"]]}, scope=setting.coordinator
    )
    assert [error["code"] for error in refused["errors"]] == ["BAD_USER_INPUT"]
    left = ok(await run(UNCOUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.coordinator))
    assert left["uncoupleLicense"]["coupledGroups"] == [{"name": "Groep 4"}]
    assert left["uncoupleLicense"]["coupledYearLevels"] == []
    none = ok(
        await run(UNCOUPLE, {"license": license_id, "groups": [groups["Groep 4"]]}, scope=setting.coordinator)
    )
    assert none["uncoupleLicense"]["coupledGroups"] == []


async def test_an_ended_license_opens_nothing_from_today(run: Run, setting: Setting) -> None:
    license_id = await _license(run, setting)
    ok(await run(COUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.publisher))
    ended = ok(await run(END, {"license": license_id}, scope=setting.publisher))
    assert ended["endLicense"]["validUntil"] == (TODAY - dt.timedelta(days=1)).isoformat()
    opens = await _opens(run, setting.coordinator, setting.code)
    assert opens["Groep 5"] == []
    assert opens[STUDENT_5] == []
    assert opens[TEACHER_5] == []


async def test_a_re_import_keeps_hand_couplings_and_the_rule_couples_a_new_group_of_its_level(
    run: Run, setting: Setting, engine: AsyncEngine
) -> None:
    license_id = await _license(run, setting)
    groups = await _groups(run, setting.publisher, setting.code)
    ok(await run(COUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.publisher))
    # The publisher couples group 4 by hand, by the group's id as it is shown to the publisher.
    ok(await run(COUPLE, {"license": license_id, "groups": [groups["Groep 4"]]}, scope=setting.publisher))
    more = (*GROUPS, ImportedGroup("G5B", "Groep 5b", "5", composite=False))
    await sync_school(engine, _file(setting.code, groups=more), today=TODAY, now=now_on(TODAY))
    opens = await _opens(run, setting.coordinator, setting.code)
    assert opens["Groep 4"] == opens["Groep 5"] == opens["Groep 5b"] == ["Rekenroute"]


async def test_after_1_august_the_rule_couples_next_years_group_5_and_not_last_years_group_5(
    run: Run, setting: Setting, engine: AsyncEngine
) -> None:
    license_id = await _license(run, setting)
    ok(await run(COUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.publisher))
    july, august = dt.date(2027, 7, 10), dt.date(2027, 8, 2)
    await sync_school(
        engine, _file(setting.code, year=NEXT_YEAR, groups=NEXT_GROUPS), today=july, now=now_on(july)
    )
    opens = await _opens(run, setting.coordinator, setting.code, today=august)
    # Key G5 is now group 6: a rule's coupling does not follow its group, the rule couples the new group 5.
    assert opens["Groep 6"] == []
    assert opens["Groep 6/Jansen"] == []
    assert opens["Groep 5"] == ["Rekenroute"]
    assert opens["Groep 5/Jansen"] == ["Rekenroute"]
    mine = ok(
        await run(
            "query($id: ID!) { node(id: $id) { ... on License { coupledGroups { name schoolYear } } } }",
            {"id": license_id},
            scope=setting.publisher,
            today=august,
        )
    )
    assert mine["node"]["coupledGroups"] == [{"name": "Groep 5", "schoolYear": NEXT_YEAR}]


async def test_an_import_that_brings_more_students_than_seats_applies_the_rule_and_warns(
    run: Run, setting: Setting, engine: AsyncEngine
) -> None:
    license_id = await _license(run, setting, seats=2)
    ok(await run(COUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.publisher))
    more = (*GROUPS, ImportedGroup("G5B", "Groep 5b", "5", composite=False))
    newcomer = student("S5C", main_group="G5B", year_level="5")
    file = school_file(setting.code, groups=more, students=(*STUDENTS, newcomer), staff=STAFF)
    report = await sync_school(engine, file, today=TODAY, now=now_on(TODAY))
    assert report.applied
    assert any(
        "Rekenroute is coupled by year level to 3 students but has 2 seats" in warning
        for warning in report.warnings
    ), report.warnings
    opens = await _opens(run, setting.coordinator, setting.code)
    assert opens["Groep 5b"] == ["Rekenroute"]


async def test_a_group_of_a_ruled_level_is_not_uncoupled_by_id_even_when_coupled_by_hand_first(
    run: Run, setting: Setting, engine: AsyncEngine
) -> None:
    license_id = await _license(run, setting)
    groups = await _groups(run, setting.publisher, setting.code)
    ok(await run(COUPLE, {"license": license_id, "groups": [groups["Groep 5"]]}, scope=setting.publisher))
    ok(await run(COUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.publisher))
    refused = await run(
        UNCOUPLE, {"license": license_id, "groups": [groups["Groep 5"]]}, scope=setting.publisher
    )
    assert [error["code"] for error in refused["errors"]] == ["BAD_USER_INPUT"]
    assert "yearLevels" in refused["errors"][0]["message"]
    assert await _count(engine, LICENSE_GROUPS) == 1
    # Dropping the rule leaves the hand coupling made before it.
    left = ok(await run(UNCOUPLE, {"license": license_id, "levels": ["5"]}, scope=setting.publisher))
    assert left["uncoupleLicense"]["coupledGroups"] == [{"name": "Groep 5"}]
