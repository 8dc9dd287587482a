"""The database: engine creation for SQLite and PostgreSQL, and the Alembic migrations that shape it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for `database_url`: aiosqlite for files, asyncpg for PostgreSQL."""
    if database_url.startswith("sqlite"):
        _ensure_sqlite_folder(database_url)
        engine = create_async_engine(database_url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    return create_async_engine(database_url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


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
