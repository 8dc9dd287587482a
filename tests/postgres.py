"""The PostgreSQL half of the suite, in one place: whether a server answers, and a fresh database per run.

`scripts/test.sh` asks `python -m tests.postgres` before pytest; the fixtures in `tests/conftest.py` call the
same functions, so the script and the suite agree on which server they mean and on when it "answers".

`LEERPOORT_TEST_POSTGRES_URL` is an *admin* URL (a role that may create databases). The suite creates
`leerpoort_test_<random>` there for the run, empties it between tests and drops it at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from typing import TYPE_CHECKING

import asyncpg
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from collections.abc import Sequence

#: The variable that names the admin URL, for the script and the fixtures alike.
ENVIRONMENT_VARIABLE = "LEERPOORT_TEST_POSTGRES_URL"
#: The server the script tries when the variable is unset (the one a developer's laptop or CI runs).
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: Seconds a connection attempt may take before the server counts as not answering.
CONNECT_TIMEOUT_SECONDS = 3.0
#: Under CI the server may still be starting: this many attempts, this far apart, before it is unreachable.
CI_ATTEMPTS = 10
CI_PAUSE_SECONDS = 2.0


class UnreachableError(Exception):
    """The PostgreSQL server does not answer (or refuses this role): the reason, for a skip or a failure."""


def shown(url: str) -> str:
    """`url` with its password hidden, fit for a CI log."""
    return make_url(url).render_as_string(hide_password=True)


def database_url(admin_url: str, database: str) -> str:
    """The SQLAlchemy (asyncpg) URL of `database` on the admin URL's server, as the hub's settings take it."""
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


def _dsn(url: str, database: str | None = None) -> str:
    """The plain `postgresql://` DSN asyncpg connects with (to the admin URL's own database by default)."""
    parsed = make_url(url)
    parsed = parsed.set(drivername="postgresql", database=database or parsed.database or "postgres")
    return parsed.render_as_string(hide_password=False)


async def _connect(url: str, database: str | None = None) -> asyncpg.Connection:
    """A real connection, not a port check: it also proves the credentials and the database."""
    try:
        return await asyncio.wait_for(
            asyncpg.connect(_dsn(url, database), timeout=CONNECT_TIMEOUT_SECONDS),
            timeout=CONNECT_TIMEOUT_SECONDS + 2,
        )
    except Exception as error:  # any failure means "does not answer"; the reason is kept
        raise UnreachableError(f"{type(error).__name__}: {error}") from error


async def _admin(admin_url: str, statement: str) -> None:
    connection = await _connect(admin_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def probe(admin_url: str, *, attempts: int = 1, pause: float = CI_PAUSE_SECONDS) -> None:
    """Return once the server answers; after `attempts` failed tries raise `UnreachableError` (why)."""
    for attempt in range(1, attempts + 1):
        try:
            asyncio.run(_admin(admin_url, "SELECT 1"))
        except UnreachableError:
            if attempt == attempts:
                raise
            time.sleep(pause)
        else:
            return


def create_database(admin_url: str) -> str:
    """Create a fresh, empty database for this run; returns its SQLAlchemy URL. Raises `UnreachableError`."""
    name = f"leerpoort_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    return database_url(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the run's database, even while a connection of a failed test still holds it."""
    name = make_url(url).database
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


#: Rewind every sequence that a table column owns (serial or identity), as TRUNCATE … RESTART IDENTITY does.
_RESTART_OWNED_SEQUENCES = """
SELECT setval(sequence.seqrelid, sequence.seqstart, false)
FROM pg_sequence AS sequence
JOIN pg_depend AS owner ON owner.objid = sequence.seqrelid AND owner.deptype IN ('a', 'i')
    AND owner.classid = 'pg_class'::regclass AND owner.refclassid = 'pg_class'::regclass
"""


async def _empty(url: str, tables: Sequence[str]) -> None:
    connection = await _connect(url, make_url(url).database)
    try:
        async with connection.transaction():
            # DELETE, children first, is ~40x faster than TRUNCATE on a nearly empty database (TRUNCATE makes
            # new files for every table): 0.3 s a test is most of the PostgreSQL half's time otherwise.
            for table in tables:
                await connection.execute(f'DELETE FROM "{table}"')  # noqa: S608 - our own table names
            await connection.execute(_RESTART_OWNED_SEQUENCES)
    finally:
        await connection.close()


def empty_database(url: str, tables: Sequence[str]) -> None:
    """Delete every row of `tables` (listed parents first) and restart their ids, as a fresh database has."""
    asyncio.run(_empty(url, list(reversed(tables))))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tests.postgres [ADMIN_URL]`: exit 0 and the admin URL on stdout when the server answers;
    exit 1 and "no server at URL" on stdout (the reason on stderr) when it does not. Under CI it retries."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    admin_url = arguments[0] if arguments else os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_ADMIN_URL
    try:
        probe(admin_url, attempts=CI_ATTEMPTS if os.environ.get("CI") else 1)
    except UnreachableError as error:
        print(f"    {error}", file=sys.stderr)
        print(f"no server at {shown(admin_url)}")
        return 1
    print(f"    {shown(admin_url)} answers: the suite runs on SQLite and PostgreSQL", file=sys.stderr)
    print(admin_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
