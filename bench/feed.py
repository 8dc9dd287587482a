"""Benchmark of the change feed: a partner reads a backlog of events through `changes(first: 1000)` pages
over HTTP, against the same rows read directly with SQL in the same run.

    python bench/feed.py [--engine sqlite|postgresql|both] [--events 1000000] [--students 50000]
                         [--students-per-school 250] [--postgres-admin-url URL] [--json]

Per engine: a fresh database (a temporary SQLite file, or a new PostgreSQL database next to the admin URL,
dropped afterwards) seeded with `seed_world`; a partner that every school consented to with every category
(every board's DPA signed); a backlog of `--events` change events, generated inside the database with one
INSERT … SELECT (a student UPDATED under student.basic, cycling through all students, so that every event
is the partner's and every `node` resolves); the real server (uvicorn, one process) as a child process.
Then, in the same run and on the same database:

- GraphQL over HTTP, the partner's token, one keep-alive connection: `changes(after: $c, first: 1000)`
  from the start to the end, twice: with the event fields only (cursor kind entityType entityId schoolCode
  occurredAt), and with `node { ... on Student { id pseudonym firstName prefix lastName yearLevel } }` too.
  Timed from the first request to the last parsed response.
- direct SQL, through the same async driver: keyset pages of 1,000 events of the partner's consented
  schools (`WHERE seq > :after ORDER BY seq LIMIT 1000`, joined with the consents and the school's code,
  and for the second pass with the student's fields), built into the same JSON objects in Python (the same
  per-partner sealed ids and pseudonyms, the same cursors) and serialised with `json.dumps`.

Prints events per second of the four passes and the ratios (SQL rate / GraphQL rate). Checks that each
GraphQL pass delivered every event once, in order, and that every 997th event equals the SQL side's field
by field; exit code 1 when not.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import and_, bindparam, func, insert, select, text, update

from auth.categories import DataCategory
from auth.identifiers import PartnerIdentifiers
from auth.viewer import ViewerKind
from bench.harness import (
    DEFAULT_POSTGRES_ADMIN_URL,
    cpu_seconds,
    fresh_database,
    running_server,
    seed,
    status_mb,
)
from datasources.feed.scope_changes import bring_in_line
from datasources.store.database import create_engine
from datasources.store.pagination import FEED
from datasources.store.tables import (
    BOARDS,
    CHANGE_COUNTER,
    CHANGE_EVENTS,
    CONSENTS,
    PARTNERS,
    SCHOOLS,
    STUDENTS,
)
from resolvers.signing import Keys
from schema.relay import to_global_id
from settings import Settings

#: The hub's page cap: both sides read pages of this many events.
PAGE = 1000
#: Both sides keep every event whose number is a multiple of this, to compare them field by field.
SAMPLE_EVERY = 997
_EVENT = "cursor kind entityType entityId schoolCode occurredAt"
_NODE = "node { ... on Student { id pseudonym firstName prefix lastName yearLevel } }"
QUERIES = {
    False: f"query BenchFeed($after: String) {{ changes(after: $after, first: {PAGE}) {{"
    f" edges {{ node {{ {_EVENT} }} }} pageInfo {{ hasNextPage endCursor }} }} }}",
    True: f"query BenchFeedNodes($after: String) {{ changes(after: $after, first: {PAGE}) {{"
    f" edges {{ node {{ {_EVENT} {_NODE} }} }} pageInfo {{ hasNextPage endCursor }} }} }}",
}


@dataclasses.dataclass
class PassResult:
    """What one pass delivered: events, wall time, requests or statements, JSON size, a sample."""

    events: int
    seconds: float
    requests: int
    json_bytes: int
    #: Whether the events came in strictly increasing order, each once.
    in_order: bool
    sample: dict[str, dict[str, Any]]
    #: CPU seconds of the process that did the work: the server (GraphQL) or this process (SQL).
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_1000(self) -> float:
        """CPU milliseconds per 1,000 events."""
        return 1e6 * self.cpu_seconds / self.events if self.events else 0.0

    def as_json(self) -> dict[str, Any]:
        """The figures of this pass."""
        return {
            "events": self.events,
            "seconds": round(self.seconds, 2),
            "events_per_second": round(self.rate),
            "requests": self.requests,
            "json_mb": round(self.json_bytes / 1e6, 1),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "cpu_ms_per_1000": round(self.cpu_per_1000, 1),
        }


@dataclasses.dataclass
class EngineResult:
    """The figures of one engine."""

    engine: str
    events: int
    students: int
    seed_seconds: float
    backlog_seconds: float
    passes: dict[str, PassResult]
    server_peak_mb: float
    problems: list[str]

    def ratio(self, node: bool) -> float:
        """How many times faster direct SQL is than GraphQL over HTTP."""
        suffix = " + node" if node else ""
        graphql = self.passes[f"GraphQL{suffix}"].rate
        return self.passes[f"SQL{suffix}"].rate / graphql if graphql else float("inf")

    def cpu_ratio(self, node: bool) -> float:
        """How many times more CPU a GraphQL event costs the server than an SQL row costs this process."""
        suffix = " + node" if node else ""
        sql = self.passes[f"SQL{suffix}"].cpu_per_1000
        return self.passes[f"GraphQL{suffix}"].cpu_per_1000 / sql if sql else float("inf")

    def as_json(self) -> dict[str, Any]:
        """The figures as one JSON-able object (the `--json` line)."""
        return {
            "engine": self.engine,
            "events": self.events,
            "students": self.students,
            "seed_seconds": round(self.seed_seconds, 1),
            "backlog_seconds": round(self.backlog_seconds, 1),
            **{name: side.as_json() for name, side in self.passes.items()},
            "ratio_events": round(self.ratio(node=False), 2),
            "ratio_with_node": round(self.ratio(node=True), 2),
            "cpu_ratio_events": round(self.cpu_ratio(node=False), 2),
            "cpu_ratio_with_node": round(self.cpu_ratio(node=True), 2),
            "server_peak_mb": round(self.server_peak_mb, 1),
            "load_average": round(os.getloadavg()[0], 2),
            "ok": not self.problems,
        }


# --- the stage: a partner of every school and its backlog ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class Stage:
    """The partner whose feed is read."""

    partner_id: int
    token: str


async def _partner_of_every_school(url: str) -> Stage:
    """A partner that every school consented to with every category, following each from the start."""
    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    everything = sorted(category.name for category in DataCategory)
    try:
        async with engine.begin() as connection:
            partner_id = (
                await connection.execute(
                    insert(PARTNERS)
                    .values(
                        name="Bench partner", kind="PUBLISHER", declared_categories=everything,
                        eck_chain=False, client_id="bench-feed", created_at=now,
                    )
                    .returning(PARTNERS.c.id)
                )
            ).scalar_one()  # fmt: skip
            await connection.execute(update(BOARDS).values(dpa_signed_at=now))
            school_ids = (await connection.execute(select(SCHOOLS.c.id))).scalars().all()
            await connection.execute(
                insert(CONSENTS),
                [
                    {
                        "school_id": school_id, "partner_id": partner_id, "categories": everything,
                        "granted_by": "bench", "granted_at": now, "policy_version": "bench", "feed_since": 0,
                    }
                    for school_id in school_ids
                ],
            )  # fmt: skip
            # The feed's memory of scope: the partner holds every school from the start of the feed.
            await bring_in_line(connection, school_ids=school_ids, require_dpa=True, now=now, announce=False)
        token, _ = await Keys(engine, Settings(DATABASE_URL=url)).mint(
            ViewerKind.PARTNER, "bench-feed", ["partner"]
        )
    finally:
        await engine.dispose()
    return Stage(partner_id, token)


_BACKLOG = """
INSERT INTO change_events
    (seq, occurred_at, school_id, entity_type, entity_id, person_id, kind, partner_id, categories)
SELECT g.n, :now, s.school_id, 'Student', s.id, s.person_id, 'UPDATED', NULL, {categories}
FROM {series}
JOIN (SELECT id, school_id, person_id, row_number() OVER (ORDER BY id) - 1 AS k FROM students) AS s
  ON s.k = (g.n - 1) % :students
"""
_SERIES = {
    "postgresql": "generate_series(1, :events) AS g(n)",
    # SQLite has no generate_series built in; a recursive view of 1..N does the same.
    "sqlite": "(WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < :events)"
    " SELECT n FROM r) AS g",
}
_CATEGORIES = {"postgresql": "CAST('[\"STUDENT_BASIC\"]' AS json)", "sqlite": "'[\"STUDENT_BASIC\"]'"}


async def _backlog(url: str, events: int) -> float:
    """Write `events` events in one INSERT … SELECT; returns the seconds it took (ANALYZE included)."""
    engine = create_engine(url)
    try:
        dialect = engine.dialect.name
        statement = text(
            _BACKLOG.format(series=_SERIES[dialect], categories=_CATEGORIES[dialect])
        ).bindparams(bindparam("now", type_=CHANGE_EVENTS.c.occurred_at.type))
        started = time.perf_counter()
        async with engine.begin() as connection:
            count = int(await connection.scalar(select(func.count()).select_from(STUDENTS)) or 0)
            assert count > 0, "the seeded world has no students"
            await connection.execute(
                statement, {"now": dt.datetime.now(dt.UTC), "events": events, "students": count}
            )
            await connection.execute(
                update(CHANGE_COUNTER)
                .where(CHANGE_COUNTER.c.id == 1)
                .values(last_seq=events, pruned_through=0)
            )
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
        return time.perf_counter() - started
    finally:
        await engine.dispose()


# --- the GraphQL side ---------------------------------------------------------------------------------


def _identifiers(partner_id: int) -> PartnerIdentifiers:
    """The partner's identifiers as the server derives them (its ids, pseudonyms and feed cursors)."""
    return PartnerIdentifiers(partner_id, Settings().pseudonym_key.get_secret_value().encode())


def graphql_pass(base_url: str, token: str, partner_id: int, *, node: bool) -> PassResult:
    """Read the whole feed over HTTP, page by page."""
    client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=300)
    query = QUERIES[node]
    events = requests = json_bytes = 0
    sample: dict[str, dict[str, Any]] = {}
    seen: list[str] = []
    try:
        started = time.perf_counter()
        after: str | None = None
        while True:
            response = client.post("/graphql", json={"query": query, "variables": {"after": after}})
            requests += 1
            json_bytes += len(response.content)
            body = response.json()
            if response.status_code != 200 or body.get("errors"):
                raise RuntimeError(f"GraphQL answered {response.status_code}: {str(body)[:500]}")
            page = body["data"]["changes"]
            for edge in page["edges"]:
                event = edge["node"]
                events += 1
                seen.append(event["cursor"])
                if events % SAMPLE_EVERY == 0:
                    sample[event["cursor"]] = event
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        seconds = time.perf_counter() - started
    finally:
        client.close()
    identifiers = _identifiers(partner_id)
    in_order = seen == [identifiers.cursor(FEED, number) for number in range(1, events + 1)]
    return PassResult(events, seconds, requests, json_bytes, in_order, sample)


# --- the direct SQL side ------------------------------------------------------------------------------


def sql_statement(partner_id: int, *, node: bool) -> Any:
    """One keyset page of the partner's events: those of schools whose consent is in force and began before
    them, with the school's code (and the student's fields)."""
    e, c = CHANGE_EVENTS.c, CONSENTS.c
    columns = [e.seq, e.kind, e.entity_type, e.person_id, SCHOOLS.c.code, e.occurred_at]
    statement = (
        select(*columns)
        .join(SCHOOLS, SCHOOLS.c.id == e.school_id)
        .join(CONSENTS, and_(c.school_id == e.school_id, c.partner_id == partner_id, c.revoked_at.is_(None)))
        .where(e.seq > bindparam("after"), e.seq > c.feed_since)
        .order_by(e.seq)
        .limit(PAGE)
    )
    if node:
        s = STUDENTS.c
        statement = statement.outerjoin(STUDENTS, s.id == e.entity_id).add_columns(
            s.first_name, s.prefix, s.last_name, s.year_level
        )
    return statement


async def _sql_pages(url: str, partner_id: int, *, node: bool) -> PassResult:
    engine = create_engine(url)
    identifiers = _identifiers(partner_id)
    statement = sql_statement(partner_id, node=node)
    events = requests = json_bytes = 0
    sample: dict[str, dict[str, Any]] = {}
    in_order = True
    try:
        async with engine.connect() as connection:
            await connection.execute(statement, {"after": 0})  # warm: compiled and prepared
            started = time.perf_counter()
            after = 0
            while True:
                rows = (await connection.execute(statement, {"after": after})).all()
                requests += 1
                if not rows:
                    break
                page = []
                for row in rows:
                    shown = to_global_id(row[2], identifiers.show(row[2], row[3]))
                    event: dict[str, Any] = {
                        "cursor": identifiers.cursor(FEED, row[0]),
                        "kind": row[1],
                        "entityType": row[2],
                        "entityId": shown,
                        "schoolCode": row[4],
                        "occurredAt": row[5].isoformat(),
                    }
                    if node:
                        event["node"] = {
                            "id": shown,
                            "pseudonym": identifiers.pseudonym("student", row[3]),
                            "firstName": row[6],
                            "prefix": row[7],
                            "lastName": row[8],
                            "yearLevel": row[9],
                        }
                    page.append(event)
                    in_order = in_order and row[0] == after + 1
                    after = row[0]
                    if row[0] % SAMPLE_EVERY == 0:
                        sample[event["cursor"]] = event
                # Serialised like a response body, so that both sides end in JSON text.
                json_bytes += len(json.dumps({"data": {"changes": {"edges": [{"node": e} for e in page]}}}))
                events += len(rows)
            seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    return PassResult(events, seconds, requests, json_bytes, in_order, sample)


# --- one engine ---------------------------------------------------------------------------------------


def check(expected: int, graphql: PassResult, sql: PassResult, name: str) -> list[str]:
    """What is wrong with a pair of passes; empty when both delivered every event once, in order, and the
    samples are equal."""
    problems = []
    for side, result in (("GraphQL", graphql), ("SQL", sql)):
        if result.events != expected or not result.in_order:
            problems.append(f"{name}: {side} delivered {result.events} events (in order: {result.in_order})")
    if not sql.sample or sql.sample.keys() != graphql.sample.keys():
        problems.append(f"{name}: the samples differ in events ({len(graphql.sample)}, {len(sql.sample)})")
    differing = [
        key for key in sql.sample.keys() & graphql.sample.keys() if sql.sample[key] != graphql.sample[key]
    ]
    if differing:
        key = differing[0]
        problems.append(
            f"{name}: {len(differing)} sampled events differ: {graphql.sample[key]} != {sql.sample[key]}"
        )
    return problems


def run_engine(engine: str, arguments: argparse.Namespace) -> EngineResult:
    """Seed a fresh database of `engine`, write the backlog, serve it, and measure the four passes."""
    today = dt.datetime.now(dt.UTC).date()
    with fresh_database(engine, arguments.postgres_admin_url) as url:
        seeded = seed(
            url,
            schools=arguments.students // arguments.students_per_school,
            students_per_school=arguments.students_per_school,
            today=today,
        )
        stage = asyncio.run(_partner_of_every_school(url))
        backlog_seconds = asyncio.run(_backlog(url, arguments.events))
        passes: dict[str, PassResult] = {}
        problems: list[str] = []
        with running_server(url) as server:
            for node in (False, True):
                suffix = " + node" if node else ""
                server_cpu = cpu_seconds(server.pid)
                graphql = graphql_pass(server.base_url, stage.token, stage.partner_id, node=node)
                passes[f"GraphQL{suffix}"] = dataclasses.replace(
                    graphql, cpu_seconds=cpu_seconds(server.pid) - server_cpu
                )
                own_cpu = cpu_seconds()
                sql = asyncio.run(_sql_pages(url, stage.partner_id, node=node))
                passes[f"SQL{suffix}"] = dataclasses.replace(sql, cpu_seconds=cpu_seconds() - own_cpu)
                problems += check(
                    arguments.events, passes[f"GraphQL{suffix}"], passes[f"SQL{suffix}"], f"events{suffix}"
                )
            server_peak_mb = status_mb(server.pid, "VmHWM")
    return EngineResult(
        engine=engine,
        events=arguments.events,
        students=seeded.summary.students,
        seed_seconds=seeded.seconds,
        backlog_seconds=backlog_seconds,
        passes=passes,
        server_peak_mb=server_peak_mb,
        problems=problems,
    )


def print_table(result: EngineResult) -> None:
    """The figures of one engine as a small table."""
    print(
        f"\n{result.engine}: {result.events:,} events over {result.students:,} students"
        f" (seeded in {result.seed_seconds:.1f} s, backlog written in {result.backlog_seconds:.1f} s)"
    )
    print(f"  {'':16} {'seconds':>8} {'events/s':>10} {'requests':>9} {'JSON MB':>8} {'CPU ms/1000':>12}")
    for label, side in result.passes.items():
        figures = f"{side.seconds:8.2f} {side.rate:10,.0f} {side.requests:9,} {side.json_bytes / 1e6:8.1f}"
        print(f"  {label:16} {figures} {side.cpu_per_1000:12.1f}")
    print(
        f"  ratio (SQL rate / GraphQL rate): {result.ratio(node=False):.1f}x events only,"
        f" {result.ratio(node=True):.1f}x with node"
    )
    print(
        "  CPU ratio (server CPU per GraphQL event / this process's per SQL row):"
        f" {result.cpu_ratio(node=False):.1f}x events only, {result.cpu_ratio(node=True):.1f}x with node"
    )
    print(f"  server peak (VmHWM) {result.server_peak_mb:.0f} MB")
    print(
        "  check: "
        + (
            "OK, every event once and in order, sample equal"
            if not result.problems
            else "; ".join(result.problems)
        )
    )


def main() -> int:
    """Parse the arguments, run the engines and print the figures; 1 when a check failed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--students-per-school", type=int, default=250)
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN_URL)
    parser.add_argument("--json", action="store_true", help="also print one JSON line per engine")
    arguments = parser.parse_args()
    if arguments.events < 1:
        parser.error("--events must be at least 1")
    if arguments.students_per_school < 1 or arguments.students % arguments.students_per_school:
        parser.error("--students must be a positive multiple of --students-per-school")
    engines = ["sqlite", "postgresql"] if arguments.engine == "both" else [arguments.engine]
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    failed = False
    for engine in engines:
        result = run_engine(engine, arguments)
        print_table(result)
        if arguments.json:
            print(json.dumps(result.as_json()))
        failed = failed or bool(result.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
