"""Fixtures shared by the whole suite: a clean, migrated database per test on both engines.

The PostgreSQL run needs `LEERPOORT_TEST_POSTGRES_URL` (an admin URL such as
`postgresql://postgres@127.0.0.1:5432/test`); the suite creates a fresh database there for the run and
drops it afterwards (tests/postgres.py, which scripts/test.sh uses too). Without it, or when the server does
not answer, the PostgreSQL half is skipped and the skip reason says so; under CI (`CI` set) an unreachable
server fails the run instead.

Property tests draw their examples under a Hypothesis profile: `ci` (the full counts) when `CI` is set,
`dev` (a tenth of them) otherwise, so a developer's run stays fast; `HYPOTHESIS_PROFILE=ci` runs CI's
counts locally.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import hypothesis
import pytest
from sqlmodel import SQLModel

import datasources.store.tables  # noqa: F401 - registers the tables
from datasources.store.database import create_engine, migrate
from settings import Settings
from tests import postgres

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

ENGINES = ("sqlite", "postgresql")

# --- Hypothesis: the full counts on CI, a tenth on a laptop -------------------------------------------------

#: Examples a property test draws under each profile, as a share of the count the test declares.
_EXAMPLE_SHARE = {"ci": 1.0, "dev": 0.1}
#: A local run still draws at least this many examples of every property test (or all of them, if fewer).
_LOCAL_MINIMUM = 5

hypothesis.settings.register_profile("ci", print_blob=True)
hypothesis.settings.register_profile("dev")
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
hypothesis.settings.load_profile(HYPOTHESIS_PROFILE)


# --- the longest tests first -----------------------------------------------------------------------------

#: Tests that run for half a minute to two minutes on CI (`--durations`), longest first. They are started
#: before everything else: pytest-xdist hands each worker a contiguous share of the collection and lets idle
#: workers steal from the end of the others' shares, so a long test that starts late is the last thing the
#: whole run waits for (on 6 December the feed replay ran alone for its last two minutes).
LONG_TESTS = (
    "tests/schema/test_feed_replay.py::",
    "tests/e2e/test_lifecycle.py::test_the_school_commands_print_their_report",
    "tests/schema/test_compiled_feed.py::test_the_compiled_feed_answers_as_the_executor",
    "tests/schema/test_compiled.py::test_the_compiled_path_answers_as_the_executor",
    "tests/datasources/test_edexml_writer.py::test_any_school_the_readers_accept",
    "tests/e2e/test_kill_import.py::",
)


def _started_at(item: pytest.Item) -> int:
    return next(
        (rank for rank, prefix in enumerate(LONG_TESTS) if item.nodeid.startswith(prefix)), len(LONG_TESTS)
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests first (in `LONG_TESTS` order), the rest in collection order (a stable sort: every
    worker sorts the same collection alike, as pytest-xdist requires)."""
    items.sort(key=_started_at)


def examples(full: int) -> int:
    """How many examples a property test declared with `full` draws in this run: all of them under the `ci`
    profile, a tenth (at least five) under `dev`. Use as `@settings(max_examples=examples(150))`."""
    share = _EXAMPLE_SHARE.get(HYPOTHESIS_PROFILE, 1.0)
    if share >= 1.0:
        return full
    return min(full, max(_LOCAL_MINIMUM, round(full * share)))


# --- settings: never the developer's own configuration -----------------------------------------------------

#: The environment names that `Settings` reads (DATABASE_URL, LEERPOORT_MODE, …), upper-cased.
_SETTING_NAMES = frozenset((field.alias or name).upper() for name, field in Settings.model_fields.items())


@pytest.fixture(scope="session", autouse=True)
def _no_developer_settings() -> Iterator[None]:
    """Every `Settings` built in the suite, by a fixture, a test or a command run in process, ignores a
    `.env` in the working directory and the hub's variables in the developer's environment: a developer's
    `LEERPOORT_MODE=production` or own `DATABASE_URL` must neither break the suite nor be written to."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(Settings.model_config, "env_file", None)
        for name in list(os.environ):
            if name.upper() in _SETTING_NAMES:
                patch.delenv(name)
        yield


# --- databases ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies, so migrations run once per session."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run (dropped afterwards), migrated once."""
    admin_url = os.environ.get(postgres.ENVIRONMENT_VARIABLE)
    if not admin_url:
        pytest.skip(f"PostgreSQL run SKIPPED: {postgres.ENVIRONMENT_VARIABLE} is not set")
    try:
        url = postgres.create_database(admin_url)
    except postgres.UnreachableError as error:
        message = f"PostgreSQL run SKIPPED: cannot create a database at {postgres.shown(admin_url)}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message.replace("SKIPPED", "FAILED"))
        pytest.skip(message)
    try:
        migrate(url)
        yield url
    finally:
        postgres.drop_database(admin_url, url)


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a clean, migrated database, once per engine."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "leerpoort.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_database")
    yield url
    postgres.empty_database(url, [table.name for table in SQLModel.metadata.sorted_tables])


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Sandbox settings pointing at the test's clean database."""
    return Settings(DATABASE_URL=database_url, LEERPOORT_DATA_DIR=tmp_path / "data")


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database, disposed afterwards."""
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()
