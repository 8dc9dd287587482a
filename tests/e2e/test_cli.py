"""`python server.py …` as an operator or a script runs it: output, exit codes and refusals.

API.md: machine-readable output where scripts read it; exit 0 on success, 2 for a usage error or refused
input with one clear line on stderr and nothing changed. Each command runs on a fresh SQLite database (the
commands are the same on PostgreSQL; the store is tested on both elsewhere), through the command line's entry
point in this process; the first two tests also run it as its own program (`python server.py`), the path
an operator takes, with the same assertions.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from datasources.store.tables import SCHOOLS
from tests.e2e.conftest import process_environment, run_cli, run_cli_in_process, sqlite_copy

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings
    from tests.e2e.conftest import CommandResult

    #: A command that has run, in this process or as its own program.
    Finished = CommandResult | subprocess.CompletedProcess[str]

#: A value production accepts for the pseudonym key (anything but the sandbox placeholder).
REAL_PSEUDONYM_KEY = "e2e-production-pseudonym-key-0123456789"
PRODUCTION = {"LEERPOORT_MODE": "production", "LEERPOORT_PSEUDONYM_KEY": REAL_PSEUDONYM_KEY}


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: a fresh copy of the migrated template (overrides the both-engines fixture)."""
    return sqlite_copy(sqlite_template, tmp_path)


def _cli(settings: Settings, folder: Path, *arguments: str, **environment: str) -> CommandResult:
    return run_cli_in_process(*arguments, settings=settings, cwd=folder, **environment)


def _program(
    settings: Settings, folder: Path, *arguments: str, **environment: str
) -> subprocess.CompletedProcess[str]:
    return run_cli(*arguments, environment=process_environment(settings, **environment), cwd=folder)


#: The two ways to run a command: in this process, and as the operator's own `python server.py` program.
BOTH_WAYS = pytest.mark.parametrize("run", [_cli, _program], ids=["in-process", "program"])


def _assert_refused(completed: Finished, *mentions: str) -> None:
    """Exit code 2, one line on stderr that names the problem, no traceback, nothing on stdout."""
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    for mention in mentions:
        assert mention in lines[0]
    assert completed.stdout == ""


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


async def _school_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(SCHOOLS))).scalar_one())


@BOTH_WAYS
def test_export_schema_prints_the_subgraph_sdl(
    run: Callable[..., Finished], settings: Settings, tmp_path: Path
) -> None:
    completed = run(settings, tmp_path, "export-schema")

    assert completed.returncode == 0, completed.stderr
    assert "type School implements Node" in completed.stdout
    assert '@key(fields: "code")' in completed.stdout
    assert "https://specs.apollo.dev/federation/v2.9" in completed.stdout


async def test_seed_fills_an_empty_hub_once_and_refuses_a_second_run_without_changing_it(
    settings: Settings, tmp_path: Path, engine: AsyncEngine
) -> None:
    arguments = ("seed", "--schools", "2", "--students-per-school", "5")

    first = _cli(settings, tmp_path, *arguments)

    assert first.returncode == 0, first.stderr
    counts = json.loads(first.stdout)
    assert counts["schools"] == 2
    assert counts["students"] == 10
    assert await _school_count(engine) == 2

    second = _cli(settings, tmp_path, *arguments)

    _assert_refused(second, "schools")
    assert await _school_count(engine) == 2


@BOTH_WAYS
def test_production_without_a_pseudonym_key_refuses_to_start(
    run: Callable[..., Finished], settings: Settings, tmp_path: Path
) -> None:
    completed = run(settings, tmp_path, "migrate", LEERPOORT_MODE="production")

    _assert_refused(completed, "LEERPOORT_PSEUDONYM_KEY")


def test_the_sandbox_mints_tokens_at_the_clock_override(settings: Settings, tmp_path: Path) -> None:
    completed = _cli(settings, tmp_path, "token", "operator", LEERPOORT_NOW="2030-01-01T00:00:00Z")

    assert completed.returncode == 0, completed.stderr
    claims = _claims(completed.stdout.strip())
    issued = dt.datetime.fromtimestamp(claims["iat"], dt.UTC)
    assert issued == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert claims["exp"] - claims["iat"] == 12 * 3600
    assert claims["sub"] == "operator:helpdesk"


def test_production_refuses_a_clock_override(settings: Settings, tmp_path: Path) -> None:
    completed = _cli(
        settings, tmp_path, "token", "operator", **PRODUCTION, LEERPOORT_NOW="2030-01-01T00:00:00Z"
    )

    _assert_refused(completed, "LEERPOORT_NOW")


def test_production_mints_no_operator_token_on_the_command_line(settings: Settings, tmp_path: Path) -> None:
    completed = _cli(settings, tmp_path, "token", "operator", **PRODUCTION)

    _assert_refused(completed, "sandbox")
