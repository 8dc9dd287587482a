"""The database's cost of one page of students, the statement every full sync runs most: as the hub
builds it (the main group's id a column of the ranked rows, the group joined to the page) against the
same page with the main group joined before ranking (as `_students` builds a lookup by id).

    python bench/students_page.py [--engine sqlite|postgresql|both] [--schools 80] [--repeat 3]

Per engine: a fresh seeded database (250 students a school, as `bench/graph.py`), then pages of four
schools (1,000 students, as the full sync asks for them) read by both statements in turn, `--repeat`
rounds; prints the median wall time per page of each, and on PostgreSQL the `EXPLAIN ANALYZE` execution
time of one page (the database's own work, without the driver).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text

from auth.policy import operator_scope
from auth.viewer import Viewer, ViewerKind
from bench.harness import DEFAULT_POSTGRES_ADMIN_URL, fresh_database, seed
from datasources.graph import people
from datasources.store.database import create_engine
from datasources.store.pagination import PageArgs, partitioned_page
from datasources.store.tables import SCHOOLS, STUDENTS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy import Select

_PAGE = PageArgs(first=1000, after=None)
_SCHOOLS_A_PAGE = 4


def _statements(today: dt.date) -> dict[str, Callable[[Sequence[int]], Select[Any]]]:
    scope = operator_scope(Viewer(ViewerKind.OPERATOR, "bench"))

    def joined_before_ranking(schools: Sequence[int]) -> Select[Any]:
        statement = people._students(scope, today).where(STUDENTS.c.school_id.in_(schools))
        return partitioned_page(statement, STUDENTS.c.school_id, STUDENTS.c.id, _PAGE)

    def the_hubs(schools: Sequence[int]) -> Select[Any]:
        statement = people._students_to_page(scope, today).where(STUDENTS.c.school_id.in_(schools))
        return people._paged_students(scope, statement, STUDENTS.c.school_id, _PAGE, schools)

    return {"joined before ranking": joined_before_ranking, "the hub's (joined to the page)": the_hubs}


async def _measure(url: str, repeat: int, today: dt.date) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            school_ids = list(await connection.scalars(select(SCHOOLS.c.id).order_by(SCHOOLS.c.id)))
            batches = [
                school_ids[at : at + _SCHOOLS_A_PAGE] for at in range(0, len(school_ids), _SCHOOLS_A_PAGE)
            ]
            timings: dict[str, list[float]] = {}
            rows: dict[str, list[tuple[Any, ...]]] = {}
            for _ in range(repeat):
                for name, build in _statements(today).items():
                    for batch in batches:
                        started = time.perf_counter()
                        found = (await connection.execute(build(batch))).all()
                        timings.setdefault(name, []).append(time.perf_counter() - started)
                        if batch is batches[0]:
                            # The student's and the main group's columns (the first adds `_rank`).
                            rows[name] = [tuple(row)[: people.MAIN_GROUP.end] for row in found]
            first, second = rows.values()
            print(f"  same rows from both: {first == second} ({len(first)} a page)")
            for name, seconds in timings.items():
                print(f"  {name:32} median {statistics.median(seconds) * 1000:6.2f} ms a page")
            if engine.dialect.name == "postgresql":
                for name, build in _statements(today).items():
                    compiled = build(batches[0]).compile(
                        engine.sync_engine, compile_kwargs={"literal_binds": True}
                    )
                    plan = (await connection.execute(text(f"EXPLAIN (ANALYZE, TIMING OFF) {compiled}"))).all()
                    print(f"  {name:32} {plan[-1][0]} (EXPLAIN ANALYZE, one page)")
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Measure both statements on each asked engine."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--schools", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN_URL)
    arguments = parser.parse_args(argv)
    today = dt.datetime.now(dt.UTC).date()
    for engine in ["sqlite", "postgresql"] if arguments.engine == "both" else [arguments.engine]:
        with fresh_database(engine, arguments.postgres_admin_url) as url:
            seed(url, schools=arguments.schools, students_per_school=250, today=today)
            print(f"{engine}: {arguments.schools * 250:,} students, pages of {_PAGE.first:,}")
            asyncio.run(_measure(url, arguments.repeat, today))
    return 0


if __name__ == "__main__":
    sys.exit(main())
