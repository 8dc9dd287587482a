"""The self-check (`me`, the page at `/`) and a school's sign-in shortcuts, end to end over HTTP with real
tokens and real web sessions on the real application, on both engines.

The school: a LAS file with groups 4, 5 and 6; Els Kok teaches groups 4 and 5 and substitutes in group 6
until a date (a coordinator's `addStaffRole`), Piet Mol teaches group 6. A publisher, with the school's
consent, licenses "Rekenen <b>Plus</b>" to year level 5 and "Taalroute" to year level 6; a second publisher
without consent has a license coupled to group 5 that nobody may open.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import plistlib
import re
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.credentials import hash_secret
from auth.identifiers import global_id
from auth.viewer import Viewer, ViewerKind
from datasources.access import school_networks
from datasources.access.accounts import school_id_by_code
from datasources.access.signing_keys import load_keyset
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from datasources.store.tables import GROUPS, PRODUCTS, SCHOOLS, STAFF_ACCOUNTS, STAFF_MEMBERS, STUDENTS
from resolvers import admin
from resolvers.launch_rules import (
    LaunchableProduct,
    LaunchContext,
    LaunchRefusal,
    launch_decision,
    launch_path,
    launchable_products,
    product_id_from_path,
)
from resolvers.requests import Services, open_request
from resolvers.signing import Keys
from resolvers.student_logins import set_student_login
from server import create_app
from settings import Settings
from tests.e2e.conftest import operator_token_at
from tests.e2e.test_feed import client_token, graphql
from tests.e2e.web import graphql as session_graphql
from tests.e2e.web import sign_in_staff, sign_in_student

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from datasources.sandbox.world import SeedSummary

T0 = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)
SUBSTITUTE_UNTIL = dt.date(2026, 10, 9)
ELS, PIET = "els.kok@school.example", "piet.mol@school.example"
COORDINATOR, PASSWORD = "ict@school.example", "a-long-coordinator-password"
TEACHER_PASSWORD = "tulp fiets regen kompas"
STUDENT_PASSWORD = "zonnebloem-42"
SIGN_IN = "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { token } }"
ME = """{ me { kind school { code name } schools { code } roles
    groups { id name yearLevel schoolYear schoolCode role until students { id firstName prefix lastName } }
    products { id name partnerName launchUrl allowedAtHome schoolCode } } }"""
SHORTCUTS = """query($c: String!) { school(code: $c) { instellingRef
    shortcuts { fileName mediaType format audience url content } } }"""
PLUS = "Rekenen <b>Plus</b>"


def _file(code: str) -> SchoolFile:
    pupils = tuple(
        ImportedStudent(f"S{n}", None, name, prefix, last, "L", dt.date(2018, 3, n + 1), level, key, ())
        for n, (name, prefix, last, level, key) in enumerate(
            (
                ("Anna", None, "Visser", "5", "L5"),
                ("Bram", "de", "Vries", "5", "L5"),
                ("Cas", None, "Bakker", "4", "L4"),
                ("Dirk", None, "Smit", "6", "L6"),
            )
        )
    )
    staff = (
        ImportedStaff("M1", None, "Els", None, "Kok", ELS, ("LRK",), ("L4", "L5")),
        ImportedStaff("M2", None, "Piet", None, "Mol", PIET, ("LRK",), ("L6",)),
    )
    groups = (
        ImportedGroup("L4", "Groep 4", "4", composite=False),
        ImportedGroup("L5", "Groep 5", "5", composite=False),
        ImportedGroup("L6", "Groep 6", "6", composite=False),
    )
    return SchoolFile(code[:4], code[4:], "2026-2027", None, groups, pupils, staff, source="test")


def _ok(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


@contextlib.asynccontextmanager
async def browser(settings: Settings, now: dt.datetime = T0) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client of a new application instance whose clock is `now`."""
    app = create_app(settings.model_copy(update={"now_override": now}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield client


async def _activate(engine: AsyncEngine, email: str) -> None:
    """The teacher activated their account (the mail round trip is tests/e2e/test_staff_mail.py's)."""
    async with engine.begin() as connection:
        await connection.execute(
            STAFF_ACCOUNTS.insert().values(
                email=email,
                password_hash=hash_secret(TEACHER_PASSWORD),
                active=True,
                created_at=T0,
                created_by="t",
            )
        )
        await connection.execute(
            update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.email == email).values(active=True)
        )


@dataclass
class School:
    """The school of these tests, with the tokens of the people and partners around it."""

    code: str
    other_code: str
    settings: Settings
    engine: AsyncEngine
    operator: str
    coordinator: str
    publisher: str
    stranger: str
    plus_id: str
    taal_id: str

    async def sign_in(self, client: httpx.AsyncClient, email: str, password: str = TEACHER_PASSWORD) -> str:
        return await _sign_in(client, email, password)


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> str:
    """A staff token from `signIn`, asked without a token as a client does."""
    response = await client.post(
        "/graphql", json={"query": SIGN_IN, "variables": {"e": email, "p": password}}
    )
    return str(_ok(response.json())["signIn"]["token"])


async def _build(client: httpx.AsyncClient, settings: Settings, engine: AsyncEngine) -> School:
    async with engine.connect() as connection:
        code, other = [
            str(c) for c in (await connection.scalars(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id)))
        ][:2]
    at = settings.model_copy(update={"now_override": T0})
    report = await admin.import_file(at, lambda: _file(code), dry_run=False, confirm=True)
    assert not report.errors, report.errors
    await admin.add_school_coordinator(at, code, COORDINATOR, PASSWORD)
    await _activate(engine, ELS)
    await _activate(engine, PIET)
    keyset_token = operator_token_at(await load_keyset(engine, now=T0), at, T0)
    board = _ok(
        await graphql(
            client,
            "query($c: String!) { school(code: $c) { board { number } } }",
            {"c": code},
            token=keyset_token,
        )
    )["school"]["board"]["number"]
    _ok(
        await graphql(
            client,
            """mutation($b: String!) { recordDpaSignature(boardNumber: $b, signedBy: "J. de Wit",
        chamberOfCommerceNumber: "12345678", version: "2026") { number } }""",
            {"b": board},
            token=keyset_token,
        )
    )
    coordinator = await _sign_in(client, COORDINATOR, PASSWORD)

    # Els substitutes in group 6 until Friday.
    staff = _ok(
        await graphql(
            client,
            """query($c: String!) { school(code: $c) { staff { edges { node { id lastName } } }
        groups { edges { node { id name } } } } }""",
            {"c": code},
            token=coordinator,
        )
    )["school"]
    els = next(e["node"]["id"] for e in staff["staff"]["edges"] if e["node"]["lastName"] == "Kok")
    group_6 = next(e["node"]["id"] for e in staff["groups"]["edges"] if e["node"]["name"] == "Groep 6")
    _ok(
        await graphql(
            client,
            """mutation($s: ID!, $g: [ID!], $u: Date) { addStaffRole(staffId: $s, role: SUBSTITUTE,
        groupIds: $g, until: $u) { roles } }""",
            {"s": els, "g": [group_6], "u": SUBSTITUTE_UNTIL.isoformat()},
            token=coordinator,
        )
    )

    async def publisher(name: str, consent: bool) -> tuple[str, str]:
        created = _ok(
            await graphql(
                client,
                """mutation($n: String!) { createPartner(name: $n, kind: PUBLISHER,
            declaredCategories: [GROUP_BASIC, STUDENT_BASIC, STAFF_BASIC, LICENSE]) { partner { id } clientId
            clientSecret } }""",
                {"n": name},
                token=keyset_token,
            )
        )["createPartner"]
        # A connected partner (a login-initiation URI): a product of an unconnected one shows no tile.
        _ok(
            await graphql(
                client,
                """mutation($p: ID!) { registerOidcClient(partnerId: $p, redirectUris:
            ["https://product.example/callback"], loginInitiationUri: "https://product.example/login")
            { name } }""",
                {"p": created["partner"]["id"]},
                token=keyset_token,
            )
        )
        if consent:
            _ok(
                await graphql(
                    client,
                    """mutation($c: String!, $p: ID!) { grantConsent(schoolCode: $c, partnerId: $p,
                categories: [GROUP_BASIC, STUDENT_BASIC, STAFF_BASIC, LICENSE]) { categories } }""",
                    {"c": code, "p": created["partner"]["id"]},
                    token=coordinator,
                )
            )
        return await client_token(client, created["clientId"], created["clientSecret"]), created["partner"][
            "id"
        ]

    async def licensed(token: str, name: str, level: str) -> str:
        product = _ok(
            await graphql(
                client,
                """mutation($n: String!) { createProduct(name: $n, allowedAtHome: true,
            launchUrl: "https://product.example/start") { id } }""",
                {"n": name},
                token=token,
            )
        )["createProduct"]
        license_ = _ok(
            await graphql(
                client,
                """mutation($c: String!, $p: ID!) { createLicense(schoolCode: $c,
            productId: $p, validFrom: "2026-08-01") { id } }""",
                {"c": code, "p": product["id"]},
                token=token,
            )
        )
        _ok(
            await graphql(
                client,
                """mutation($l: ID!, $y: [String!]) { coupleLicense(licenseId: $l, yearLevels: $y)
            { id } }""",
                {"l": license_["createLicense"]["id"], "y": [level]},
                token=token,
            )
        )
        return str(product["id"])

    noord, _ = await publisher("Uitgeverij Noord", consent=True)
    plus = await licensed(noord, PLUS, "5")
    taal = await licensed(noord, "Taalroute", "6")
    # A publisher the school never consented to cannot even license here (LICENSE consent is needed): its
    # product never reaches anyone.
    stranger, _ = await publisher("Uitgeverij Zuid", consent=False)
    return School(code, other, at, engine, keyset_token, coordinator, noord, stranger, plus, taal)


@pytest.fixture
async def school(world: SeedSummary, engine: AsyncEngine, settings: Settings) -> AsyncIterator[School]:
    del world
    async with browser(settings) as client:
        yield await _build(client, settings, engine)


async def test_me_for_a_teacher_with_two_groups_and_a_substitute_group(school: School) -> None:
    async with browser(school.settings) as client:
        token = await school.sign_in(client, ELS)
        me = _ok(await graphql(client, ME, token=token))["me"]
    assert me["kind"] == "STAFF"
    assert me["school"]["code"] == school.code
    assert [s["code"] for s in me["schools"]] == [school.code]
    assert me["roles"] == ["SUBSTITUTE", "TEACHER"]
    groups = {group["name"]: group for group in me["groups"]}
    assert sorted(groups) == ["Groep 4", "Groep 5", "Groep 6"]
    assert (groups["Groep 5"]["role"], groups["Groep 5"]["until"]) == ("TEACHER", None)
    assert (groups["Groep 6"]["role"], groups["Groep 6"]["until"]) == ("SUBSTITUTE", "2026-10-09")
    names = {
        name: [(s["firstName"], s["prefix"], s["lastName"]) for s in g["students"]]
        for name, g in groups.items()
    }
    assert names == {
        "Groep 4": [("Cas", None, "Bakker")],
        "Groep 5": [("Anna", None, "Visser"), ("Bram", "de", "Vries")],
        "Groep 6": [("Dirk", None, "Smit")],
    }
    # Group 5's product and, as substitute, group 6's; the stranger's none. Launch URLs on the issuer.
    assert [(p["name"], p["partnerName"]) for p in me["products"]] == [
        (PLUS, "Uitgeverij Noord"),
        ("Taalroute", "Uitgeverij Noord"),
    ]
    issuer = school.settings.issuer.rstrip("/")
    for product in me["products"]:
        assert product["launchUrl"] == f"{issuer}/launch/{product['id']}"
        assert product["allowedAtHome"] is True


async def test_a_substitutes_group_and_its_product_end_after_the_until_date(school: School) -> None:
    async with browser(school.settings, now=dt.datetime(2026, 10, 12, 9, tzinfo=dt.UTC)) as client:
        token = await school.sign_in(client, ELS)
        me = _ok(await graphql(client, ME, token=token))["me"]
    assert [group["name"] for group in me["groups"]] == ["Groep 4", "Groep 5"]
    assert [product["name"] for product in me["products"]] == [PLUS]


async def test_a_teacher_of_group_6_sees_only_group_6_and_its_product(school: School) -> None:
    async with browser(school.settings) as client:
        me = _ok(await graphql(client, ME, token=await school.sign_in(client, PIET)))["me"]
    assert [(g["name"], [s["firstName"] for s in g["students"]]) for g in me["groups"]] == [
        ("Groep 6", ["Dirk"])
    ]
    assert [product["name"] for product in me["products"]] == ["Taalroute"]


async def test_a_revoked_consent_takes_the_product_off_me(school: School) -> None:
    async with browser(school.settings) as client:
        partners = _ok(
            await graphql(
                client,
                "query($c: String!) { school(code: $c) { consents { edges { node {"
                " partner { id name } revokedAt } } } } }",
                {"c": school.code},
                token=school.coordinator,
            )
        )
        noord = next(
            e["node"]["partner"]["id"]
            for e in partners["school"]["consents"]["edges"]
            if e["node"]["partner"]["name"] == "Uitgeverij Noord" and e["node"]["revokedAt"] is None
        )
        _ok(
            await graphql(
                client,
                "mutation($c: String!, $p: ID!) { revokeConsent(schoolCode: $c, partnerId: $p)"
                " { revokedAt } }",
                {"c": school.code, "p": noord},
                token=school.coordinator,
            )
        )
        me = _ok(await graphql(client, ME, token=await school.sign_in(client, ELS)))["me"]
    assert me["products"] == []
    assert len(me["groups"]) == 3  # the groups stay: only the partner lost the school


async def test_me_for_a_student_shows_their_group_and_no_other_pupil(school: School) -> None:
    async with school.engine.connect() as connection:
        anna = await connection.scalar(select(STUDENTS.c.id).where(STUDENTS.c.first_name == "Anna"))
    services = Services(school.settings, school.engine, Keys(school.engine, school.settings))
    async with browser(school.settings) as client:
        operator = Viewer(ViewerKind.OPERATOR, "helpdesk")
        async with open_request(services, operator) as ctx:
            await set_student_login(ctx, str(anna), "anna.visser", STUDENT_PASSWORD, None)
        await sign_in_student(client, school.code, "anna.visser", password=STUDENT_PASSWORD)
        response = await session_graphql(client, ME)
        me = _ok(response.json())["me"]
        # Staff-only data stays closed to a student: the school's staff, and the school's reference.
        staff = _ok(
            (
                await session_graphql(
                    client,
                    SHORTCUTS.replace("instellingRef", "staff { edges { node { id } } }"),
                    {"c": school.code},
                )
            ).json()
        )
        page = await client.get("/")
    assert me["kind"] == "STUDENT"
    assert me["roles"] == []
    assert [(g["name"], g["role"], g["students"]) for g in me["groups"]] == [("Groep 5", None, [])]
    assert [product["name"] for product in me["products"]] == [PLUS]
    assert staff == {"school": None}
    assert page.status_code == 200
    assert "Groep 5" in page.text
    assert "Bram" not in page.text  # a classmate
    assert "Rekenen &lt;b&gt;Plus&lt;/b&gt;" in page.text


async def test_the_start_page_after_a_real_sign_in_shows_the_groups_and_the_product_tiles(
    school: School,
) -> None:
    async with browser(school.settings) as client:
        anonymous = await client.get("/")
        await sign_in_staff(client, ELS, TEACHER_PASSWORD)
        page = await client.get("/")
        me = _ok((await session_graphql(client, ME)).json())["me"]
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2F"
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="nl">' in page.text
    assert "<script" not in page.text
    for name in (
        "Groep 4",
        "Groep 5",
        "Groep 6",
        "Anna",
        "Bram",
        "Vries",
        "Dirk",
        "Startcheck",
        "Als invaller",
    ):
        assert name in page.text, name
    # The partner's text is escaped, never markup; each tile opens /launch/{id} as `me` says.
    assert "<b>Plus</b>" not in page.text
    assert "Rekenen &lt;b&gt;Plus&lt;/b&gt;" in page.text
    tiles = re.findall(r'<a class="tegel" href="([^"]+)">', page.text)
    assert tiles == [product["launchUrl"] for product in me["products"]]
    assert "Kan ik inloggen?" in page.text
    assert "Je ziet 4 leerlingen" in page.text


async def test_partners_las_clients_and_the_operator_get_no_me_and_no_shortcuts(school: School) -> None:
    async with browser(school.settings) as client:
        for token in (school.publisher, school.stranger, school.operator):
            body = _ok(await graphql(client, "{ me { kind groups { students { lastName } } } }", token=token))
            assert body == {"me": None}
        # A consented partner sees the school, but not its reference or shortcuts.
        seen = _ok(await graphql(client, SHORTCUTS, {"c": school.code}, token=school.publisher))["school"]
        assert seen == {"instellingRef": None, "shortcuts": []}
        las = await admin.create_las_client(school.settings, "ParnasSys", [school.code])
        las_token = await client_token(client, las["client_id"], las["client_secret"])
        refused = await client.post(
            "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {las_token}"}
        )
        forged = await client.post("/graphql", json={"query": ME}, headers={"Authorization": "Bearer x.y.z"})
    assert refused.status_code == 403
    assert "Visser" not in refused.text
    assert forged.status_code == 401


async def test_the_coordinator_downloads_shortcuts_that_carry_the_schools_reference(school: School) -> None:
    async with browser(school.settings) as client:
        found = _ok(await graphql(client, SHORTCUTS, {"c": school.code}, token=school.coordinator))["school"]
        again = _ok(await graphql(client, SHORTCUTS, {"c": school.code}, token=school.coordinator))["school"]
        operator = _ok(await graphql(client, SHORTCUTS, {"c": school.code}, token=school.operator))["school"]
        other = _ok(await graphql(client, SHORTCUTS, {"c": school.other_code}, token=school.coordinator))[
            "school"
        ]
        teacher = _ok(
            await graphql(client, SHORTCUTS, {"c": school.code}, token=await school.sign_in(client, ELS))
        )
        ref = found["instellingRef"]
        files = {file["fileName"]: file for file in found["shortcuts"]}
        link = urllib.parse.urlsplit(files[f"leerpoort-{school.code.lower()}-leerlingen.url"]["url"])
        opened = await client.get(f"{link.path}?{link.query}")
    async with school.engine.connect() as connection:
        stored = await connection.scalar(
            select(SCHOOLS.c.instelling_ref).where(SCHOOLS.c.code == school.code)
        )
        school_name = await connection.scalar(select(SCHOOLS.c.name).where(SCHOOLS.c.code == school.code))
    assert ref == stored
    assert found == again == operator  # stable: the same files every time
    assert other is None  # a coordinator of school A never sees school B
    assert teacher == {"school": None}
    stem = f"leerpoort-{school.code.lower()}"
    assert sorted(files) == sorted(
        f"{stem}-{who}.{ext}"
        for who in ("leerkrachten", "leerlingen")
        for ext in ("url", "mobileconfig", "json")
    )
    public = school.settings.public_url.rstrip("/")
    staff_url = f"{public}/login?{urllib.parse.urlencode({'school': ref})}"
    student_url = f"{public}/login?{urllib.parse.urlencode({'school': ref, 'soort': 'leerling'})}"
    assert files[f"{stem}-leerkrachten.url"]["content"] == f"[InternetShortcut]\r\nURL={staff_url}\r\n"
    assert files[f"{stem}-leerlingen.url"]["url"] == student_url
    uuids = set()
    for who, url in (("leerkrachten", staff_url), ("leerlingen", student_url)):
        profile_file = files[f"{stem}-{who}.mobileconfig"]
        assert profile_file["mediaType"] == "application/x-apple-aspen-config"
        profile = plistlib.loads(profile_file["content"].encode())
        assert profile["PayloadType"] == "Configuration"
        [clip] = profile["PayloadContent"]
        assert clip["PayloadType"] == "com.apple.webClip.managed"
        assert clip["URL"] == url
        uuids |= {profile["PayloadUUID"], clip["PayloadUUID"]}
        bookmarks = json.loads(files[f"{stem}-{who}.json"]["content"])
        assert bookmarks[0] == {"toplevel_name": "Leerpoort"}
        assert [set(entry) for entry in bookmarks[1:]] == [{"name", "url"}]
        assert bookmarks[1]["url"] == url
    assert len(uuids) == 4  # unique per payload, stable per school (compared above)
    assert opened.status_code == 200
    assert f"Aanmelden bij {school_name}" in html.unescape(opened.text)


async def test_shortcuts_keep_their_reference_through_the_school_year_transition(school: School) -> None:
    async with browser(school.settings) as client:
        before = _ok(await graphql(client, SHORTCUTS, {"c": school.code}, token=school.coordinator))["school"]
    next_year = _file(school.code)
    next_year = SchoolFile(
        next_year.brin,
        next_year.location_code,
        "2027-2028",
        None,
        next_year.groups,
        next_year.students,
        next_year.staff,
        source="test",
    )
    report = await admin.import_file(school.settings, lambda: next_year, dry_run=False, confirm=True)
    assert not report.errors, report.errors
    august = dt.datetime(2027, 8, 2, 9, tzinfo=dt.UTC)
    async with browser(school.settings, now=august) as client:
        token = await _sign_in(client, COORDINATOR, PASSWORD)
        after = _ok(await graphql(client, SHORTCUTS, {"c": school.code}, token=token))["school"]
    assert after == before


async def test_the_shortcut_download_is_for_the_schools_coordinator_only(school: School) -> None:
    name = f"leerpoort-{school.code.lower()}-leerlingen.mobileconfig"
    async with browser(school.settings) as client:
        await sign_in_staff(client, COORDINATOR, PASSWORD)
        mine = await client.get(f"/snelkoppelingen/{school.code}/{name}")
        theirs = await client.get(
            f"/snelkoppelingen/{school.other_code}/leerpoort-{school.other_code.lower()}-leerlingen.url"
        )
        nonsense = await client.get(f"/snelkoppelingen/{school.code}/..%2F..%2Fetc%2Fpasswd")
    async with browser(school.settings) as client:
        await sign_in_staff(client, ELS, TEACHER_PASSWORD)
        teacher = await client.get(f"/snelkoppelingen/{school.code}/{name}")
    async with browser(school.settings) as client:
        anonymous = await client.get(f"/snelkoppelingen/{school.code}/{name}")
    assert mine.status_code == 200
    assert mine.headers["content-type"].startswith("application/x-apple-aspen-config")
    assert mine.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert plistlib.loads(mine.content)["PayloadContent"][0]["PayloadType"] == "com.apple.webClip.managed"
    assert theirs.status_code == teacher.status_code == nonsense.status_code == 404
    assert anonymous.status_code == 303


async def _account(school: School, email: str) -> Viewer:
    async with school.engine.connect() as connection:
        account = await connection.scalar(select(STAFF_ACCOUNTS.c.id).where(STAFF_ACCOUNTS.c.email == email))
    return Viewer(ViewerKind.STAFF, str(account), frozenset({"staff"}))


async def test_the_launch_decision_that_the_launch_endpoint_calls(school: School) -> None:
    """`resolvers.launch_rules.launch_decision`, as `GET /launch/{productId}` asks it: the same rule as
    `me.products`, with the reason of a refusal."""
    at, engine = school.settings, school.engine
    els, piet = await _account(school, ELS), await _account(school, PIET)
    async with engine.connect() as connection:
        group_5 = await connection.scalar(
            select(GROUPS.c.id)
            .join(SCHOOLS, SCHOOLS.c.id == GROUPS.c.school_id)
            .where(GROUPS.c.las_key == "L5", SCHOOLS.c.code == school.code)
        )
        anna = await connection.scalar(select(STUDENTS.c.id).where(STUDENTS.c.first_name == "Anna"))
        ref = await connection.scalar(select(SCHOOLS.c.instelling_ref).where(SCHOOLS.c.code == school.code))
        plus = int(await connection.scalar(select(PRODUCTS.c.id).where(PRODUCTS.c.name == PLUS)) or 0)
        taal = int(await connection.scalar(select(PRODUCTS.c.id).where(PRODUCTS.c.name == "Taalroute")) or 0)
    allowed = await launch_decision(engine, at, els, plus, now=T0)
    assert isinstance(allowed, LaunchableProduct)
    assert (allowed.product_id, allowed.name, allowed.school_code, allowed.instelling_ref) == (
        plus,
        PLUS,
        school.code,
        ref,
    )
    assert (allowed.member_kind, allowed.group_ids, allowed.target_url) == (
        "staff",
        (group_5,),
        "https://product.example/start",
    )
    assert [p.product_id for p in await launchable_products(engine, at, els, now=T0)] == [plus, taal]
    assert await launch_decision(engine, at, piet, plus, now=T0) is LaunchRefusal.NO_LICENSE
    assert await launch_decision(engine, at, els, 999_999, now=T0) is LaunchRefusal.UNKNOWN_PRODUCT
    operator = Viewer(ViewerKind.OPERATOR, "helpdesk")
    assert await launch_decision(engine, at, operator, plus, now=T0) is LaunchRefusal.NOT_A_MEMBER
    # A student from home: the product allows it; the school must have enabled home login.
    student = Viewer(ViewerKind.STUDENT, str(anna), frozenset({"student"}))
    assert isinstance(await launch_decision(engine, at, student, plus, now=T0), LaunchableProduct)
    home = LaunchContext.HOME
    for enabled in (False, True):
        async with engine.begin() as connection:
            await connection.execute(
                update(SCHOOLS).where(SCHOOLS.c.code == school.code).values(home_login=enabled)
            )
        decided = await launch_decision(engine, at, student, plus, now=T0, context=home)
        assert isinstance(decided, LaunchableProduct) if enabled else decided is LaunchRefusal.NOT_AT_HOME
    async with engine.begin() as connection:
        await connection.execute(
            update(SCHOOLS).where(SCHOOLS.c.code == school.code).values(home_login=False)
        )
    outside = "203.0.113.5"
    # A school that registered no network has not said where it is: every address counts as at school.
    assert isinstance(
        await launch_decision(engine, at, student, plus, now=T0, address=outside), LaunchableProduct
    )
    # Once it registered its range, an address outside it is at home.
    school_id = await school_id_by_code(engine, school.code)
    assert school_id is not None
    await school_networks.add_network(engine, school_id, "192.0.2.0/24", now=T0)
    assert isinstance(
        await launch_decision(engine, at, student, plus, now=T0, address="192.0.2.9"), LaunchableProduct
    )
    assert (
        await launch_decision(engine, at, student, plus, now=T0, address=outside) is LaunchRefusal.NOT_AT_HOME
    )
    assert await launchable_products(engine, at, student, now=T0, address=outside) == []
    assert isinstance(
        await launch_decision(engine, at, els, plus, now=T0, address=outside), LaunchableProduct
    )
    assert isinstance(await launch_decision(engine, at, els, plus, now=T0, context=home), LaunchableProduct)
    assert await launch_decision(engine, at, student, taal, now=T0) is LaunchRefusal.NO_LICENSE
    # The substitute's group 6 ended on Friday: on Monday its product no longer opens for Els.
    monday = dt.datetime(2026, 10, 12, 9, tzinfo=dt.UTC)
    assert isinstance(await launch_decision(engine, at, els, taal, now=T0), LaunchableProduct)
    assert await launch_decision(engine, at, els, taal, now=monday) is LaunchRefusal.NO_LICENSE


@pytest.mark.parametrize(
    ("segment", "product_id"),
    [
        (global_id("Product", "12"), 12),
        (global_id("Product", "0"), 0),
        (global_id("Product", "012"), None),
        (global_id("Product", "-1"), None),
        (global_id("Group", "12"), None),
        (global_id("Product", "9" * 19), None),
        ("12", None),
        ("", None),
    ],
)
def test_a_launch_paths_product_id_is_the_product_id_a_person_is_shown(
    segment: str, product_id: int | None
) -> None:
    assert product_id_from_path(segment) == product_id
    if product_id is not None:
        assert launch_path(product_id) == f"/launch/{segment}"


async def test_a_coordinators_start_page_links_the_shortcuts_and_says_what_is_missing(school: School) -> None:
    async with browser(school.settings) as client:
        await sign_in_staff(client, COORDINATOR, PASSWORD)
        page = await client.get("/")
        links = re.findall(r'<a href="(/snelkoppelingen/[^"]+)" download>', page.text)
        downloads = [await client.get(link) for link in links]
    async with browser(school.settings) as client:
        await sign_in_staff(client, ELS, TEACHER_PASSWORD)
        teacher = await client.get("/")
    assert page.status_code == 200
    # The bootstrapped coordinator is no teacher: the startcheck says so, in Dutch.
    assert "Nee, je bent aan geen groep gekoppeld." in page.text
    assert "Nee, er is nog geen product aan je groep gekoppeld." in page.text
    assert len(links) == 6
    assert all(link.startswith(f"/snelkoppelingen/{school.code}/") for link in links)
    assert [response.status_code for response in downloads] == [200] * 6
    assert "/snelkoppelingen/" not in teacher.text
