"""Imports end to end: a LAS pushes over HTTP with its own token, a coordinator uploads through the graph,
and the school year turns over on its date (driven from outside with LEERPOORT_NOW)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select
from sqlmodel import SQLModel

from datasources.school_files.edexml_writer import write_edexml
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from datasources.store.tables import SCHOOLS
from resolvers import admin
from server import create_app

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "edexml" / "EDEXML.Voorbeeld.2.1.xml"
PASSWORD = "a-long-coordinator-password"
TEMPLATE = Path(__file__).resolve().parents[2] / "reference" / "csv-template"


def school_file(code: str, year: str, students: int = 12) -> SchoolFile:
    groups = (
        ImportedGroup("A1", "Groep 1a", "1", composite=False),
        ImportedGroup("A2", "Groep 2a", "2", composite=False),
    )
    people = tuple(
        ImportedStudent(
            key=f"S{index}",
            eck_id=None,
            first_name=f"Leerling{index}",
            prefix=None,
            last_name="Visser",
            initials="L",
            date_of_birth=dt.date(2020, 3, 1) + dt.timedelta(days=index),
            year_level="1" if index % 2 else "2",
            main_group="A1" if index % 2 else "A2",
            composite_groups=(),
        )
        for index in range(students)
    )
    staff = (ImportedStaff("M1", None, "Els", None, "Kok", "els@school.example", ("LRK",), ("A1", "A2")),)
    return SchoolFile(code[:4], code[4:], year, None, groups, people, staff, source="test")


async def _code(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return str(
            (await connection.execute(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id).limit(1))).scalar_one()
        )


async def _las_token(client: httpx.AsyncClient, settings: Settings, code: str) -> str:
    created = await admin.create_las_client(settings, "ParnasSys", [code])
    basic = base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode()).decode()
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "las"
    return str(response.json()["access_token"])


async def _push(client: httpx.AsyncClient, token: str, body: bytes, **flags: str) -> httpx.Response:
    return await client.post(
        "/las/edex",
        content=body,
        params=flags,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
    )


async def test_a_las_pushes_a_school_and_a_second_identical_push_changes_nothing(
    app_client: httpx.AsyncClient, world: SeedSummary, engine: AsyncEngine, settings: Settings
) -> None:
    code = await _code(engine)
    token = await _las_token(app_client, settings, code)
    body = write_edexml(school_file(code, "2026-2027"))
    # The file replaces the seeded school's twenty students: confirmed, as such a push must be.
    first = await _push(app_client, token, body, confirm="true")
    assert first.status_code == 200, first.text
    assert first.json()["students"]["added"] == 12
    assert first.json()["schoolCode"] == code
    again = await _push(app_client, token, body)
    assert again.status_code == 200
    assert again.json()["students"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 12}
    assert again.json()["groups"]["unchanged"] == 2


async def test_pushes_are_refused_clearly_and_change_nothing(
    app_client: httpx.AsyncClient, world: SeedSummary, engine: AsyncEngine, settings: Settings
) -> None:
    code = await _code(engine)
    token = await _las_token(app_client, settings, code)
    replaced = await _push(app_client, token, write_edexml(school_file(code, "2026-2027")), confirm="true")
    assert replaced.status_code == 200

    malformed = await _push(app_client, token, b"<EDEX><school>")
    assert malformed.status_code == 400
    assert malformed.json()["errors"]

    async with engine.connect() as connection:
        other = (
            await connection.execute(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id.desc()).limit(1))
        ).scalar_one()
    not_served = await _push(app_client, token, write_edexml(school_file(other, "2026-2027")))
    assert not_served.status_code == 403

    held = await _push(app_client, token, write_edexml(school_file(code, "2026-2027", students=3)))
    assert held.status_code == 202
    assert held.json()["held"] is True
    confirmed = await _push(
        app_client, token, write_edexml(school_file(code, "2026-2027", students=3)), confirm="true"
    )
    assert confirmed.status_code == 200
    assert confirmed.json()["students"]["removed"] == 9

    no_token = await app_client.post("/las/edex", content=b"<EDEX/>")
    assert no_token.status_code == 401


async def test_a_las_push_is_refused_while_the_coordinator_suspended_the_coupling(
    app_client: httpx.AsyncClient, world: SeedSummary, engine: AsyncEngine, settings: Settings
) -> None:
    code = await _code(engine)
    token = await _las_token(app_client, settings, code)
    await admin.add_school_coordinator(settings, code, "ict@suspend.example", PASSWORD)
    staff_token = await _sign_in(app_client, "ict@suspend.example")
    suspend = """mutation($code: String!, $on: Boolean!) {
        setLasCoupling(schoolCode: $code, suspended: $on) { code } }"""
    await _graphql(app_client, staff_token, suspend, {"code": code, "on": True})
    refused = await _push(app_client, token, write_edexml(school_file(code, "2026-2027")))
    assert refused.status_code == 423
    assert "suspended" in refused.json()["errors"][0]["message"]
    await _graphql(app_client, staff_token, suspend, {"code": code, "on": False})
    resumed = await _push(app_client, token, write_edexml(school_file(code, "2026-2027")), confirm="true")
    assert resumed.status_code == 200


async def _graphql(
    client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


async def _sign_in(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post(
        "/graphql",
        json={
            "query": "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { token } }",
            "variables": {"e": email, "p": PASSWORD},
        },
    )
    return str(response.json()["data"]["signIn"]["token"])


UPLOAD = """mutation($file: Upload!, $dry: Boolean) { importEdex(file: $file, dryRun: $dry) {
    schoolCode dryRun held students { added } errors } }"""


def _multipart(query: str, variables: dict[str, Any], content: bytes) -> dict[str, Any]:
    return {
        "data": {
            "operations": json.dumps({"query": query, "variables": variables}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        "files": {"0": ("school.xml", content, "application/xml")},
    }


async def test_a_coordinator_uploads_through_the_graph_only_with_the_preflight_header(
    app_client: httpx.AsyncClient, world: SeedSummary, engine: AsyncEngine, settings: Settings
) -> None:
    code = await _code(engine)
    await admin.add_school_coordinator(settings, code, "ict@upload.example", PASSWORD)
    token = await _sign_in(app_client, "ict@upload.example")
    content = write_edexml(school_file(code, "2026-2027"))
    cross_site = await app_client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {token}"},
        **_multipart(UPLOAD, {"file": None}, content),
    )
    assert cross_site.status_code == 400
    assert "Apollo-Require-Preflight" in cross_site.json()["errors"][0]["message"]
    dry = await app_client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
        **_multipart(UPLOAD, {"file": None, "dry": True}, content),
    )
    report = dry.json()["data"]["importEdex"]
    # The file would replace all twenty seeded students: the dry run says so, and that it would be held.
    assert report == {
        "schoolCode": code,
        "dryRun": True,
        "held": True,
        "students": {"added": 12},
        "errors": [],
    }


async def test_a_bsn_in_an_imported_file_is_stored_nowhere(
    app_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, operator_token: str
) -> None:
    await _add_location(settings)
    content = EXAMPLE.read_bytes().replace(b"2014-2015", b"2026-2027")
    bsns = [line.split(b">")[1].split(b"<")[0] for line in content.splitlines() if b"<bsn>" in line]
    assert bsns, "the example file carries BSNs"
    report = await admin.import_file(settings, lambda: _read(content), dry_run=False, confirm=False)
    assert report.students.added > 0, report
    async with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            dump = str((await connection.execute(select(table))).all())
            for bsn in bsns:
                assert bsn.decode() not in dump, f"a BSN was stored in {table.name}"
            assert "geslacht" not in dump


def _read(content: bytes) -> SchoolFile:
    from datasources.school_files.edexml import read_edexml  # noqa: PLC0415

    return read_edexml(content)


async def _add(settings: Settings, code: str, name: str, board: str) -> None:
    from resolvers import registry_commands  # noqa: PLC0415

    await registry_commands.add_location(settings, code, name, board)


async def _add_location(settings: Settings) -> None:
    from resolvers import registry_commands  # noqa: PLC0415

    await registry_commands.add_location(settings, "99ZZ00", "Voorbeeldschool", "99999")


async def _groups_at(settings: Settings, now: str, code: str) -> list[dict[str, Any]]:
    """The school's current groups as the operator reads them from an application whose clock is set from
    outside (LEERPOORT_NOW), with a token minted on that clock."""
    at = settings.model_copy(update={"now_override": dt.datetime.fromisoformat(now)})
    token = await admin.operator_token(at)
    app = create_app(at)
    query = """query($c: String!) {
        school(code: $c) { groups(first: 50) { edges { node { name schoolYear } } } } }"""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": {"c": code}},
            headers={"Authorization": f"Bearer {token}"},
        )
    return [edge["node"] for edge in response.json()["data"]["school"]["groups"]["edges"]]


async def test_next_years_groups_become_current_on_their_effective_date(
    world: SeedSummary, engine: AsyncEngine, settings: Settings
) -> None:
    code = await _code(engine)
    report = await admin.import_file(
        settings, lambda: school_file(code, "2027-2028"), dry_run=False, confirm=False
    )
    assert report.groups.added == 2
    before = await _groups_at(settings, "2027-07-31T12:00:00+00:00", code)
    assert {group["schoolYear"] for group in before} == {"2026-2027"}
    after = await _groups_at(settings, "2027-08-01T08:00:00+00:00", code)
    assert {group["name"] for group in after} == {"Groep 1a", "Groep 2a"}


async def test_a_school_without_edexml_uploads_the_csv_template_as_a_zip(
    app_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, operator_token: str
) -> None:
    await _add(settings, "99ZZ01", "Sjabloonschool", "99999")
    response = await app_client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {operator_token}", "Apollo-Require-Preflight": "true"},
        **_multipart(UPLOAD, {"file": None, "dry": True}, _rezip(TEMPLATE)),
    )
    report = response.json()["data"]["importEdex"]
    assert report["errors"] == []
    assert report["schoolCode"] == "99ZZ01"
    assert report["students"]["added"] > 0


def _rezip(template: Path) -> bytes:
    """The template's files zipped, with the school year moved to the current one (the template's is past)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in ("school.csv", "groups.csv", "students.csv", "staff.csv"):
            zipped.writestr(
                name, (template / name).read_text(encoding="utf-8").replace("2025-2026", "2026-2027")
            )
        zipped.writestr("../../evil.csv", "never unpacked")
    return archive.getvalue()
