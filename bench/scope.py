"""The policy's fixed cost of one partner request: computing the partner's scope (`scope_of` in
`resolvers.viewers`: the partner's facts, every consent in force, `auth.policy.partner_scope`), as every
request does first.

    python bench/scope.py [--engine sqlite|postgresql|both] [--schools 80] [--requests 300]

Per engine: a fresh seeded database of `--schools` schools (20 students each: the students do not matter
here) and a partner that every school consented to with every category (as `bench/graph.py`); then the
scope computed `--requests` times, each on a fresh request reader as the server makes one. Prints the median
time per request.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from auth.viewer import Viewer, ViewerKind
from bench.graph import _partner_of_every_school
from bench.harness import DEFAULT_POSTGRES_ADMIN_URL, fresh_database, seed
from datasources.store.database import create_engine
from datasources.store.reader import Reader
from datasources.store.tables import PARTNERS
from resolvers.viewers import scope_of
from settings import Settings

if TYPE_CHECKING:
    from collections.abc import Sequence


async def _measure(url: str, requests: int) -> None:
    await _partner_of_every_school(url)
    engine = create_engine(url)
    settings = Settings(DATABASE_URL=url)
    try:
        async with engine.connect() as connection:
            # The partner `_partner_of_every_school` registered last.
            client_id = await connection.scalar(
                select(PARTNERS.c.client_id).where(
                    PARTNERS.c.id == select(func.max(PARTNERS.c.id)).scalar_subquery()
                )
            )
        viewer = Viewer(ViewerKind.PARTNER, str(client_id))
        seconds = []
        for _ in range(requests):
            reader = Reader(engine)
            started = time.perf_counter()
            scope = await scope_of(reader, viewer, settings)
            seconds.append(time.perf_counter() - started)
            await reader.close()
        visible = len(scope.visible_school_ids or ())
        median = statistics.median(seconds) * 1000
        print(f"  scope of a partner with {visible} consented schools: median {median:.2f} ms")
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Measure on each asked engine."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--schools", type=int, default=80)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN_URL)
    arguments = parser.parse_args(argv)
    today = dt.datetime.now(dt.UTC).date()
    for engine in ["sqlite", "postgresql"] if arguments.engine == "both" else [arguments.engine]:
        with fresh_database(engine, arguments.postgres_admin_url) as url:
            seed(url, schools=arguments.schools, students_per_school=20, today=today)
            print(f"{engine}:")
            asyncio.run(_measure(url, arguments.requests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
