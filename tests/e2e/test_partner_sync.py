"""The partner's starting point, `examples/partner_sync.py`, run as a partner runs it against a real server.

uvicorn serves the hub on a free loopback port (both engines); the example runs as its own program with
client credentials from `POST /oauth/token` and its state in a SQLite file; this test changes the
school's consent in between, as a coordinator would, and compares the partner's local copy with what the
graph gives that partner at that moment (read here with its own query, not the example's):

- the first run's full sync holds exactly the partner's view (paged with a small page size);
- after a category is withdrawn the next run clears its fields, without re-reading old events (a value
  changed locally after the first run survives, which a replay of the feed from its start would undo);
- after a revoke the next run deletes the school's data and confirms the deletion to the hub;
- a run with nothing new applies nothing; wrong credentials end the run with exit 1 and one line.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from graphql import GraphQLEnumType, GraphQLObjectType, build_schema
from sqlalchemy import select

from auth.categories import DataCategory
from auth.policy import operator_scope
from auth.viewer import Viewer, ViewerKind
from datasources.access import consent_lifecycle
from datasources.store.tables import BOARDS, DELETION_ACKNOWLEDGEMENTS, SCHOOLS
from resolvers.accounts import register_partner
from tests.e2e.conftest import REPO_ROOT, process_environment
from tests.e2e.tcp_proxy import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

EXAMPLE = REPO_ROOT / "examples" / "partner_sync.py"
STARTUP_TIMEOUT_SECONDS = 30.0
#: A cold interpreter importing gql and httpx on a busy machine, and a few dozen requests.
RUN_TIMEOUT_SECONDS = 120
#: Small, so that every list of a school takes several pages and the cursors are followed.
PAGE_SIZE = "7"
EVERYTHING: list[DataCategory] = [c for c in DataCategory if c is not DataCategory.LICENSE]
#: What the second school grants: rows, but no names, no date of birth, no e-mail.
BASIC: list[DataCategory] = [
    DataCategory.SCHOOL_BASIC,
    DataCategory.GROUP_BASIC,
    DataCategory.STUDENT_BASIC,
    DataCategory.STAFF_BASIC,
]
_OPERATOR = operator_scope(Viewer(ViewerKind.OPERATOR, "helpdesk"))

#: The partner's view of a school, as this test reads it (independently of the example's own documents).
SCHOOL_VIEW = """query($code: String!) { school(code: $code) {
  id code name brin locationCode grantedCategories
  groups(first: 1000) { edges { node { id name yearLevel schoolYear composite } } }
  students(first: 1000) { edges { node { id pseudonym eckId firstName prefix lastName initials dateOfBirth
    yearLevel mainGroup { id } groups { id } } } }
  staff(first: 1000) { edges { node { id pseudonym eckId firstName prefix lastName email roles
    groups { id } } } } } }"""
SCHOOL_CODES = "{ schools(first: 1000) { edges { node { code } } } }"


@dataclass(frozen=True)
class Partner:
    """The partner under test: its ids and credentials, and the schools of the story."""

    id: int
    client_id: str
    secret_file: Path
    full: tuple[int, str]  # grants everything
    basic: tuple[int, str]  # grants rows only


async def _signed_schools(engine: AsyncEngine) -> list[tuple[int, str]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(SCHOOLS.c.id, SCHOOLS.c.code)
            .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
            .where(BOARDS.c.dpa_signed_at.is_not(None))
            .order_by(SCHOOLS.c.id)
        )
        return [(row[0], row[1]) for row in rows]


@pytest.fixture
async def partner(engine: AsyncEngine, settings: Settings, world: SeedSummary, tmp_path: Path) -> Partner:
    """A publisher granted everything at one school and rows only at another."""
    credentials = await register_partner(
        engine, name="Uitgeverij Sync", kind="PUBLISHER", categories=EVERYTHING, eck_chain=False,
        now=settings.now(),
    )  # fmt: skip
    signed = await _signed_schools(engine)
    assert len(signed) >= 2, "the seeded world needs two schools of boards that signed the DPA"
    grants = [(signed[0], EVERYTHING), (signed[1], BASIC)]
    for (school_id, _code), categories in grants:
        await _grant(engine, settings, credentials.partner_id, school_id, categories)
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(credentials.client_secret + "\n", encoding="utf-8")
    return Partner(
        credentials.partner_id, credentials.client_id, secret_file, signed[0], signed[1],
    )  # fmt: skip


async def _grant(
    engine: AsyncEngine, settings: Settings, partner_id: int, school_id: int, categories: list[DataCategory]
) -> None:
    await consent_lifecycle.grant(
        engine, _OPERATOR, school_id=school_id, partner_id=partner_id, categories=categories,
        now=settings.now(), require_dpa=settings.dpa_required,
    )  # fmt: skip


@pytest.fixture
def server(partner: Partner, settings: Settings, tmp_path: Path) -> Iterator[str]:
    """`uvicorn server:create_app --factory` on the test's database; its base URL. Stopped afterwards."""
    port = free_port()
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "uvicorn", "server:create_app", "--factory", "--host", "127.0.0.1"]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter running this suite, fixed arguments
            [*command, "--port", str(port)],
            env=process_environment(settings),
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{base_url}/health").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not become healthy:\n{log.read_text()}")
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the example, and what it stored ----------------------------------------------------------------------


def _client_environment() -> dict[str, str]:
    """The example's environment: none of the hub's settings (it is a client), no proxy for loopback."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LEERPOORT_") and name != "DATABASE_URL"
    }
    environment["NO_PROXY"] = environment["no_proxy"] = "127.0.0.1,localhost"
    return environment


def _run_example(
    base_url: str, partner: Partner, state: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the interpreter running this suite, our own example, fixed arguments
        [
            sys.executable, str(EXAMPLE), "--url", base_url, "--client-id", partner.client_id,
            "--client-secret-file", str(partner.secret_file), "--state", str(state), "--page-size", PAGE_SIZE,
            *extra,
        ],
        env=_client_environment(),
        cwd=state.parent,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )  # fmt: skip


def _sync(base_url: str, partner: Partner, state: Path) -> dict[str, Any]:
    """One successful run of the example; its summary."""
    completed = _run_example(base_url, partner, state)
    assert completed.returncode == 0, completed.stderr
    summary: dict[str, Any] = json.loads(completed.stdout)
    return summary


_JSON_COLUMNS = frozenset({"granted_categories", "group_ids", "roles"})


def _stored(state: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """The example's tables, each as {id: row}, JSON columns decoded."""
    connection = sqlite3.connect(state)
    connection.row_factory = sqlite3.Row
    try:
        tables: dict[str, dict[str, dict[str, Any]]] = {}
        for table in ("schools", "groups", "students", "staff"):
            rows = [dict(row) for row in connection.execute(f"SELECT * FROM {table}")]  # noqa: S608
            tables[table] = {
                row["id"]: {
                    name: json.loads(value) if name in _JSON_COLUMNS and value is not None else value
                    for name, value in row.items()
                }
                for row in rows
            }
        return tables
    finally:
        connection.close()


def _partner_token(base_url: str, partner: Partner) -> str:
    secret = partner.secret_file.read_text(encoding="utf-8").strip()
    response = httpx.post(
        f"{base_url}/oauth/token", data={"grant_type": "client_credentials"},
        auth=(partner.client_id, secret), trust_env=False,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _graph(base_url: str, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{base_url}/graphql", json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"}, trust_env=False, timeout=30.0,
    )  # fmt: skip
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _ids(items: list[dict[str, Any]] | None) -> list[str] | None:
    return None if items is None else [item["id"] for item in items]


def _graph_view(base_url: str, partner: Partner) -> dict[str, dict[str, dict[str, Any]]]:
    """What the graph gives the partner now, in the shape of the example's tables."""
    token = _partner_token(base_url, partner)
    view: dict[str, dict[str, dict[str, Any]]] = {"schools": {}, "groups": {}, "students": {}, "staff": {}}
    codes = [edge["node"]["code"] for edge in _graph(base_url, token, SCHOOL_CODES)["schools"]["edges"]]
    for code in codes:
        school = _graph(base_url, token, SCHOOL_VIEW, code=code)["school"]
        view["schools"][school["id"]] = {
            "id": school["id"], "code": code, "name": school["name"], "brin": school["brin"],
            "location_code": school["locationCode"], "granted_categories": school["grantedCategories"],
        }  # fmt: skip
        for edge in school["groups"]["edges"]:
            group = edge["node"]
            view["groups"][group["id"]] = {
                "id": group["id"], "school_code": code, "name": group["name"],
                "year_level": group["yearLevel"], "school_year": group["schoolYear"],
                "composite": None if group["composite"] is None else int(group["composite"]),
            }  # fmt: skip
        for edge in school["students"]["edges"]:
            student = edge["node"]
            view["students"][student["id"]] = {
                "id": student["id"], "school_code": code, "pseudonym": student["pseudonym"],
                "eck_id": student["eckId"], "first_name": student["firstName"], "prefix": student["prefix"],
                "last_name": student["lastName"], "initials": student["initials"],
                "date_of_birth": student["dateOfBirth"], "year_level": student["yearLevel"],
                "main_group_id": (student["mainGroup"] or {}).get("id"), "group_ids": _ids(student["groups"]),
            }  # fmt: skip
        for edge in school["staff"]["edges"]:
            member = edge["node"]
            view["staff"][member["id"]] = {
                "id": member["id"], "school_code": code, "pseudonym": member["pseudonym"],
                "eck_id": member["eckId"], "first_name": member["firstName"], "prefix": member["prefix"],
                "last_name": member["lastName"], "email": member["email"], "roles": member["roles"],
                "group_ids": _ids(member["groups"]),
            }  # fmt: skip
    return view


def _normalised(view: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Lists whose order means nothing (categories) sorted, so that two views compare by content."""
    for school in view["schools"].values():
        school["granted_categories"] = sorted(school["granted_categories"] or [])
    return view


def _codes(view: dict[str, dict[str, dict[str, Any]]], table: str) -> set[str]:
    return {str(row["code"] if table == "schools" else row["school_code"]) for row in view[table].values()}


async def test_the_example_syncs_follows_narrowing_and_revocation_and_resumes_from_its_cursor(
    server: str, partner: Partner, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    state = tmp_path / "partner-state.db"
    full_code, basic_code = partner.full[1], partner.basic[1]

    # 1. The full sync holds exactly what the graph gives this partner.
    first = _sync(server, partner, state)
    stored, expected = _normalised(_stored(state)), _normalised(_graph_view(server, partner))
    assert first["full_sync"] is True
    assert stored == expected
    assert _codes(stored, "schools") == {full_code, basic_code}
    assert _codes(stored, "students") == {full_code, basic_code}
    assert len(stored["students"]) > int(PAGE_SIZE), "more students than a page: the cursors were followed"
    named = [row for row in stored["students"].values() if row["school_code"] == full_code]
    assert all(row["first_name"] and row["date_of_birth"] for row in named)
    assert all(
        row["first_name"] is None and row["date_of_birth"] is None
        for row in stored["students"].values()
        if row["school_code"] == basic_code
    ), "fields the school did not grant are not stored"

    # 2. A change made locally after the first run: a replay of old events would overwrite it.
    group_id = next(id_ for id_, row in stored["groups"].items() if row["school_code"] == full_code)
    with contextlib.closing(sqlite3.connect(state)) as local, local:
        local.execute("UPDATE groups SET name = 'kept locally' WHERE id = ?", (group_id,))
    # The school withdraws students' names and dates of birth.
    narrowed: list[DataCategory] = [
        c for c in EVERYTHING if c not in {DataCategory.STUDENT_NAME, DataCategory.STUDENT_DEMOGRAPHICS}
    ]
    await _grant(engine, settings, partner.id, partner.full[0], narrowed)

    second = _sync(server, partner, state)
    stored = _normalised(_stored(state))
    assert second["full_sync"] is False
    assert second["events"] > 0
    assert stored["groups"][group_id]["name"] == "kept locally", "the run re-read events it had applied"
    students = [row for row in stored["students"].values() if row["school_code"] == full_code]
    assert students
    assert all(
        row[name] is None
        for row in students
        for name in ("first_name", "prefix", "last_name", "initials", "date_of_birth")
    ), "the withdrawn categories' fields are cleared"
    assert all(row["pseudonym"] for row in students), "what is still granted stays"
    expected = _normalised(_graph_view(server, partner))
    stored["groups"][group_id]["name"] = expected["groups"][group_id]["name"]
    assert stored == expected

    # 3. The other school revokes; the first grants names again.
    await consent_lifecycle.revoke(
        engine, _OPERATOR, school_id=partner.basic[0], partner_id=partner.id, now=settings.now(),
        require_dpa=settings.dpa_required,
    )  # fmt: skip
    await _grant(engine, settings, partner.id, partner.full[0], EVERYTHING)

    third = _sync(server, partner, state)
    stored = _normalised(_stored(state))
    assert third["deleted_schools"] == [basic_code]
    assert all(basic_code not in _codes(stored, table) for table in stored), "nothing of the school remains"
    assert all(row["first_name"] for row in stored["students"].values()), "names granted again are back"
    expected = _normalised(_graph_view(server, partner))
    stored["groups"][group_id]["name"] = expected["groups"][group_id]["name"]
    assert stored == expected
    async with engine.connect() as connection:
        confirmed = (
            await connection.execute(
                select(DELETION_ACKNOWLEDGEMENTS.c.school_id).where(
                    DELETION_ACKNOWLEDGEMENTS.c.partner_id == partner.id
                )
            )
        ).all()
    assert [row[0] for row in confirmed] == [partner.basic[0]], "the example confirmed the deletion"

    # 4. Nothing new: nothing applied, the cursor where it was.
    fourth = _sync(server, partner, state)
    assert (fourth["events"], fourth["full_sync"], fourth["cursor"]) == (0, False, third["cursor"])


async def test_the_example_refuses_wrong_credentials_in_one_line(
    server: str, partner: Partner, tmp_path: Path
) -> None:
    partner.secret_file.write_text("not-the-secret", encoding="utf-8")

    completed = _run_example(server, partner, tmp_path / "state.db")

    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [
        "partner_sync: the token endpoint refused the client credentials (invalid_client)"
    ]
    assert not completed.stdout


def _example_module() -> Any:
    """The example as a module (it is a script outside the hub's packages)."""
    spec = importlib.util.spec_from_file_location("partner_sync", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("partner_sync", module)  # dataclasses look their module up while they build
    spec.loader.exec_module(module)
    return module


def test_the_examples_categories_are_the_ones_the_published_sdl_names() -> None:
    # The example clears a column when its category is lost: a wrong category there would keep data a
    # school withdrew. The SDL's description of each DataCategory lists the fields it opens.
    schema = build_schema((REPO_ROOT / "schema.client.graphql").read_text(encoding="utf-8"))
    categories = schema.type_map["DataCategory"]
    assert isinstance(categories, GraphQLEnumType)
    opened = {
        name: set(re.findall(r"\b([A-Z]\w*\.\w+)\b", value.description or ""))
        for name, value in categories.values.items()
    }
    module = _example_module()
    stored = [
        (entity_type, entity, column)
        for entity_type, entity in module.ENTITIES.items()
        for column in entity.columns
    ]
    assert stored
    for entity_type, entity, column in stored:
        graph_type = schema.type_map[entity_type]
        assert isinstance(graph_type, GraphQLObjectType)
        assert column.graph_field in graph_type.fields, (
            f"{entity_type}.{column.graph_field} is not in the SDL"
        )
        if column.category is None:
            assert all(f"{entity_type}.{column.graph_field}" not in fields for fields in opened.values())
        else:
            assert f"{entity_type}.{column.graph_field}" in opened[column.category], (
                f"the SDL does not put {entity_type}.{column.graph_field} under {column.category}"
            )
        assert entity.row_category in opened
