"""CPU per record of a full sync, in one process: the compiled read path against the general executor and
against the same JSON built directly with SQL, as the operator and as a partner.

    python bench/sync_cpu.py [--engine sqlite|postgresql|both] [--students 20000] [--repeat 3] [--json]

On a shared machine wall-clock rates move with everyone else's load (`bench/graph.py` reads them over
HTTP); the CPU time this process spends per record moves far less, so this script measures that. Per
engine: a fresh seeded database (as `bench/graph.py`), a partner that every school consented to with
every category, then each side `--repeat` times (the cheapest run counts): the full sync of
`bench/graph.py` (`SCHOOLS_QUERY`, 4 schools of 250 students a request) answered by `schema.http.execute`
inside the request pipeline (`open_request`: scope, loaders, the disclosure audit) and serialised as the
server serialises it, without HTTP; and the direct SQL pass of `bench/graph.py`. The garbage collector is
tuned as the server tunes it. The general path runs first; from its second partner run on (and for every
compiled run) the partner's ids and pseudonyms are kept (`auth.identifiers.kept_partner_identifiers`);
the first run's figure is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auth.viewer import Viewer, ViewerKind
from bench.graph import SCHOOLS_QUERY, _partner_of_every_school, _sql_pages
from bench.harness import DEFAULT_POSTGRES_ADMIN_URL, fresh_database, seed
from datasources.store.database import create_engine
from resolvers.requests import Services, open_request
from resolvers.signing import Keys
from schema.assembly import build_schema
from schema.graphql_requests import GraphQLRequest
from schema.http import JSON, execute
from settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from schema.assembly import LeerpoortSchema


async def _sync(schema: LeerpoortSchema, services: Services, viewer: Viewer) -> tuple[int, int]:
    """Every student once, page by page; returns (records, JSON bytes)."""
    after: str | None = None
    records = size = 0
    while True:
        request = GraphQLRequest(SCHOOLS_QUERY, {"first": 4, "after": after}, None)
        async with open_request(services, viewer) as context:
            answered = await execute(schema, request, context, JSON)
        size += len(json.dumps(answered.body, ensure_ascii=False, allow_nan=False, separators=(",", ":")))
        schools = answered.body["data"]["schools"]
        records += sum(len(edge["node"]["students"]["edges"]) for edge in schools["edges"])
        if not schools["pageInfo"]["hasNextPage"]:
            return records, size
        after = schools["pageInfo"]["endCursor"]


async def _measure(url: str, repeat: int, today: dt.date) -> dict[str, Any]:
    engine: AsyncEngine = create_engine(url)
    figures: dict[str, Any] = {}
    try:
        for compiled in (False, True):
            settings = Settings(DATABASE_URL=url, LEERPOORT_MODE="sandbox", LEERPOORT_COMPILED_READS=compiled)
            schema = build_schema(settings)
            services = Services(settings, engine, Keys(engine, settings))
            for kind, viewer in (
                ("operator", Viewer(ViewerKind.OPERATOR, "bench")),
                ("partner", Viewer(ViewerKind.PARTNER, "bench-partner")),
            ):
                runs = []
                for _ in range(repeat):
                    started, cpu = time.perf_counter(), time.process_time()
                    records, _ = await _sync(schema, services, viewer)
                    runs.append(
                        (
                            1e6 * (time.process_time() - cpu) / records,
                            records / (time.perf_counter() - started),
                        )
                    )
                name = f"{'compiled' if compiled else 'general'}_{kind}"
                figures[name] = {
                    "cpu_us_per_record": round(min(cpu for cpu, _ in runs), 1),
                    "first_run_cpu_us_per_record": round(runs[0][0], 1),
                    "records_per_second": round(max(rate for _, rate in runs)),
                }
        sql = []
        for _ in range(repeat):
            cpu = time.process_time()
            result = await _sql_pages(url, today)
            sql.append((1e6 * (time.process_time() - cpu) / result.records, result.rate))
        figures["sql"] = {
            "cpu_us_per_record": round(min(cpu for cpu, _ in sql), 1),
            "records_per_second": round(max(rate for _, rate in sql)),
        }
    finally:
        await engine.dispose()
    limit = figures["sql"]["cpu_us_per_record"]
    for name in ("compiled_operator", "compiled_partner", "general_operator", "general_partner"):
        figures[name]["share_of_sql_cpu"] = round(limit / figures[name]["cpu_us_per_record"], 3)
    figures["policy_cost_cpu_compiled"] = round(
        figures["compiled_partner"]["cpu_us_per_record"] / figures["compiled_operator"]["cpu_us_per_record"],
        2,
    )
    figures["policy_cost_cpu_general"] = round(
        figures["general_partner"]["cpu_us_per_record"] / figures["general_operator"]["cpu_us_per_record"], 2
    )
    return figures


def main() -> int:
    """Parse the arguments, measure each engine and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN_URL)
    parser.add_argument("--json", action="store_true", help="also print one JSON line per engine")
    arguments = parser.parse_args()
    if arguments.students < 250 or arguments.students % 250 or arguments.repeat < 1:
        parser.error("--students must be a multiple of 250, --repeat at least 1")
    today = dt.datetime.now(dt.UTC).date()
    for engine in ["sqlite", "postgresql"] if arguments.engine == "both" else [arguments.engine]:
        with fresh_database(engine, arguments.postgres_admin_url) as url:
            seed(url, schools=arguments.students // 250, students_per_school=250, today=today)
            asyncio.run(_partner_of_every_school(url))
            # As the server does after start-up (server.py).
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 100)
            figures = asyncio.run(_measure(url, arguments.repeat, today))
        print(f"\n{engine}: {arguments.students:,} students, cheapest of {arguments.repeat} runs")
        print(f"  {'':18} {'CPU us/record':>14} {'first run':>10} {'records/s':>10} {'share of SQL':>13}")
        for name in ("compiled_operator", "compiled_partner", "general_operator", "general_partner", "sql"):
            side = figures[name]
            print(
                f"  {name.replace('_', ', '):18} {side['cpu_us_per_record']:14.1f}"
                f" {side.get('first_run_cpu_us_per_record', side['cpu_us_per_record']):10.1f}"
                f" {side['records_per_second']:10,} {side.get('share_of_sql_cpu', 1.0):13.3f}"
            )
        print(
            f"  policy cost, CPU per record (partner / operator): {figures['policy_cost_cpu_compiled']:.2f}x"
            f" compiled, {figures['policy_cost_cpu_general']:.2f}x general"
        )
        if arguments.json:
            print(json.dumps({"engine": engine, "students": arguments.students, **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
