"""The helpdesk's commands: `staff add-coordinator` only with the board's signed request (flags or a JSON
file), and `location rename|end` for managed locations."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from datasources.store.tables import ACCOUNT_REQUESTS, SCHOOLS, STAFF_ACCOUNTS
from resolvers.registry_commands import add_location
from tests.e2e.conftest import run_cli_beside_app, run_cli_in_process

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings
    from tests.e2e.conftest import CommandResult

CODE = "99ZX00"
PASSWORD = "a-long-coordinator-password"
DIGEST = hashlib.sha256(b"signed request").hexdigest()
REQUEST = {
    "board_name": "Stichting Proef",
    "board_number": "42",
    "school_name": "Testlocatie",
    "director": "A. Directeur",
    "coordinator_name": "C. Oordinator",
    "document_sha256": DIGEST,
    "received_at": "2026-11-02T09:15:00+01:00",
}


def _add(settings: Settings, folder: Path, *extra: str) -> CommandResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
        return run_cli_in_process(
            "staff", "add-coordinator", "--school", CODE, "--email", "ict@proef.example", "--password-stdin",
            *extra, settings=settings, cwd=folder,
        )  # fmt: skip


async def _count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


async def test_add_coordinator_needs_the_signed_request_as_flags(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    await add_location(settings, CODE, "Testlocatie", "42")
    refused = _add(settings, tmp_path)
    assert refused.returncode == 2
    assert "signed request" in refused.stderr
    assert "--document-sha256" in refused.stderr
    assert refused.stdout == ""
    assert await _count(engine, STAFF_ACCOUNTS) == 0
    flags = [item for key, value in REQUEST.items() for item in (f"--{key.replace('_', '-')}", value)]
    completed = _add(settings, tmp_path, *flags)
    assert completed.returncode == 0, completed.stderr
    added = json.loads(completed.stdout)
    assert (added["school"], added["email"], added["document_sha256"]) == (CODE, "ict@proef.example", DIGEST)
    async with engine.connect() as connection:
        recorded = (await connection.execute(select(ACCOUNT_REQUESTS))).one()
    assert (recorded.director_name, recorded.board_number) == ("A. Directeur", "00042")


async def test_add_coordinator_reads_the_signed_request_from_a_json_file(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    await add_location(settings, CODE, "Testlocatie", "42")
    (tmp_path / "request.json").write_text(json.dumps(REQUEST | {"board_number": "43"}), encoding="utf-8")
    # The school belongs to board 42, not to the 43 the file names: refused, nothing opened.
    mismatch = _add(settings, tmp_path, "--request", "request.json")
    assert mismatch.returncode == 2
    assert "board 00042" in mismatch.stderr
    assert await _count(engine, ACCOUNT_REQUESTS) == 0
    # A flag overrides the file.
    completed = _add(settings, tmp_path, "--request", "request.json", "--board-number", "42")
    assert completed.returncode == 0, completed.stderr
    assert await _count(engine, ACCOUNT_REQUESTS) == 1


async def test_location_rename_and_end_change_a_managed_location(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    await add_location(settings, CODE, "Testlocatie", "42")
    renamed = await run_cli_beside_app(
        "location", "rename", CODE, "--name", "Nieuwe naam", settings=settings, cwd=tmp_path
    )
    assert renamed.returncode == 0, renamed.stderr
    assert json.loads(renamed.stdout) == {
        "code": CODE,
        "name": "Nieuwe naam",
        "board_number": "00042",
        "active": True,
    }
    ended = await run_cli_beside_app("location", "end", CODE, settings=settings, cwd=tmp_path)
    assert json.loads(ended.stdout)["active"] is False
    again = await run_cli_beside_app("location", "end", CODE, settings=settings, cwd=tmp_path)
    assert again.returncode == 2
    assert "has ended" in again.stderr
    async with engine.connect() as connection:
        row = (await connection.execute(select(SCHOOLS.c.name, SCHOOLS.c.active))).one()
    assert (row.name, row.active) == ("Nieuwe naam", False)
