"""A school year of licenses end to end, over HTTP with real tokens on the real application: a LAS pushes a
school; a teacher activates the account through the mail read from a local SMTP server (aiosmtpd); a
publisher creates a product and a license and couples it to year level 5; the graph shows the product to
group 5 and to nobody in group 4; the same file again keeps everything added by hand; next year's file and
the hub's clock past 1 August move the rule to next year's group 5.
The coordinator also gives Piet Mol an intern role (`addStaffRole`), which the same file again keeps.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from datasources.access.signing_keys import load_keyset
from datasources.school_files.edexml_writer import write_edexml
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from resolvers import admin
from tests.e2e.conftest import operator_token_at
from tests.e2e.test_feed import app_at, client_token, graphql
from tests.e2e.test_staff_mail import (
    COORDINATOR,
    COORDINATOR_PASSWORD,
    GOOD_PASSWORD,
    SIGN_IN,
    T0,
    Mailbox,
    _first_code,
    _free_port,
    _mail_settings,
    _token,
    running_hub,
    smtp_server,
)

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

TEACHER_5, TEACHER_4 = "els.kok@school.example", "piet.mol@school.example"
AUGUST_2 = dt.datetime(2027, 8, 2, 9, 0, tzinfo=dt.UTC)
WHO_OPENS = """query($c: String!) { school(code: $c) { groups(first: 10) { edges { node { name schoolYear
    students(first: 10) { edges { node { pseudonym firstName products { name } } } }
    staff(first: 10) { edges { node { pseudonym lastName products { name } } } } } } } } }"""


def _file(code: str, year: str, groups: tuple[ImportedGroup, ...]) -> SchoolFile:
    """Two pupils in the group of key L5 and one in L4; Els Kok teaches L5, Piet Mol L4 (keys the seeded
    world's groups, G1-G8, do not have)."""
    pupils = tuple(
        ImportedStudent(f"S{n}", None, name, None, "Visser", "L", dt.date(2018, 3, n + 1), key[1], key, ())
        for n, (name, key) in enumerate((("Anna", "L5"), ("Bram", "L5"), ("Cas", "L4")))
    )
    staff = (
        ImportedStaff("M1", None, "Els", None, "Kok", TEACHER_5, ("LRK",), ("L5",)),
        ImportedStaff("M2", None, "Piet", None, "Mol", TEACHER_4, ("LRK",), ("L4",)),
    )
    return SchoolFile(code[:4], code[4:], year, None, groups, pupils, staff, source="test")


THIS_YEAR = (ImportedGroup("L4", "Groep 4", "4", composite=False), ImportedGroup("L5", "Groep 5", "5", False))
#: Next year the LAS keeps its keys: L5 is group 6 now, and L4 (last year's group 4) is group 5.
NEXT_YEAR = (ImportedGroup("L5", "Groep 6", "6", composite=False), ImportedGroup("L4", "Groep 5", "5", False))


async def _push(client: httpx.AsyncClient, las_token: str, school: SchoolFile) -> None:
    response = await client.post(
        "/las/edex",
        content=write_edexml(school),
        params={"confirm": "true"},
        headers={"Authorization": f"Bearer {las_token}", "Content-Type": "application/xml"},
    )
    assert response.status_code == 200, response.text


def _ok(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> str:
    response = await client.post(
        "/graphql", json={"query": SIGN_IN, "variables": {"e": email, "p": password}}
    )
    return str(_ok(response.json())["signIn"]["token"])


async def _who_opens(client: httpx.AsyncClient, code: str, token: str) -> dict[str, list[str]]:
    """Each group's members (by name) and the products they may open."""
    school = _ok(await graphql(client, WHO_OPENS, {"c": code}, token=token))["school"]
    opens: dict[str, list[str]] = {}
    for edge in school["groups"]["edges"]:
        group = edge["node"]
        for student in group["students"]["edges"]:
            name = student["node"]["firstName"] or student["node"]["pseudonym"]
            opens[f"{group['name']}/{name}"] = [product["name"] for product in student["node"]["products"]]
        for member in group["staff"]["edges"]:
            name = member["node"]["lastName"] or member["node"]["pseudonym"]
            opens[f"{group['name']}/{name}"] = [product["name"] for product in member["node"]["products"]]
    return opens


def _per_group(opens: dict[str, list[str]]) -> dict[str, list[list[str]]]:
    """What the members of each group may open, without their names (a publisher reads no names)."""
    found: dict[str, list[list[str]]] = {}
    for key, products in opens.items():
        found.setdefault(key.split("/")[0], []).append(products)
    return {group: sorted(products) for group, products in found.items()}


async def test_a_license_coupled_to_year_level_5_through_imports_and_the_school_year(
    world: SeedSummary, engine: AsyncEngine, settings: Settings
) -> None:
    # The hub's clock is T0 (a day of the seeded school year); the operator's token is issued then.
    operator_token = operator_token_at(await load_keyset(engine, now=T0), settings, T0)
    port = _free_port()
    at = _mail_settings(settings, port)
    code = await _first_code(engine)
    mailbox = Mailbox()
    async with smtp_server(mailbox, port), running_hub(at, mailbox, code) as hub:
        client = hub.client
        board_of = "query($c: String!) { school(code: $c) { board { number } } }"
        board = _ok(await graphql(client, board_of, {"c": code}, token=operator_token))["school"]["board"][
            "number"
        ]
        _ok(await graphql(client, """mutation($b: String!) { recordDpaSignature(boardNumber: $b,
            signedBy: "J. de Wit", chamberOfCommerceNumber: "12345678", version: "2026") { number } }""",
            {"b": board}, token=operator_token))  # fmt: skip

        # A LAS pushes the school; the coordinator invites the teachers; Els Kok activates through the mail.
        las = await admin.create_las_client(at, "ParnasSys", [code])
        las_token = await client_token(client, las["client_id"], las["client_secret"])
        await _push(client, las_token, _file(code, "2026-2027", THIS_YEAR))
        await admin.add_school_coordinator(at, code, COORDINATOR, COORDINATOR_PASSWORD)
        coordinator = await _sign_in(client, COORDINATOR, COORDINATOR_PASSWORD)
        sent = _ok(await graphql(client, "mutation($c: String!) { sendActivationMails(schoolCode: $c) }",
                                 {"c": code}, token=coordinator))  # fmt: skip
        assert sent["sendActivationMails"] == 2
        messages = await mailbox.wait_for(2)
        [to_els] = [message for message in messages if message["To"] == TEACHER_5]
        activate = "mutation($t: String!, $p: String!) { activateAccount(token: $t, password: $p) { token } }"
        activated = await hub.call(activate, t=_token(to_els, "activeren"), p=GOOD_PASSWORD)
        assert "errors" not in activated, activated
        assert await _sign_in(client, TEACHER_5, GOOD_PASSWORD)

        # The coordinator gives Piet Mol, teacher of group 4, an intern role the LAS does not deliver.
        staff_roles = (
            "query($c: String!) { school(code: $c) { staff { edges { node { id lastName roles } } } } }"
        )

        async def roles_of(last_name: str) -> tuple[str, list[str]]:
            staff = _ok(await graphql(client, staff_roles, {"c": code}, token=coordinator))
            [member] = [
                edge["node"]
                for edge in staff["school"]["staff"]["edges"]
                if edge["node"]["lastName"] == last_name
            ]
            return member["id"], sorted(member["roles"])

        mol, _roles = await roles_of("Mol")
        given = _ok(await graphql(client, """mutation($s: ID!) { addStaffRole(staffId: $s, role: INTERN) {
            roles } }""", {"s": mol}, token=coordinator))["addStaffRole"]  # fmt: skip
        assert sorted(given["roles"]) == ["INTERN", "TEACHER"]

        # A publisher, with LICENSE consent, licenses a product and couples it to year level 5.
        created = _ok(await graphql(client, """mutation { createPartner(name: "Uitgeverij Noord",
            kind: PUBLISHER, declaredCategories: [GROUP_BASIC, STUDENT_BASIC, STAFF_BASIC, LICENSE]) {
            partner { id } clientId clientSecret } }""", token=operator_token))["createPartner"]  # fmt: skip
        _ok(await graphql(client, """mutation($c: String!, $p: ID!) { grantConsent(schoolCode: $c,
            partnerId: $p, categories: [GROUP_BASIC, STUDENT_BASIC, STAFF_BASIC, LICENSE]) { categories }
            }""",
            {"c": code, "p": created["partner"]["id"]}, token=coordinator))  # fmt: skip
        publisher = await client_token(client, created["clientId"], created["clientSecret"])
        product = _ok(
            await graphql(
                client,
                """mutation { createProduct(name: "Rekenroute", allowedAtHome: true,
            launchUrl: "https://rekenroute.example/start") { id } }""",
                token=publisher,
            )
        )["createProduct"]
        license_ = _ok(await graphql(client, """mutation($c: String!, $p: ID!) { createLicense(schoolCode: $c,
            productId: $p, seats: 25, validFrom: "2026-08-01") { id } }""",
            {"c": code, "p": product["id"]}, token=publisher))["createLicense"]  # fmt: skip
        coupled = _ok(await graphql(client, """mutation($l: ID!) { coupleLicense(licenseId: $l,
            yearLevels: ["5"]) { coupledYearLevels coupledGroups { name } } }""",
            {"l": license_["id"]}, token=publisher))["coupleLicense"]  # fmt: skip
        assert coupled == {"coupledYearLevels": ["5"], "coupledGroups": [{"name": "Groep 5"}]}

        expected = {
            "Groep 5/Anna": ["Rekenroute"], "Groep 5/Bram": ["Rekenroute"], "Groep 5/Kok": ["Rekenroute"],
            "Groep 4/Cas": [], "Groep 4/Mol": [],
        }  # fmt: skip
        assert await _who_opens(client, code, coordinator) == expected
        assert _per_group(await _who_opens(client, code, publisher)) == _per_group(expected)

        # The same file again: the activated account, the consent, the license and its coupling stay.
        await _push(client, las_token, _file(code, "2026-2027", THIS_YEAR))
        assert await _sign_in(client, TEACHER_5, GOOD_PASSWORD)
        assert await roles_of("Mol") == (mol, ["INTERN", "TEACHER"])
        assert await _who_opens(client, code, coordinator) == expected
        assert _per_group(await _who_opens(client, code, publisher)) == _per_group(expected)

        # Next year's file comes before the summer.
        await _push(client, las_token, _file(code, "2027-2028", NEXT_YEAR))

    # Past 1 August: the rule couples next year's group 5 (last year's group 4), not group 6 (key L5).
    async with app_at(at, AUGUST_2) as client:
        coordinator = await _sign_in(client, COORDINATOR, COORDINATOR_PASSWORD)
        assert await _who_opens(client, code, coordinator) == {
            "Groep 6/Anna": [], "Groep 6/Bram": [], "Groep 6/Kok": [],
            "Groep 5/Cas": ["Rekenroute"], "Groep 5/Mol": ["Rekenroute"],
        }  # fmt: skip
        publisher = await client_token(client, created["clientId"], created["clientSecret"])
        coupled_groups = (
            "query($l: ID!) { node(id: $l) { ... on License { coupledGroups { name schoolYear } } } }"
        )
        found = _ok(await graphql(client, coupled_groups, {"l": license_["id"]}, token=publisher))
        groups = found["node"]["coupledGroups"]
        assert groups == [{"name": "Groep 5", "schoolYear": "2027-2028"}]
