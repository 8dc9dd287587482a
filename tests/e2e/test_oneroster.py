"""OneRoster 1.2 over HTTP and on the command line, for partners with real tokens on both engines.

The field lists below are copied from the 1.2 specifications (CSV Binding 1.2.1; Rostering Service REST/JSON
Binding 1.2) on purpose rather than imported from the code, so a header the code gets wrong fails here.
The content is compared with what the same partner reads in the graph: the same ids, pseudonyms and names.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import insert, select

from auth.categories import DataCategory
from auth.policy import operator_scope
from auth.tokens import PARTNER_TOKEN_LIFETIME, mint_token
from auth.viewer import Viewer, ViewerKind
from datasources.access import consent_lifecycle
from datasources.access.signing_keys import load_keyset
from datasources.store.tables import BOARDS, DISCLOSURES, SCHOOLS, STUDENTS
from resolvers.accounts import register_partner
from schema.relay import from_global_id, to_global_id
from tests.e2e.conftest import run_cli_beside_app

if TYPE_CHECKING:
    from pathlib import Path

    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

ROSTERING = "/ims/oneroster/rostering/v1p2"


def _words(text: str) -> list[str]:
    return text.split()


#: OneRoster CSV Binding 1.2.1, the header of each file in its normative order.
SPEC_HEADERS = {
    "manifest.csv": _words("propertyName value"),
    "orgs.csv": _words("sourcedId status dateLastModified name type identifier parentSourcedId"),
    "academicSessions.csv": _words(
        "sourcedId status dateLastModified title type startDate endDate parentSourcedId schoolYear"
    ),
    "courses.csv": _words(
        "sourcedId status dateLastModified schoolYearSourcedId title courseCode grades orgSourcedId "
        "subjects subjectCodes"
    ),
    "classes.csv": _words(
        "sourcedId status dateLastModified title grades courseSourcedId classCode classType location "
        "schoolSourcedId termSourcedIds subjects subjectCodes periods"
    ),
    "users.csv": _words(
        "sourcedId status dateLastModified enabledUser username userIds givenName familyName "
        "middleName identifier email sms phone agentSourcedIds grades password userMasterIdentifier "
        "resourceSourcedIds preferredGivenName preferredMiddleName preferredFamilyName "
        "primaryOrgSourcedId pronouns"
    ),
    "roles.csv": _words(
        "sourcedId status dateLastModified userSourcedId roleType role beginDate endDate orgSourcedId "
        "userProfileSourcedId"
    ),
    "enrollments.csv": _words(
        "sourcedId status dateLastModified classSourcedId schoolSourcedId userSourcedId role primary "
        "beginDate endDate"
    ),
    "demographics.csv": _words(
        "sourcedId status dateLastModified birthDate sex americanIndianOrAlaskaNative asian "
        "blackOrAfricanAmerican nativeHawaiianOrOtherPacificIslander white "
        "demographicRaceTwoOrMoreRaces hispanicOrLatinoEthnicity countryOfBirthCode "
        "stateOfBirthAbbreviation cityOfBirth publicSchoolResidenceStatus"
    ),
}
#: The 1.2 REST binding's properties of each object (what may appear in a response).
SPEC_PROPERTIES = {
    "org": _words("sourcedId status dateLastModified metadata name type identifier parent children"),
    "class": _words(
        "sourcedId status dateLastModified metadata title classCode classType location grades "
        "subjects course school terms subjectCodes periods resources"
    ),
    "user": _words(
        "sourcedId status dateLastModified metadata userMasterIdentifier username userIds enabledUser "
        "givenName familyName middleName preferredFirstName preferredMiddleName preferredLastName "
        "pronouns roles userProfiles identifier email sms phone agents grades password resources "
        "primaryOrg"
    ),
    "enrollment": _words(
        "sourcedId status dateLastModified metadata user class school role primary beginDate endDate"
    ),
}
#: Every data file a 1.2 manifest lists.
MANIFEST_FILES = _words(
    "academicSessions categories classes classResources courses courseResources demographics "
    "enrollments lineItemLearningObjectiveIds lineItems lineItemScoreScales orgs resources "
    "resultLearningObjectiveIds results resultScoreScales roles scoreScales userProfiles "
    "userResources users"
)

ALL_READ = [
    DataCategory.SCHOOL_BASIC,
    DataCategory.GROUP_BASIC,
    DataCategory.STUDENT_BASIC,
    DataCategory.STUDENT_NAME,
    DataCategory.STAFF_BASIC,
    DataCategory.STAFF_NAME,
]


@dataclass(frozen=True)
class Partner:
    """A publisher with a consent at some schools, and a token."""

    id: int
    token: str
    school_ids: tuple[int, ...]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def global_id(self) -> str:
        return str(to_global_id("Partner", str(self.id)))


async def _signed_schools(engine: AsyncEngine) -> list[tuple[int, str]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(SCHOOLS.c.id, SCHOOLS.c.code)
            .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
            .where(BOARDS.c.dpa_signed_at.is_not(None))
            .order_by(SCHOOLS.c.id)
        )
        return [(row.id, row.code) for row in rows]


async def _partner(
    engine: AsyncEngine,
    settings: Settings,
    name: str,
    granted: list[DataCategory],
    school_ids: tuple[int, ...],
    declared: list[DataCategory] | None = None,
) -> Partner:
    now = settings.now()
    credentials = await register_partner(
        engine, name=name, kind="PUBLISHER", categories=declared or granted, eck_chain=False, now=now
    )
    for school_id in school_ids:
        await consent_lifecycle.grant(
            engine,
            operator_scope(Viewer(ViewerKind.OPERATOR, "helpdesk")),
            school_id=school_id,
            partner_id=credentials.partner_id,
            categories=granted,
            now=now,
        )
    token = mint_token(
        await load_keyset(engine, now=now),
        issuer=settings.issuer,
        subject=f"partner:{credentials.client_id}",
        scopes=["partner"],
        lifetime=PARTNER_TOKEN_LIFETIME,
        now=now,
    )
    return Partner(credentials.partner_id, token, school_ids)


@dataclass(frozen=True)
class World:
    """The seeded schools (id, code) whose board signed the DPA, and two partners: `reader` reads names and
    groups at the first school, `pseudonymous` only students' basics (and demographics) there and at the
    second."""

    schools: list[tuple[int, str]]
    reader: Partner
    pseudonymous: Partner


@pytest.fixture
async def partners(engine: AsyncEngine, settings: Settings, world: SeedSummary) -> World:
    schools = await _signed_schools(engine)
    assert len(schools) >= 2
    reader = await _partner(engine, settings, "Uitgeverij Rooster", ALL_READ, (schools[0][0],))
    pseudonymous = await _partner(
        engine,
        settings,
        "Uitgeverij Schaduw",
        [DataCategory.STUDENT_BASIC, DataCategory.STUDENT_DEMOGRAPHICS],
        (schools[0][0], schools[1][0]),
        declared=[DataCategory.STUDENT_BASIC, DataCategory.STUDENT_NAME, DataCategory.STUDENT_DEMOGRAPHICS],
    )
    return World(schools, reader, pseudonymous)


async def _get(client: httpx.AsyncClient, path: str, partner: Partner, **params: Any) -> httpx.Response:
    return await client.get(f"{ROSTERING}{path}", params=params, headers=partner.headers)


async def _all(client: httpx.AsyncClient, path: str, partner: Partner, key: str, **params: Any) -> list[Any]:
    response = await _get(client, path, partner, limit=1000, **params)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()[key]
    assert response.headers["X-Total-Count"] == str(len(items))
    return items


async def _graph(client: httpx.AsyncClient, partner: Partner, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=partner.headers
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _stable(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects without `dateLastModified`, which is the time of the answer (the hub keeps no row times)."""
    return [{name: value for name, value in item.items() if name != "dateLastModified"} for item in objects]


def _inner(global_id: str) -> str:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return decoded[1]


def _bad(response: httpx.Response, code_minor: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_severity"] == "error"
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == code_minor


GRAPH_STUDENTS = """query($code: String!) { school(code: $code) { id
    students(first: 1000) { edges { node { id pseudonym firstName prefix lastName dateOfBirth } } }
    staff(first: 1000) { edges { node { id firstName } } }
    groups(first: 100) { edges { node { id name } } } } }"""


# --- REST --------------------------------------------------------------------------------------------------


async def test_students_are_the_graphs_students_with_the_same_ids_pseudonyms_and_names(
    app_client: httpx.AsyncClient, partners: World
) -> None:
    partner, (_school_id, code) = partners.reader, partners.schools[0]
    graph = (await _graph(app_client, partner, GRAPH_STUDENTS, code=code))["school"]
    students = await _all(app_client, "/students", partner, "users")

    expected = {
        _inner(node["id"]): (
            node["pseudonym"],
            node["firstName"],
            " ".join(part for part in (node["prefix"], node["lastName"]) if part),
        )
        for node in (edge["node"] for edge in graph["students"]["edges"])
    }
    assert len(expected) == 20
    assert {
        user["sourcedId"]: (user["username"], user["givenName"], user["familyName"]) for user in students
    } == (expected)
    school_sourced_id = _inner(graph["id"])
    for user in students:
        assert set(user) <= set(SPEC_PROPERTIES["user"])
        assert user["status"] == "active"
        assert user["roles"] == [
            {"roleType": "primary", "role": "student", "org": {
                "href": f"http://leerpoort.test{ROSTERING}/schools/{school_sourced_id}",
                "sourcedId": school_sourced_id, "type": "org"}}
        ]  # fmt: skip
        assert user["userIds"] == [{"type": "pseudonym", "identifier": user["username"]}]
        assert "birthDate" not in user
        assert "sex" not in user

    teachers = await _all(app_client, "/teachers", partner, "users")
    staff_ids = {_inner(edge["node"]["id"]) for edge in graph["staff"]["edges"]}
    assert teachers
    assert {user["sourcedId"] for user in teachers} <= staff_ids
    users = await _all(app_client, "/users", partner, "users")
    assert {user["sourcedId"] for user in users} == set(expected) | staff_ids

    classes = await _all(app_client, "/classes", partner, "classes")
    assert {(c["sourcedId"], c["title"]) for c in classes} == {
        (_inner(edge["node"]["id"]), edge["node"]["name"]) for edge in graph["groups"]["edges"]
    }
    assert all(set(c) <= set(SPEC_PROPERTIES["class"]) for c in classes)
    schools = await _all(app_client, "/schools", partner, "orgs")
    assert [org["sourcedId"] for org in schools] == [school_sourced_id]
    orgs = await _all(app_client, "/orgs", partner, "orgs")
    assert sorted(org["type"] for org in orgs) == ["district", "school"]
    assert all(set(org) <= set(SPEC_PROPERTIES["org"]) for org in orgs)
    single = await _get(app_client, f"/students/{next(iter(expected))}", partner)
    assert single.status_code == 200
    assert single.json()["user"]["sourcedId"] == next(iter(expected))


async def test_enrollments_name_the_graphs_classes_and_users(
    app_client: httpx.AsyncClient, partners: World
) -> None:
    partner = partners.reader
    enrollments = await _all(app_client, "/enrollments", partner, "enrollments")
    users = {user["sourcedId"] for user in await _all(app_client, "/users", partner, "users")}
    classes = {klass["sourcedId"] for klass in await _all(app_client, "/classes", partner, "classes")}
    assert enrollments
    assert {e["user"]["sourcedId"] for e in enrollments} <= users
    assert {e["class"]["sourcedId"] for e in enrollments} == classes
    assert {e["role"] for e in enrollments} >= {"student", "teacher"}
    assert all(set(e) <= set(SPEC_PROPERTIES["enrollment"]) for e in enrollments)
    assert len({e["sourcedId"] for e in enrollments}) == len(enrollments)
    one = enrollments[0]
    found = await _get(app_client, f"/enrollments/{one['sourcedId']}", partner)
    assert _stable([found.json()["enrollment"]]) == _stable([one])


async def test_names_and_groups_not_granted_are_absent_never_filled(
    app_client: httpx.AsyncClient, partners: World
) -> None:
    partner = partners.pseudonymous
    students = await _all(app_client, "/students", partner, "users")
    assert len(students) == 40  # two schools of twenty, no staff (staff.basic not granted)
    assert all(user["givenName"] == "" and user["familyName"] == "" and user["username"] for user in students)
    assert await _all(app_client, "/teachers", partner, "users") == []
    assert await _all(app_client, "/classes", partner, "classes") == []
    assert await _all(app_client, "/enrollments", partner, "enrollments") == []
    # A filter on a withheld field matches nothing, whatever the value.
    assert await _all(app_client, "/students", partner, "users", filter="givenName!='x'") == []
    assert await _all(app_client, "/students", partner, "users", filter="familyName~'e'") == []


async def test_a_partner_gets_nothing_of_a_school_without_its_consent(
    app_client: httpx.AsyncClient, partners: World, engine: AsyncEngine, settings: Settings
) -> None:
    partner, (_, other_code) = partners.reader, partners.schools[1]
    schools = await _all(app_client, "/schools", partner, "orgs")
    assert [org["identifier"] for org in schools] == [partners.schools[0][1]]
    # The other school's students, as another partner sees them: not a single one resolves for this one.
    students_there = await _all(
        app_client,
        "/students",
        partners.pseudonymous,
        "users",
        filter=f"primaryOrg.sourcedId='{schools[0]['sourcedId']}'",
    )
    assert students_there == []  # a school's id is sealed per partner: another partner's does not match
    response = await app_client.get(f"/ims/oneroster/v1p2/export/{other_code}.zip", headers=partner.headers)
    assert response.status_code == 404
    assert (
        response.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
        == "unknownobject"
    )
    # Revoking the consent empties every collection at once.
    await consent_lifecycle.revoke(
        engine, operator_scope(Viewer(ViewerKind.OPERATOR, "helpdesk")), school_id=partner.school_ids[0],
        partner_id=partner.id, now=settings.now(), revoked_by="operator",
    )  # fmt: skip
    for collection, key in (("/students", "users"), ("/classes", "classes"), ("/orgs", "orgs")):
        assert await _all(app_client, collection, partner, key) == []


async def test_one_partners_sourced_id_is_unknown_to_another(
    app_client: httpx.AsyncClient, partners: World
) -> None:
    mine = (await _all(app_client, "/students", partners.reader, "users"))[0]["sourcedId"]
    own = await _get(app_client, f"/students/{mine}", partners.reader)
    assert own.status_code == 200
    # Both partners see this school's students, each under its own sealed ids.
    theirs = await _get(app_client, f"/students/{mine}", partners.pseudonymous)
    assert theirs.status_code == 404
    assert theirs.json()["imsx_codeMajor"] == "failure"
    assert (
        await _all(app_client, "/users", partners.pseudonymous, "users", filter=f"sourcedId='{mine}'") == []
    )
    # A student's id is not a teacher's, nor a class's.
    assert (await _get(app_client, f"/teachers/{mine}", partners.reader)).status_code == 404
    assert (await _get(app_client, f"/classes/{mine}", partners.reader)).status_code == 404


async def test_filter_sort_fields_limit_and_offset_work_as_the_binding_says(
    app_client: httpx.AsyncClient, partners: World
) -> None:
    partner = partners.reader
    everyone = await _all(app_client, "/users", partner, "users")
    first, second = everyone[0]["givenName"], everyone[1]["givenName"]

    either = await _all(
        app_client, "/users", partner, "users", filter=f"givenName='{first}' OR givenName='{second}'"
    )
    assert {u["sourcedId"] for u in either} == {
        u["sourcedId"] for u in everyone if u["givenName"] in {first, second}
    }
    both = await _all(
        app_client, "/users", partner, "users", filter=f"givenName='{first}' AND role='student'"
    )
    assert {u["sourcedId"] for u in both} == {
        u["sourcedId"] for u in everyone if u["givenName"] == first and u["roles"][0]["role"] == "student"
    }
    part = first[1:3].upper()
    contains = await _all(
        app_client, "/users", partner, "users", filter=f"familyName~'{part}' AND givenName!='{first}'"
    )
    assert {u["sourcedId"] for u in contains} == {
        u["sourcedId"]
        for u in everyone
        if part.lower() in u["familyName"].lower() and u["givenName"] != first
    }
    teachers = await _all(app_client, "/users", partner, "users", filter="role='teacher'")
    assert _stable(teachers) == _stable(await _all(app_client, "/teachers", partner, "users"))

    enrollments = await _all(app_client, "/enrollments", partner, "enrollments")
    begin = min(e["beginDate"] for e in enrollments)
    later = await _all(app_client, "/enrollments", partner, "enrollments", filter=f"beginDate>'{begin}'")
    assert {e["sourcedId"] for e in later} == {e["sourcedId"] for e in enrollments if e["beginDate"] > begin}
    not_before = await _all(app_client, "/enrollments", partner, "enrollments", filter=f"beginDate<'{begin}'")
    assert not_before == []

    titles = [c["title"] for c in await _all(app_client, "/classes", partner, "classes", sort="title")]
    assert titles == sorted(titles)
    descending = await _all(app_client, "/classes", partner, "classes", sort="title", orderBy="desc")
    assert [c["title"] for c in descending] == sorted(titles, reverse=True)

    # A constant (status, dateLastModified) sorts nothing: the order stays the rows' own.
    constant = await _all(app_client, "/users", partner, "users", sort="status", orderBy="desc")
    assert [u["sourcedId"] for u in constant] == [u["sourcedId"] for u in everyone]

    slim = await _all(app_client, "/students", partner, "users", fields="sourcedId,givenName")
    assert all(set(user) == {"sourcedId", "givenName"} for user in slim)

    pages = [
        await _get(app_client, "/users", partner, limit=7, offset=offset, sort="familyName")
        for offset in (0, 7)
    ]
    assert [len(page.json()["users"]) for page in pages] == [7, 7]
    assert pages[0].headers["X-Total-Count"] == str(len(everyone))
    assert 'rel="next"' in pages[0].headers["Link"]
    assert "offset=7" in pages[0].headers["Link"]
    whole = await _get(app_client, "/users", partner, limit=14, sort="familyName")
    assert _stable(pages[0].json()["users"] + pages[1].json()["users"]) == _stable(whole.json()["users"])
    capped = await _get(app_client, "/users", partner, limit=50_000)
    assert capped.status_code == 200
    assert "limit=1000" in capped.headers["Link"]


@pytest.mark.parametrize(
    ("params", "code_minor"),
    [
        ({"filter": "givenName='a"}, "invalid_filter_field"),
        ({"filter": "givenName like 'a'"}, "invalid_filter_field"),
        ({"filter": "password='secret'"}, "invalid_filter_field"),
        ({"filter": "givenName='a' AND familyName='b' OR role='student'"}, "invalid_filter_field"),
        ({"filter": "sourcedId~'abc'"}, "invalid_filter_field"),
        ({"filter": "beginDate>'yesterday'"}, "invalid_filter_field"),
        ({"fields": "sourcedId,shoeSize"}, "invalid_selection_field"),
        ({"sort": "shoeSize"}, "invaliddata"),
        ({"sort": "sourcedId"}, "invaliddata"),
        ({"orderBy": "sideways"}, "invaliddata"),
        ({"limit": "0"}, "invaliddata"),
        ({"limit": "ten"}, "invaliddata"),
        ({"offset": "-1"}, "invaliddata"),
    ],
)
async def test_bad_query_values_get_the_bindings_400(
    app_client: httpx.AsyncClient, partners: World, params: dict[str, str], code_minor: str
) -> None:
    collection = "/enrollments" if "beginDate" in params.get("filter", "") else "/users"
    _bad(await _get(app_client, collection, partners.reader, **params), code_minor)


async def test_tokens_other_than_a_partners_are_refused_with_the_bindings_payload(
    app_client: httpx.AsyncClient, partners: World, operator_token: str
) -> None:
    missing = await app_client.get(f"{ROSTERING}/users")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="leerpoort"'
    assert missing.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == (
        "unauthorisedrequest"
    )
    forged = await app_client.get(f"{ROSTERING}/users", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    operator = await app_client.get(
        f"{ROSTERING}/users", headers={"Authorization": f"Bearer {operator_token}"}
    )
    assert operator.status_code == 403
    assert (
        operator.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "forbidden"
    )
    del partners


async def test_every_read_is_in_the_disclosure_audit(
    app_client: httpx.AsyncClient, partners: World, engine: AsyncEngine
) -> None:
    partner = partners.reader
    students = await _all(app_client, "/students", partner, "users")
    await _get(app_client, "/students", partner, filter="givenName='nobody-is-called-this'")
    d = DISCLOSURES.c
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(d.school_id, d.operation_name, d.records, d.categories).where(
                    d.partner_id == partner.id
                )
            )
        ).all()
    assert [(row.school_id, row.operation_name, row.records) for row in rows] == [
        (partner.school_ids[0], "OneRoster students", len(students))
    ]  # an empty answer discloses nothing and is not recorded
    assert "STUDENT_NAME" in rows[0].categories


# --- the CSV bulk export -----------------------------------------------------------------------------------


def _read_zip(content: bytes) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {
            name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8"), newline="")))
            for name in archive.namelist()
        }


def _check_headers(files: dict[str, list[list[str]]]) -> None:
    assert "manifest.csv" in files
    for name, rows in files.items():
        assert rows[0] == SPEC_HEADERS[name], name
        assert len(rows) > 1, f"{name} has no data rows (the binding forbids empty files)"
        assert all(len(row) == len(rows[0]) for row in rows), name
    manifest = dict(files["manifest.csv"][1:])
    assert manifest["manifest.version"] == "1.0"
    assert manifest["oneroster.version"] == "1.2"
    for name in MANIFEST_FILES:
        assert manifest[f"file.{name}"] == ("bulk" if f"{name}.csv" in files else "absent"), name


async def test_the_bulk_export_has_the_binding_headers_and_the_graphs_content(
    app_client: httpx.AsyncClient, partners: World
) -> None:
    partner, (_, code) = partners.reader, partners.schools[0]
    response = await app_client.get(f"/ims/oneroster/v1p2/export/{code}.zip", headers=partner.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    files = _read_zip(response.content)
    _check_headers(files)
    assert set(files) == {
        "manifest.csv",
        "orgs.csv",
        "academicSessions.csv",
        "courses.csv",
        "classes.csv",
        "users.csv",
        "roles.csv",
        "enrollments.csv",
    }  # fmt: skip  (no demographics.csv: student.demographics is not granted)

    users = [dict(zip(files["users.csv"][0], row, strict=True)) for row in files["users.csv"][1:]]
    rest = {u["sourcedId"]: u for u in await _all(app_client, "/users", partner, "users")}
    assert {u["sourcedId"] for u in users} == set(rest)
    for user in users:
        assert (user["username"], user["givenName"], user["familyName"]) == (
            rest[user["sourcedId"]]["username"], rest[user["sourcedId"]]["givenName"],
            rest[user["sourcedId"]]["familyName"],
        )  # fmt: skip
        assert user["status"] == ""
        assert user["dateLastModified"] == ""
    classes = {row[0] for row in files["classes.csv"][1:]}
    assert classes == {c["sourcedId"] for c in await _all(app_client, "/classes", partner, "classes")}
    enrollments = {row[0] for row in files["enrollments.csv"][1:]}
    assert enrollments == {
        e["sourcedId"] for e in await _all(app_client, "/enrollments", partner, "enrollments")
    }


async def test_demographics_only_where_granted_and_never_the_sex(
    app_client: httpx.AsyncClient, partners: World
) -> None:
    partner, (_, code) = partners.pseudonymous, partners.schools[0]
    response = await app_client.get(f"/ims/oneroster/v1p2/export/{code}.zip", headers=partner.headers)
    files = _read_zip(response.content)
    _check_headers(files)
    assert set(files) == {"manifest.csv", "orgs.csv", "users.csv", "roles.csv", "demographics.csv"}
    graph = (
        await _graph(
            app_client, partner,
            "query($code: String!) { school(code: $code) { students(first: 100) { edges { node"
            " { id dateOfBirth firstName } } } } }", code=code,
        )
    )["school"]["students"]["edges"]  # fmt: skip
    births = {row[0]: row[3] for row in files["demographics.csv"][1:]}
    assert births == {_inner(edge["node"]["id"]): edge["node"]["dateOfBirth"] or "" for edge in graph}
    assert all(row[4] == "" for row in files["demographics.csv"][1:])  # sex
    users = files["users.csv"]
    given, family = users[0].index("givenName"), users[0].index("familyName")
    assert all(row[given] == "" and row[family] == "" for row in users[1:])


async def test_the_export_command_writes_the_partners_zip_and_refuses_a_school_without_consent(
    partners: World, settings: Settings, tmp_path: Path
) -> None:
    partner, (_, code), (_, other) = partners.reader, partners.schools[0], partners.schools[1]
    output = tmp_path / "roster.zip"
    done = await run_cli_beside_app(
        "export", "oneroster", code, "--partner", partner.global_id, "--output", str(output),
        settings=settings, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    files = _read_zip(output.read_bytes())
    _check_headers(files)
    assert '"users.csv": ' in done.stdout

    refused = tmp_path / "refused.zip"
    denied = await run_cli_beside_app(
        "export", "oneroster", other, "--partner", partner.global_id, "--output", str(refused),
        settings=settings, cwd=tmp_path,
    )  # fmt: skip
    assert denied.returncode == 2
    assert denied.stderr.startswith("error: ")
    assert denied.stderr.count("\n") == 1
    assert not refused.exists()
    unknown = await run_cli_beside_app(
        "export", "oneroster", code, "--partner", "99999", settings=settings, cwd=tmp_path
    )
    assert unknown.returncode == 2
    assert "no partner 99999" in unknown.stderr


async def test_a_person_at_two_visible_schools_is_one_user_and_in_both_schools_exports(
    app_client: httpx.AsyncClient, partners: World, engine: AsyncEngine
) -> None:
    partner, (first, _), (second, second_code) = (
        partners.pseudonymous,
        partners.schools[0],
        partners.schools[1],
    )
    before = await _all(app_client, "/students", partner, "users")
    s = STUDENTS.c
    async with engine.begin() as connection:
        student = (
            await connection.execute(select(STUDENTS).where(s.school_id == first).order_by(s.id).limit(1))
        ).one()
        await connection.execute(
            insert(STUDENTS).values(
                person_id=student.person_id, school_id=second, las_key="moved-in", last_name=student.last_name
            )
        )
    after = await _all(app_client, "/students", partner, "users")
    assert [user["sourcedId"] for user in after] == [user["sourcedId"] for user in before]
    person = after[0]["sourcedId"]
    response = await app_client.get(f"/ims/oneroster/v1p2/export/{second_code}.zip", headers=partner.headers)
    exported = [row[0] for row in _read_zip(response.content)["users.csv"][1:]]
    assert person in exported
    assert len(exported) == len(set(exported)) == 21
