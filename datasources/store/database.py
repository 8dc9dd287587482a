"""The database: engine creation for SQLite and PostgreSQL, the Alembic migrations that shape it, and how
to tell that it is out of reach (so callers answer 503 UNAVAILABLE instead of an internal error)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

#: How long opening a PostgreSQL connection may take (asyncpg's own default is 60 s): a database host
#: that does not answer gives a quick 503 instead of holding every request for a minute.
CONNECT_TIMEOUT_SECONDS = 3.0
#: How long a request waits for a pooled connection when all are in use (SQLAlchemy's default is 30 s).
POOL_TIMEOUT_SECONDS = 5.0
#: SQLSTATE classes and codes that say the server is out of reach rather than the statement wrong:
#: connection exceptions (08), operator intervention such as a shutdown or a start-up in progress (57P),
#: and too many connections (53300).
_OUTAGE_SQLSTATES = ("08", "57P", "53300")


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for `database_url`: aiosqlite for files, asyncpg for PostgreSQL.

    The PostgreSQL pool checks a connection before handing it out (`pool_pre_ping`), so connections that
    a database restart or a network cut broke are replaced by themselves, and it bounds the time to
    connect and to wait for a free connection, so that an outage is answered at once.
    """
    if database_url.startswith("sqlite"):
        _ensure_sqlite_folder(database_url)
        engine = create_async_engine(database_url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    return create_async_engine(
        database_url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )


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
