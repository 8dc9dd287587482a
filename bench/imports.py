"""Import benchmark: a generated school file imported into a fresh hub, imported again unchanged, next to
the bare lxml parse of the same bytes in the same run; and the peak memory of a 10,000-student import.

    .venv/bin/python bench/imports.py [--engine sqlite|postgresql|both] [--students 1000] [--large 10000]

The large import runs in a child process so its peak memory (VmHWM) is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.edexml import generate_edexml
from bench.harness import DEFAULT_POSTGRES_ADMIN_URL, fresh_database, status_mb
from datasources.imports.sync import sync_school
from datasources.registry.locations import add_managed_location
from datasources.school_files.edexml import read_edexml
from datasources.store.database import create_engine


def _school_year(today: dt.date) -> str:
    start = today.year if today.month >= 8 else today.year - 1
    return f"{start}-{start + 1}"


async def _import_twice(url: str, data: bytes, today: dt.date) -> tuple[float, float, float, int]:
    engine = create_engine(url)
    try:
        await add_managed_location(engine, code="99ZZ00", name="Benchschool", board_number="99999")
        started = time.perf_counter()
        first = await sync_school(engine, read_edexml(data), today=today)
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        second = await sync_school(engine, read_edexml(data), today=today)
        second_seconds = time.perf_counter() - started
        started = time.perf_counter()
        read_edexml(data)
        read_seconds = time.perf_counter() - started
        assert first.students.added == second.students.unchanged, (first, second)
        return first_seconds, second_seconds, read_seconds, first.students.added
    finally:
        await engine.dispose()


def _bare_parse(data: bytes) -> float:
    started = time.perf_counter()
    etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    return time.perf_counter() - started


def child(url: str, students: int) -> None:
    """In a child process: import a large file once and print the peak memory."""
    today = dt.datetime.now(dt.UTC).date()
    data = generate_edexml(students, school_year=_school_year(today))
    first, _, _, added = asyncio.run(_import_twice(url, data, today))
    print(f"{added} {first:.3f} {status_mb('self', 'VmHWM'):.1f}")


def run(engine: str, students: int, large: int, admin_url: str) -> None:
    """Measure one engine."""
    today = dt.datetime.now(dt.UTC).date()
    data = generate_edexml(students, school_year=_school_year(today))
    with fresh_database(engine, admin_url) as url:
        first, second, read, added = asyncio.run(_import_twice(url, data, today))
    parse = min(_bare_parse(data) for _ in range(3))
    print(f"\n{engine}: a {added:,}-student file of {len(data) / 1e6:.2f} MB")
    print(f"  import into an empty school      {first:7.3f} s")
    print(f"  the same file again (no changes)  {second:7.3f} s")
    print(f"  read_edexml alone (parse, validate, map)  {read:7.3f} s")
    print(f"  bare lxml parse of the same bytes         {parse:7.3f} s")
    print(f"  import / bare parse: {first / parse:.0f}x; re-import / bare parse: {second / parse:.0f}x")
    with fresh_database(engine, admin_url) as url:
        output = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, __file__, "--child", url, "--students", str(large)],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        ).stdout.split()
    added, seconds, peak = int(output[0]), float(output[1]), float(output[2])
    print(f"  {added:,}-student import: {seconds:.2f} s, peak memory {peak:.0f} MB")


def main() -> int:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN_URL)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child, arguments.students)
        return 0
    for engine in ["sqlite", "postgresql"] if arguments.engine == "both" else [arguments.engine]:
        run(engine, arguments.students, arguments.large, arguments.postgres_admin_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
