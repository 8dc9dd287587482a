"""CPU per event of reading the change feed, in one process: the compiled read path and the general executor
against the same JSON built directly with SQL (`bench/feed.py`'s SQL side), with and without `node`.

    python bench/feed_cpu.py [--engine sqlite|postgresql|both] [--events 50000] [--students 10000]
                             [--repeat 3] [--profile FILE] [--json]

`bench/feed.py` reads the feed over HTTP and its wall-clock rates move with the machine's load (the SQL
side by ±20% run to run); the CPU this process spends per event moves far less, so this script measures
that, as `bench/sync_cpu.py` does for the full sync. Per engine: a fresh database seeded and given a
backlog as `bench/feed.py` does, a partner that every school consented to with every category; then each
side `--repeat` times (the cheapest run counts): the whole feed read page by page with `bench/feed.py`'s
queries, answered by `schema.http.execute` inside the request pipeline (`open_request`: scope, loaders,
the disclosure audit) and serialised as the server serialises it, without HTTP; and the direct SQL pass.
The garbage collector is tuned as the server tunes it. `--profile FILE` writes a cProfile of one compiled
pass with `node` (PostgreSQL, or the only engine asked for) to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import gc
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auth.viewer import Viewer, ViewerKind
from bench.feed import QUERIES, _backlog, _partner_of_every_school, _sql_pages
from bench.harness import DEFAULT_POSTGRES_ADMIN_URL, fresh_database, seed
from datasources.store.database import create_engine
from resolvers.requests import Services, open_request
from resolvers.signing import Keys
from schema.assembly import build_schema
from schema.graphql_requests import GraphQLRequest
from schema.http import JSON, execute
from settings import Settings

if TYPE_CHECKING:
    from schema.assembly import LeerpoortSchema

#: The partner `bench.feed._partner_of_every_school` creates.
_PARTNER = Viewer(ViewerKind.PARTNER, "bench-feed")


async def _read_feed(schema: LeerpoortSchema, services: Services, *, node: bool) -> int:
    """The whole feed, page by page, as the partner; returns the events read."""
    after: str | None = None
    events = 0
    while True:
        request = GraphQLRequest(QUERIES[node], {"after": after}, None)
        async with open_request(services, _PARTNER) as context:
            answered = await execute(schema, request, context, JSON)
        json.dumps(answered.body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        if answered.body.get("errors"):
            raise RuntimeError(f"the feed answered {str(answered.body)[:300]}")
        page = answered.body["data"]["changes"]
        events += len(page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return events
        after = page["pageInfo"]["endCursor"]


async def _measure(url: str, partner_id: int, repeat: int, profile: str | None) -> dict[str, Any]:
    engine = create_engine(url)
    figures: dict[str, Any] = {}
    try:
        for compiled in (False, True):
            settings = Settings(DATABASE_URL=url, LEERPOORT_MODE="sandbox", LEERPOORT_COMPILED_READS=compiled)
            schema = build_schema(settings)
            services = Services(settings, engine, Keys(engine, settings))
            for node in (False, True):
                runs = []
                for _ in range(repeat):
                    cpu = time.process_time()
                    events = await _read_feed(schema, services, node=node)
                    runs.append(1e6 * (time.process_time() - cpu) / events)
                figures[f"{'compiled' if compiled else 'general'}{' + node' if node else ''}"] = min(runs)
            if compiled and profile:
                profiler = cProfile.Profile()
                profiler.enable()
                await _read_feed(schema, services, node=True)
                profiler.disable()
                profiler.dump_stats(profile)
    finally:
        await engine.dispose()
    for node in (False, True):
        runs = []
        for _ in range(repeat):
            cpu = time.process_time()
            result = await _sql_pages(url, partner_id, node=node)
            runs.append(1e6 * (time.process_time() - cpu) / result.events)
        figures[f"sql{' + node' if node else ''}"] = min(runs)
    return figures


def main() -> int:
    """Parse the arguments, measure each engine and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of one compiled pass with node to this file")
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN_URL)
    parser.add_argument("--json", action="store_true", help="also print one JSON line per engine")
    arguments = parser.parse_args()
    if arguments.students < 250 or arguments.students % 250 or arguments.repeat < 1 or arguments.events < 1:
        parser.error("--students must be a multiple of 250, --repeat and --events at least 1")
    engines = ["sqlite", "postgresql"] if arguments.engine == "both" else [arguments.engine]
    for engine in engines:
        with fresh_database(engine, arguments.postgres_admin_url) as url:
            seed(
                url,
                schools=arguments.students // 250,
                students_per_school=250,
                today=dt.datetime.now(dt.UTC).date(),
            )
            stage = asyncio.run(_partner_of_every_school(url))
            asyncio.run(_backlog(url, arguments.events))
            # As the server does after start-up (server.py).
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 100)
            profile = arguments.profile if engine == engines[-1] else None
            figures = asyncio.run(_measure(url, stage.partner_id, arguments.repeat, profile))
        print(f"\n{engine}: {arguments.events:,} events, cheapest of {arguments.repeat} runs")
        print(f"  {'':18} {'CPU us/event':>13} {'x SQL':>7}")
        for name in ("general", "compiled", "sql", "general + node", "compiled + node", "sql + node"):
            limit = figures["sql + node" if "node" in name else "sql"]
            print(f"  {name:18} {figures[name]:13.1f} {figures[name] / limit:7.2f}")
        if arguments.json:
            print(json.dumps({"engine": engine, "events": arguments.events, **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
