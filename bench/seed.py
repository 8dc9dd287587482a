"""Benchmark of the sandbox seed: migrate a fresh database, seed a world, print time, rows/s and peak memory.

    python bench/seed.py --schools 1000 --students-per-school 250 [--database-url URL] [--registry FILE]

Without `--database-url` the world goes into a temporary SQLite file. A PostgreSQL URL is used as an admin
URL: the script creates a fresh database next to it, seeds that, and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from datasources.registry.duo import RegistryLocation, read_registry
from datasources.sandbox.world import SeedSummary, seed_world
from datasources.store.database import create_engine, migrate


def _asyncpg_url(url: str, database: str | None = None) -> str:
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            url = "postgresql+asyncpg://" + url.removeprefix(plain)
    return url if database is None else url.rsplit("/", 1)[0] + "/" + database


async def _admin(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _seed(url: str, registry: list[RegistryLocation], arguments: argparse.Namespace) -> SeedSummary:
    engine = create_engine(url)
    try:
        return await seed_world(
            engine,
            registry=registry,
            schools=arguments.schools,
            students_per_school=arguments.students_per_school,
            seed=arguments.seed,
            today=dt.date.today(),
        )
    finally:
        await engine.dispose()


def _run(url: str, registry: list[RegistryLocation], arguments: argparse.Namespace) -> None:
    migrate(url)
    started = time.perf_counter()
    summary = asyncio.run(_seed(url, registry, arguments))
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    engine = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(
        f"{engine}: {summary.schools} schools, {summary.students} students, {summary.staff} staff, "
        f"{summary.groups} groups, {summary.licenses} licenses, {summary.consents} consents, "
        f"{summary.boards} boards; {summary.rows} rows in {elapsed:.1f} s "
        f"= {summary.rows / elapsed:,.0f} rows/s; "
        f"peak memory {peak_mb:.0f} MB"
    )


def main() -> None:
    """Parse the arguments, seed a fresh database and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schools", type=int, default=1000)
    parser.add_argument("--students-per-school", type=int, default=250)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="a PostgreSQL admin URL; default: a temporary SQLite file")
    parser.add_argument("--registry", type=Path, help="a DUO location file; default: synthetic schools only")
    arguments = parser.parse_args()
    registry = read_registry(arguments.registry) if arguments.registry else []
    if arguments.database_url is None:
        with tempfile.TemporaryDirectory() as folder:
            _run(f"sqlite+aiosqlite:///{folder}/bench.db", registry, arguments)
        return
    admin = _asyncpg_url(arguments.database_url)
    name = f"leerpoort_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        _run(_asyncpg_url(admin, name), registry, arguments)
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
