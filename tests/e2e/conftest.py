"""Fixtures of the end-to-end suite: the real application over HTTP, a seeded world and real tokens.

The application is the one `create_app(settings)` builds, with its lifespan running, reached through
httpx's ASGI transport; the world is what `seed_world` writes into the test's clean database; tokens are
minted with the signing keys the application itself loads from that database.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

import cli
from auth.tokens import OPERATOR_TOKEN_LIFETIME, mint_token
from datasources.access.signing_keys import load_keyset
from datasources.registry.duo import read_registry
from datasources.sandbox.world import SeedSummary, seed_world
from server import create_app
from tests.reference import DUO_FILE

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.key_material import KeySet
    from settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = REPO_ROOT / "server.py"
OPERATOR_SUBJECT = "operator:helpdesk"
SEED_SCHOOLS = 3
SEED_STUDENTS_PER_SCHOOL = 20


def operator_token_at(keyset: KeySet, settings: Settings, now: dt.datetime) -> str:
    """An operator token signed with `keyset`, issued at `now` with the sandbox operator lifetime."""
    return mint_token(
        keyset,
        issuer=settings.issuer,
        subject=OPERATOR_SUBJECT,
        scopes=["operator"],
        lifetime=OPERATOR_TOKEN_LIFETIME,
        now=now,
    )


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the application for the test's database, its lifespan running."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield client


@pytest.fixture
async def world(engine: AsyncEngine, settings: Settings) -> SeedSummary:
    """A small seeded world: three schools of twenty students, the same every run."""
    return await seed_world(
        engine,
        registry=read_registry(DUO_FILE),
        schools=SEED_SCHOOLS,
        students_per_school=SEED_STUDENTS_PER_SCHOOL,
        seed=7,
        today=settings.now().date(),
    )


@pytest.fixture
async def operator_token(engine: AsyncEngine, settings: Settings) -> str:
    """A helpdesk operator token signed with the keys the application loads from the database."""
    keyset = await load_keyset(engine, now=settings.now())
    return operator_token_at(keyset, settings, settings.now())


# --- processes: the command line and the server as separate programs ----------------------------------------

#: Generous for a cold interpreter on a busy machine; a command that takes longer is hanging.
CLI_TIMEOUT_SECONDS = 60


def sqlite_copy(template: Path, folder: Path) -> str:
    """The URL of a fresh copy of the migrated SQLite template in `folder`."""
    path = folder / "leerpoort.db"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


def hub_environment(settings: Settings, **overrides: str) -> dict[str, str]:
    """The hub's settings of a command on the test's database, as environment variables."""
    return {"DATABASE_URL": settings.database_url, "LEERPOORT_DATA_DIR": str(settings.data_dir), **overrides}


def process_environment(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of a child process on the test's database: none of the caller's Leerpoort
    settings leak in, and the project is importable from any working directory."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LEERPOORT_") and name != "DATABASE_URL"
    }
    environment.update(PYTHONPATH=str(REPO_ROOT), **hub_environment(settings, **overrides))
    return environment


def run_cli(*arguments: str, environment: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python server.py ARGUMENTS` as an operator runs it, in `cwd` (so no `.env` of the repository
    is read), with its output captured."""
    return subprocess.run(  # noqa: S603 - our own script with fixed arguments
        [sys.executable, str(SERVER_SCRIPT), *arguments],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )


# --- the command line: in this process for speed, as its own program for the real path ---------------------


@dataclass(frozen=True)
class CommandResult:
    """How a command ended and what it printed: the parts of a finished process that tests read."""

    returncode: int
    stdout: str
    stderr: str


def run_cli_in_process(*arguments: str, settings: Settings, cwd: Path, **environment: str) -> CommandResult:
    """`python server.py ARGUMENTS` without starting an interpreter: `cli.main` with these arguments, the
    test's database and the extra `environment` as the only hub settings, in `cwd`, its output captured.

    It runs in a thread of its own, because the commands drive their own event loop (`asyncio.run`), which
    they cannot do inside an async test's. An exception that escapes `main` fails the test, where a process
    would have printed a traceback and exited 1. A few tests run the real program (`run_cli`) as well.
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread,
    ):
        for name, value in hub_environment(settings, **environment).items():
            patch.setenv(name, value)
        patch.chdir(cwd)
        returncode = thread.submit(_exit_code, list(arguments)).result()
    return CommandResult(returncode, stdout.getvalue(), stderr.getvalue())


async def run_cli_beside_app(
    *arguments: str, settings: Settings, cwd: Path, **environment: str
) -> CommandResult:
    """`run_cli_in_process` for an async test whose application is running (`app_client`): the command
    runs while the event loop goes on. Waiting for it on the loop would stop the application's background
    work (the hourly pruning's first pass, the mail sender) in the middle of a SQLite write transaction,
    and the command's own write would then wait for that lock until it times out ("database is locked")."""
    return await asyncio.to_thread(run_cli_in_process, *arguments, settings=settings, cwd=cwd, **environment)


def _exit_code(arguments: list[str]) -> int:
    """`cli.main`'s exit code, also when argparse ends a usage error with `SystemExit`."""
    try:
        return cli.main(arguments)
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        return 1  # what Python does with `sys.exit("message")`
