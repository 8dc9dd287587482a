"""Hostile callers over HTTP (issue 9): each is refused with the documented error code, nothing changes,
and nothing answers 500.

In process, through httpx's ASGI transport, on both engines; the bodies that must not be read past
their cap go to a real server in tests/e2e/test_bodies.py.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import struct
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import func, insert, select
from sqlmodel import SQLModel

from auth.categories import DataCategory
from auth.policy import operator_scope
from auth.tokens import mint_token
from auth.viewer import Viewer, ViewerKind
from datasources.access import consent_lifecycle
from datasources.access.signing_keys import load_keyset
from datasources.school_files.edexml_writer import write_edexml
from datasources.store.tables import PRODUCTS, SCHOOLS
from resolvers import admin
from resolvers.accounts import register_partner
from schema.relay import to_global_id
from server import create_app
from settings import Settings
from tests.e2e.test_imports import school_file

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.usefixtures("world")


async def _token(engine: AsyncEngine, settings: Settings, subject: str, scope: str) -> str:
    keyset = await load_keyset(engine, now=settings.now())
    return mint_token(
        keyset,
        issuer=settings.issuer,
        subject=subject,
        scopes=[scope],
        lifetime=dt.timedelta(minutes=5),
        now=settings.now(),
    )


async def _partner_token(engine: AsyncEngine, settings: Settings, name: str = "Uitgeverij Vreemd") -> str:
    credentials = await register_partner(
        engine, name=name, kind="PUBLISHER", categories=[], eck_chain=False, now=settings.now()
    )
    return await _token(engine, settings, f"partner:{credentials.client_id}", "partner")


@contextlib.asynccontextmanager
async def _production_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    production = Settings(
        DATABASE_URL=settings.database_url,
        LEERPOORT_DATA_DIR=settings.data_dir,
        LEERPOORT_MODE="production",
        LEERPOORT_PSEUDONYM_KEY="a-real-secret-for-the-e2e-production-test",
    )
    app = create_app(production)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield client


def _code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    code: str = body["errors"][0]["extensions"]["code"]
    return code


# --- 11. the schema is not read in production, however the selection is dressed up -------------------------

SCHEMA_READINGS = {
    "root": "{ _service { sdl } }",
    "alias": "{ schema: _service { sdl } }",
    "fragment": "query { ...Sdl } fragment Sdl on Query { _service { sdl } }",
    "inline-fragment": "{ ... on Query { _service { sdl } } }",
    "untyped-inline-fragment": "{ ... { _service { sdl } } }",
    "nested-fragments": (
        "{ ...A } fragment A on Query { ... on Query { ...B } } fragment B on Query { _service { sdl } }"
    ),
}


@pytest.mark.parametrize("query", SCHEMA_READINGS.values(), ids=SCHEMA_READINGS.keys())
async def test_a_partner_in_production_cannot_read_the_sdl_through_fragments(
    engine: AsyncEngine, settings: Settings, query: str
) -> None:
    token = await _partner_token(engine, settings)
    async with _production_client(settings) as client:
        response = await client.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
        )

    assert response.status_code == 403
    assert _code(response) == "FORBIDDEN"
    assert "sdl" not in response.text.lower().replace("published sdl", "")


# --- 13. deep JSON and broken archives are the client's mistake, answered as such ---------------------------


async def _rows(engine: AsyncEngine) -> dict[str, int]:
    """How many rows every table holds: a refused request leaves each count as it was."""
    async with engine.connect() as connection:
        return {
            table.name: (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            for table in SQLModel.metadata.sorted_tables
        }


def _nested_variables(levels: int) -> bytes:
    return b'{"query": "{ viewer { kind } }", "variables": {"deep": ' + b"[" * levels + b"]" * levels + b"}}"


@pytest.mark.parametrize("levels", [100, 100_000])
async def test_deeply_nested_json_variables_are_400_bad_user_input(
    app_client: httpx.AsyncClient, operator_token: str, levels: int
) -> None:
    response = await app_client.post(
        "/graphql",
        content=_nested_variables(levels),
        headers={"Authorization": f"Bearer {operator_token}", "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert _code(response) == "BAD_USER_INPUT"
    assert "nests deeper" in response.json()["errors"][0]["message"]
    within_limit = await app_client.post(
        "/graphql",
        content=_nested_variables(30),
        headers={"Authorization": f"Bearer {operator_token}", "Content-Type": "application/json"},
    )
    assert within_limit.json() == {"data": {"viewer": {"kind": "OPERATOR"}}}


TEMPLATE = Path(__file__).resolve().parents[2] / "reference" / "csv-template"
UPLOAD = """mutation($file: Upload!) { importEdex(file: $file) { schoolCode students { added } errors } }"""


def _template_zip() -> bytearray:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name in ("school.csv", "groups.csv", "students.csv", "staff.csv"):
            zipped.writestr(name, (TEMPLATE / name).read_text(encoding="utf-8"))
    return bytearray(archive.getvalue())


def _central_entries(content: bytearray) -> list[int]:
    """The offsets of the archive's central directory entries."""
    offsets, at = [], content.find(b"PK\x01\x02")
    while at != -1:
        offsets.append(at)
        at = content.find(b"PK\x01\x02", at + 1)
    return offsets


def _encrypted() -> bytes:
    content = _template_zip()
    content[6] |= 1  # the local header's "encrypted" flag ...
    for at in _central_entries(content):
        content[at + 8] |= 1  # ... and the central directory's
    return bytes(content)


def _unknown_method() -> bytes:
    content = _template_zip()
    for at in _central_entries(content):
        content[at + 10 : at + 12] = struct.pack("<H", 99)  # WinZip AES, which zipfile cannot read
    return bytes(content)


def _corrupt() -> bytes:
    content = _template_zip()
    content[50:70] = bytes(20)  # inside the first entry's compressed data
    return bytes(content)


def _lying_sizes() -> bytes:
    """A 5 MB entry that declares itself 10 bytes long (how a bomb tries to pass a size check)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("school.csv", b"a" * 5_000_000)
    content = bytearray(archive.getvalue())
    for at in _central_entries(content):
        content[at + 24 : at + 28] = struct.pack("<I", 10)
    return bytes(content)


BROKEN_ARCHIVES = {
    "encrypted": (_encrypted, "encrypted"),
    "unknown-method": (_unknown_method, "compression method"),
    "corrupt": (_corrupt, "damaged"),
    "lying-sizes": (_lying_sizes, "damaged"),
}


@pytest.mark.parametrize("broken", BROKEN_ARCHIVES.values(), ids=BROKEN_ARCHIVES.keys())
async def test_a_broken_zip_upload_gives_an_import_report_with_an_error_and_changes_nothing(
    app_client: httpx.AsyncClient, engine: AsyncEngine, operator_token: str, broken: tuple[Any, str]
) -> None:
    make, reason = broken
    before = await _rows(engine)
    response = await app_client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {operator_token}", "Apollo-Require-Preflight": "true"},
        data={
            "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": ("school.zip", make(), "application/zip")},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    errors = body["data"]["importEdex"]["errors"]
    assert len(errors) == 1
    assert reason in errors[0]
    assert await _rows(engine) == before


# --- 8. bodies are small where they may be, and parsed only as the endpoint reads them ----------------------


async def test_a_body_without_a_token_larger_than_signing_in_needs_is_401(
    app_client: httpx.AsyncClient,
) -> None:
    sign_in = 'mutation { signIn(email: "a@b.example", password: "' + "x" * 20_000 + '") { token } }'

    response = await app_client.post("/graphql", json={"query": sign_in})

    assert response.status_code == 401
    assert _code(response) == "UNAUTHENTICATED"


async def test_a_body_over_the_request_cap_is_413_limit_exceeded(
    app_client: httpx.AsyncClient, operator_token: str, settings: Settings
) -> None:
    query = "{ viewer { kind } }" + " " * settings.max_request_bytes

    response = await app_client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {operator_token}"}
    )

    assert response.status_code == 413
    assert _code(response) == "LIMIT_EXCEEDED"


async def test_a_malformed_multipart_body_is_400_bad_user_input_in_json(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    response = await app_client.post(
        "/graphql",
        content=b"--x\r\nContent-Disposition: form-data\r\n\r\nno name, no end",
        headers={
            "Authorization": f"Bearer {operator_token}",
            "Apollo-Require-Preflight": "true",
            "Content-Type": "multipart/form-data; boundary=x",
        },
    )

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert _code(response) == "BAD_USER_INPUT"


async def _partner_credentials(engine: AsyncEngine, settings: Settings) -> tuple[str, str]:
    credentials = await register_partner(
        engine,
        name="Uitgeverij Formulier",
        kind="PUBLISHER",
        categories=[],
        eck_chain=False,
        now=settings.now(),
    )
    return credentials.client_id, credentials.client_secret


TOKEN_REQUESTS: dict[str, dict[str, Any]] = {
    "json": {"json": {"grant_type": "client_credentials"}},
    "multipart": {"files": {"grant_type": (None, "client_credentials")}},
    "repeated-parameter": {"content": "grant_type=client_credentials&grant_type=client_credentials"},
    "too-large": {"content": "grant_type=client_credentials&padding=" + "x" * 10_000},
    "credentials-in-the-url": {
        "content": "grant_type=client_credentials",
        "params": {"client_secret": "in-every-log"},
    },
}


@pytest.mark.parametrize("request_kwargs", TOKEN_REQUESTS.values(), ids=TOKEN_REQUESTS.keys())
async def test_the_token_endpoint_takes_small_form_encoded_bodies_only(
    app_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, request_kwargs: dict[str, Any]
) -> None:
    client_id, secret = await _partner_credentials(engine, settings)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    if "content" in request_kwargs:
        headers["Content-Type"] = "application/x-www-form-urlencoded"

    response = await app_client.post("/oauth/token", headers=headers, **request_kwargs)
    form_encoded = await app_client.post(
        "/oauth/token", headers={"Authorization": f"Basic {basic}"}, data={"grant_type": "client_credentials"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "access_token" not in response.json()
    assert form_encoded.status_code == 200, "the same client with a proper form gets its token"


# --- 12. a LAS client's token is for pushing files, not for reading the graph -----------------------------


async def test_a_las_token_is_refused_on_the_graph_with_forbidden(
    app_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    token = await _token(engine, settings, "las:somelas", "las")
    for query in ("{ viewer { kind } }", '{ node(id: "UGFydG5lcjox") { id } }', "{ __typename }"):
        response = await app_client.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
        )

        assert response.status_code == 403, query
        assert _code(response) == "FORBIDDEN"
        assert "data" not in response.json()


# --- 14. misspelt or unknown query parameters are refused, and nothing changes ------------------------------


async def _las_token(client: httpx.AsyncClient, settings: Settings, code: str) -> str:
    created = await admin.create_las_client(settings, "ParnasSys", [code])
    basic = base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode()).decode()
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _first_school(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return str(
            (await connection.execute(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id).limit(1))).scalar_one()
        )


PUSH_PARAMETERS = {
    "snake-case": {"dry_run": "true"},
    "misspelt": {"dryrun": "true"},
    "unknown": {"dryRun": "true", "force": "true"},
    "not-a-boolean": {"dryRun": "yes"},
    "repeated": [("dryRun", "true"), ("dryRun", "false")],
}


@pytest.mark.parametrize("parameters", PUSH_PARAMETERS.values(), ids=PUSH_PARAMETERS.keys())
async def test_a_las_push_with_a_parameter_it_does_not_know_is_400_and_changes_nothing(
    app_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, parameters: Any
) -> None:
    code = await _first_school(engine)
    token = await _las_token(app_client, settings, code)
    before = await _rows(engine)

    response = await app_client.post(
        "/las/edex",
        content=write_edexml(school_file(code, "2026-2027")),
        params=parameters,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
    )

    assert response.status_code == 400
    assert _code(response) == "BAD_USER_INPUT"
    assert await _rows(engine) == before
    # Spelt as documented, the same push (confirmed, even) is a dry run.
    dry_run = await app_client.post(
        "/las/edex",
        content=write_edexml(school_file(code, "2026-2027")),
        params={"dryRun": "true", "confirm": "true"},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
    )
    assert dry_run.status_code == 200, dry_run.text
    assert dry_run.json()["dryRun"] is True
    assert await _rows(engine) == before


async def test_a_graphql_post_with_query_parameters_is_400_and_runs_nothing(
    app_client: httpx.AsyncClient, operator_token: str, engine: AsyncEngine
) -> None:
    before = await _rows(engine)
    mutation = (
        'mutation { recordDpaSignature(boardNumber: "1", signedBy: "x", chamberOfCommerceNumber: "1",'
        ' version: "1") { number } }'
    )

    response = await app_client.post(
        "/graphql",
        params={"query": mutation},
        json={"query": "{ viewer { kind } }"},
        headers={"Authorization": f"Bearer {operator_token}"},
    )

    assert response.status_code == 400
    assert _code(response) == "BAD_USER_INPUT"
    assert await _rows(engine) == before


# --- 12. partners and products by id: only for those who deal with them ---------------------------------

PASSWORD = "a-long-coordinator-password"
BY_ID = """query($id: ID!) { node(id: $id) { id ... on Partner { name } ... on Product { name } } }"""
ENTITIES = """query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Partner { name } } }"""
LICENSED = """query($code: String!) { school(code: $code) { licenses { edges { node {
    product { id partner { id } } } } } } }"""


async def _ask(client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]) -> Any:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    return body["data"]


async def _node(client: httpx.AsyncClient, token: str, shown: str) -> Any:
    """The node behind an id, or None (answered NOT_FOUND, as for an id that names nothing)."""
    response = await client.post(
        "/graphql",
        json={"query": BY_ID, "variables": {"id": shown}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    node = body["data"]["node"]
    if node is None:
        assert [error["extensions"]["code"] for error in body["errors"]] == ["NOT_FOUND"]
    return node


async def test_a_coordinator_looks_up_only_the_partners_and_products_its_schools_deal_with(
    app_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, operator_token: str
) -> None:
    code = await _first_school(engine)
    await admin.add_school_coordinator(settings, code, "ict@walk.example", PASSWORD)
    signed_in = await app_client.post(
        "/graphql",
        json={
            "query": f'mutation {{ signIn(email: "ict@walk.example", password: "{PASSWORD}") {{ token }} }}'
        },
    )
    coordinator = signed_in.json()["data"]["signIn"]["token"]
    consented = await register_partner(
        engine, name="Uitgeverij Bekend", kind="PUBLISHER", categories=[], eck_chain=False, now=settings.now()
    )
    stranger = await register_partner(
        engine, name="Uitgeverij Vreemd", kind="PUBLISHER", categories=[], eck_chain=False, now=settings.now()
    )
    async with engine.begin() as connection:
        school_id = (
            await connection.execute(select(SCHOOLS.c.id).where(SCHOOLS.c.code == code))
        ).scalar_one()
        product_id = (
            await connection.execute(
                insert(PRODUCTS)
                .values(partner_id=stranger.partner_id, name="Vreemde methode", allowed_at_home=False)
                .returning(PRODUCTS.c.id)
            )
        ).scalar_one()
    await consent_lifecycle.grant(
        engine,
        operator_scope(Viewer(ViewerKind.OPERATOR, "helpdesk")),
        school_id=school_id,
        partner_id=consented.partner_id,
        categories=[DataCategory.SCHOOL_BASIC],
        now=settings.now(),
    )
    known, unknown = (
        to_global_id("Partner", str(consented.partner_id)),
        to_global_id("Partner", str(stranger.partner_id)),
    )
    foreign_product = to_global_id("Product", str(product_id))
    licensed = (await _ask(app_client, coordinator, LICENSED, {"code": code}))["school"]["licenses"]["edges"]
    assert licensed, "the seeded school holds licenses"
    licensed_product = licensed[0]["node"]["product"]

    as_coordinator = {
        shown: await _node(app_client, coordinator, shown)
        for shown in (
            known,
            unknown,
            foreign_product,
            licensed_product["id"],
            licensed_product["partner"]["id"],
        )
    }
    entities = await _ask(
        app_client,
        coordinator,
        ENTITIES,
        {"reps": [{"__typename": "Partner", "id": shown} for shown in (known, unknown)]},
    )
    as_operator = await _node(app_client, operator_token, unknown)

    assert as_coordinator[known] == {"id": known, "name": "Uitgeverij Bekend"}
    assert as_coordinator[unknown] is None
    assert as_coordinator[foreign_product] is None
    assert as_coordinator[licensed_product["id"]] is not None, "a product licensed at its school resolves"
    assert as_coordinator[licensed_product["partner"]["id"]] is not None, "and so does its partner"
    assert entities["_entities"] == [{"name": "Uitgeverij Bekend"}, None]
    assert as_operator == {"id": unknown, "name": "Uitgeverij Vreemd"}
