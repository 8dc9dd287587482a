"""Hostile callers over HTTP (issue 9): each is refused with the documented error code, nothing changes,
and nothing answers 500.

In process, through httpx's ASGI transport, on both engines; the bodies that must not be read past
their cap go to a real server in tests/e2e/test_bodies.py.
"""

from __future__ import annotations

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
from sqlalchemy import func, select
from sqlmodel import SQLModel

from auth.tokens import mint_token
from datasources.access.signing_keys import load_keyset
from resolvers.accounts import register_partner
from server import create_app
from settings import Settings

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


async def test_json_nested_within_the_limit_is_still_answered(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    response = await app_client.post(
        "/graphql",
        content=_nested_variables(30),
        headers={"Authorization": f"Bearer {operator_token}", "Content-Type": "application/json"},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"kind": "OPERATOR"}}}


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
