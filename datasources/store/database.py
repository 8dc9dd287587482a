"""The database: engine creation for SQLite and PostgreSQL, the Alembic migrations that shape it, and how
to tell that it is out of reach (so callers answer 503 UNAVAILABLE instead of an internal error)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

#: How long opening a PostgreSQL connection may take (asyncpg's own default is 60 s): a database host
#: that does not answer gives a quick 503 instead of holding every request for a minute.
CONNECT_TIMEOUT_SECONDS = 3.0
#: How long a request waits for a pooled connection when all are in use (SQLAlchemy's default is 30 s).
POOL_TIMEOUT_SECONDS = 5.0
#: A PostgreSQL pool keeps this many connections open and opens up to `MAX_OVERFLOW` more under load.
POOL_SIZE = 10
MAX_OVERFLOW = 20
#: Pooled connections that requests' readers leave free for everything else: background work, a
#: mutation's own write transaction, a sign-in's audit (`reader_capacity`).
RESERVED_CONNECTIONS = 4
#: A pooled connection given back less than this many seconds ago is handed out without a ping.
UNPINGED_SECONDS = 2.0
_LAST_USED = "leerpoort_last_used"
#: SQLSTATE classes and codes that say the server is out of reach rather than the statement wrong:
#: connection exceptions (08), operator intervention such as a shutdown or a start-up in progress (57P),
#: and too many connections (53300).
_OUTAGE_SQLSTATES = ("08", "57P", "53300")


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for `database_url`: aiosqlite for files, asyncpg for PostgreSQL.

    The PostgreSQL pool checks a connection that has been idle a while before handing it out
    (`_ping_when_idle`), so connections that a database restart or a network cut broke are replaced by
    themselves, and it bounds the time to connect and to wait for a free connection, so that an outage is
    answered at once.
    """
    if database_url.startswith("sqlite"):
        _ensure_sqlite_folder(database_url)
        engine = create_async_engine(database_url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    engine = create_async_engine(
        database_url,
        echo=echo,
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )
    event.listen(engine.sync_engine, "connect", _note_in_use)
    event.listen(engine.sync_engine, "checkin", _note_in_use)
    event.listen(engine.sync_engine, "checkout", _ping_when_idle)
    return engine


def _note_in_use(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    record.info[_LAST_USED] = time.monotonic()


def _ping_when_idle(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """The pool's check before it hands out a connection, for connections idle a while only.

    SQLAlchemy's `pool_pre_ping` costs three round trips on asyncpg (BEGIN, an empty statement, ROLLBACK)
    at every checkout, a third of a small partner request's. A connection given back moments ago is as
    good as pinged. If the database went away since, the request's first statement fails as an outage (503
    UNAVAILABLE, `is_outage`) and SQLAlchemy then replaces every pooled connection older than the failure,
    so the requests after it reconnect by themselves.
    """
    last_used = record.info.get(_LAST_USED)
    if last_used is not None and time.monotonic() - last_used < UNPINGED_SECONDS:
        return
    try:
        dbapi_connection.ping()  # the asyncpg adapter's own check
    except Exception as error:
        # The pool discards this connection and checks out (or opens) another.
        raise exc.DisconnectionError("a pooled connection no longer answers") from error


def reader_capacity(engine: AsyncEngine) -> int | None:
    """How many request readers may hold a connection of `engine`'s pool at once (None: no bound): the
    pool's size and overflow, less `RESERVED_CONNECTIONS`."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return None
    overflow = max(0, int(getattr(pool, "_max_overflow", 0)))
    return max(1, pool.size() + overflow - RESERVED_CONNECTIONS)


def is_outage(error: BaseException | None) -> bool:
    """Whether `error` (or an error it was raised from) says the database is out of reach: refused,
    reset or timed-out connections, a server shutting down or starting up, a pool with no connection
    free. A wrong statement or a violated constraint is not an outage."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
            return True
        # A pool timeout; OSError covers refused and reset connections, unreachable hosts and timeouts.
        if isinstance(error, (exc.TimeoutError, OSError)):
            return True
        sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_OUTAGE_SQLSTATES):
            return True
        # Drivers and SQLAlchemy raise their own errors *from* the one below; an error merely raised while
        # another was being handled (`__context__`) says nothing about the database.
        wrapped = error.orig if isinstance(error, exc.DBAPIError) else None
        error = wrapped or error.__cause__
    return False


def _sqlite_on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers go on while an import writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _ensure_sqlite_folder(database_url: str) -> None:
    path = database_url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for `database_url` that needs no alembic.ini in the working directory."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """Bring the database to `revision`. Synchronous: Alembic drives its own event loop, so call it before
    the server's loop starts, or through `asyncio.to_thread` from async code."""
    command.upgrade(alembic_config(database_url), revision)


async def is_ready(engine: AsyncEngine) -> bool:
    """Whether the database answers and carries the migrated schema (for `GET /health`)."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1 FROM alembic_version"))
    except Exception:
        return False
    return True


def dialect_name(connection: Any) -> str:
    """The dialect name of a connection or engine ("sqlite" or "postgresql")."""
    return str(connection.dialect.name)
