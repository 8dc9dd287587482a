"""Benchmark of a full read of all students: GraphQL over HTTP against the same work done directly in SQL.

    python bench/graph.py [--engine sqlite|postgresql|both] [--students 100000] [--students-per-school 250]
                          [--postgres-admin-url URL] [--repeat N] [--json]

Per engine: a fresh database (a temporary SQLite file, or a new PostgreSQL database next to the admin URL,
dropped afterwards), seeded with `seed_world`; an operator token from `server.py token operator`; the real
server (uvicorn, one process) as a child process. Then, in the same run and on the same database:

- GraphQL: page through every school with each school's `students(first: 1000)` { id firstName prefix
  lastName yearLevel mainGroup { name } } over HTTP (httpx, keep-alive), 1000 / students-per-school schools
  a request so that a request carries ~1,000 students; a school with more follows its inner cursor.
  Timed from the first request to the last response, JSON parsing included.
- direct SQL: keyset pages of 1,000 students (`WHERE id > :after ORDER BY id LIMIT 1000`) with their
  current main group, built into the same JSON objects in Python and serialised with `json.dumps`,
  through the same async driver as the server.

Prints records per second of both, their ratio (SQL rate / GraphQL rate), and peak memory of the server and
of this process. Checks that GraphQL delivered every student exactly once and that a sample of its records
equals the SQL side; exit code 1 when not. With `--repeat N` each side runs N times and the fastest counts
(useful on a shared machine); every run is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import and_, bindparam, insert, select, update

from auth.categories import DataCategory
from auth.viewer import ViewerKind
from bench.harness import (
    DEFAULT_POSTGRES_ADMIN_URL,
    cpu_seconds,
    fresh_database,
    operator_token,
    reset_peak,
    running_server,
    seed,
    status_mb,
)
from datasources.store.calendar import school_year_of
from datasources.store.database import create_engine
from datasources.store.tables import BOARDS, CONSENTS, GROUP_STUDENTS, GROUPS, PARTNERS, SCHOOLS, STUDENTS
from resolvers.signing import Keys
from schema.relay import to_global_id
from settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

#: The hub's page cap: both sides read pages of this many students.
PAGE = 1000
#: Both sides keep every student whose internal id is a multiple of this, to compare them field by field.
SAMPLE_EVERY = 97

_STUDENTS = (
    f"students(first: {PAGE}, after: $inner) {{ "
    "edges { node { id firstName prefix lastName yearLevel mainGroup { name } } } "
    "pageInfo { hasNextPage endCursor } }"
)
#: One request: a page of schools, each with its first page of students.
SCHOOLS_QUERY = (
    "query BenchStudents($first: Int!, $after: String, $inner: String) { "
    "schools(first: $first, after: $after) { edges { node { code " + _STUDENTS + " } } "
    "pageInfo { hasNextPage endCursor } } }"
)
#: The rest of a school with more than one page of students, by its inner cursor.
MORE_QUERY = (
    "query BenchMoreStudents($code: String!, $inner: String) { school(code: $code) { " + _STUDENTS + " } }"
)


@dataclasses.dataclass
class PassResult:
    """What one side produced in one run: records, wall time, work units, this process's peak memory."""

    records: int
    seconds: float
    #: HTTP requests (GraphQL) or statements (SQL).
    requests: int
    json_bytes: int
    peak_mb: float
    #: Distinct student ids seen.
    distinct: int
    #: Sampled records by global id, for the cross-check.
    sample: dict[str, dict[str, Any]]
    #: CPU seconds of the process that did the work: the server (GraphQL) or this process (SQL).
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_1000(self) -> float:
        """CPU milliseconds per 1,000 records."""
        return 1e6 * self.cpu_seconds / self.records if self.records else 0.0

    def as_json(self) -> dict[str, Any]:
        """The figures of this side."""
        return {
            "records": self.records,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.rate),
            "requests": self.requests,
            "json_bytes": self.json_bytes,
            "bench_peak_mb": round(self.peak_mb, 1),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "cpu_ms_per_1000": round(self.cpu_per_1000, 1),
        }


@dataclasses.dataclass
class EngineResult:
    """The figures of one engine: the fastest run of each side, and memory over all runs."""

    engine: str
    students: int
    seed_seconds: float
    graphql: PassResult
    sql: PassResult
    partner: PassResult
    #: The same two passes on a server with the compiled read path off (the general executor only).
    graphql_general: PassResult
    partner_general: PassResult
    server_warm_mb: float
    server_peak_mb: float
    seed_peak_mb: float
    runs: int
    problems: list[str]

    @property
    def ratio(self) -> float:
        """How many times faster direct SQL is than GraphQL over HTTP."""
        return self.sql.rate / self.graphql.rate if self.graphql.rate else float("inf")

    def as_json(self) -> dict[str, Any]:
        """The figures as one JSON-able object (the `--json` line)."""
        return {
            "engine": self.engine,
            "students": self.students,
            "runs": self.runs,
            "seed_seconds": round(self.seed_seconds, 1),
            "graphql": self.graphql.as_json(),
            "sql": self.sql.as_json(),
            "partner": self.partner.as_json(),
            "operator_general": self.graphql_general.as_json(),
            "partner_general": self.partner_general.as_json(),
            # Shares of the SQL limit (rate / SQL rate, same run): issue 14's goal 1 reads the partner's.
            "partner_share_of_sql": round(self.partner.rate / self.sql.rate, 3),
            "partner_general_share_of_sql": round(self.partner_general.rate / self.sql.rate, 3),
            "compiled_speedup_partner": round(self.partner.rate / self.partner_general.rate, 2),
            "policy_cost": round(self.graphql.rate / self.partner.rate, 2),
            "policy_cost_general": round(self.graphql_general.rate / self.partner_general.rate, 2),
            # The same in server CPU per record, which a loaded machine disturbs far less than wall time.
            "policy_cost_cpu": round(self.partner.cpu_per_1000 / self.graphql.cpu_per_1000, 2)
            if self.graphql.cpu_per_1000
            else None,
            "ratio": round(self.ratio, 2),
            "server_warm_mb": round(self.server_warm_mb, 1),
            "server_peak_mb": round(self.server_peak_mb, 1),
            "bench_seed_peak_mb": round(self.seed_peak_mb, 1),
            "load_average": round(os.getloadavg()[0], 2),
            "ok": not self.problems,
        }


def _internal_id(global_id: str) -> int:
    """The row id inside an operator's global id (base64url of "Student:<id>")."""
    decoded = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    return int(decoded.partition(":")[2])


class _Collector:
    """Counts the students one side produced and keeps the sample; the same for both sides."""

    def __init__(self) -> None:
        self.records = 0
        self.ids: set[str] = set()
        self.sample: dict[str, dict[str, Any]] = {}

    def add(self, student: dict[str, Any], internal_id: int) -> None:
        self.records += 1
        self.ids.add(student["id"])
        if internal_id % SAMPLE_EVERY == 0:
            self.sample[student["id"]] = student

    def result(self, seconds: float, requests: int, json_bytes: int) -> PassResult:
        return PassResult(
            self.records,
            seconds,
            requests,
            json_bytes,
            status_mb("self", "VmHWM"),
            len(self.ids),
            self.sample,
        )


# --- the GraphQL side ---------------------------------------------------------------------------------


class _GraphQL:
    """Posts GraphQL documents over one keep-alive connection and counts requests and bytes."""

    def __init__(self, base_url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=300
        )
        self.requests = 0
        self.json_bytes = 0

    def post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post("/graphql", json={"query": query, "variables": variables})
        self.requests += 1
        self.json_bytes += len(response.content)
        body: dict[str, Any] = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"GraphQL answered {response.status_code}: {str(body)[:500]}")
        data: dict[str, Any] = body["data"]
        return data


def warm_up(base_url: str, token: str) -> None:
    """One small request outside the timing: the server's parse and validation caches, its connection
    pool and signing keys are then warm, as in a hub that has been running a while."""
    graphql = _GraphQL(base_url, token)
    try:
        graphql.post(SCHOOLS_QUERY, {"first": 1})
    finally:
        graphql.client.close()


def graphql_pass(base_url: str, token: str, schools_per_request: int, *, operator: bool = True) -> PassResult:
    """Read every student over HTTP, school page by school page (as the operator, or as a partner whose
    ids are sealed per partner: its records are counted, not sampled against the SQL side)."""
    collector = _Collector()

    def take(students: dict[str, Any]) -> None:
        for edge in students["edges"]:
            collector.add(edge["node"], _internal_id(edge["node"]["id"]) if operator else 1)

    graphql = _GraphQL(base_url, token)
    try:
        reset_peak()
        started = time.perf_counter()
        after: str | None = None
        while True:
            schools = graphql.post(SCHOOLS_QUERY, {"first": schools_per_request, "after": after})["schools"]
            for edge in schools["edges"]:
                students = edge["node"]["students"]
                take(students)
                while students["pageInfo"]["hasNextPage"]:
                    variables = {"code": edge["node"]["code"], "inner": students["pageInfo"]["endCursor"]}
                    students = graphql.post(MORE_QUERY, variables)["school"]["students"]
                    take(students)
            if not schools["pageInfo"]["hasNextPage"]:
                break
            after = schools["pageInfo"]["endCursor"]
        seconds = time.perf_counter() - started
    finally:
        graphql.client.close()
    return collector.result(seconds, graphql.requests, graphql.json_bytes)


# --- the direct SQL side ------------------------------------------------------------------------------


def sql_page_statement(today: dt.date) -> Any:
    """One keyset page of students with the name of their main group, as the server defines that group:
    the student's non-composite group of the current school year, already in effect, the lowest id first.
    A correlated subquery keeps one row per student, so the keyset pages exactly."""
    main_group = (
        select(GROUPS.c.name)
        .join(GROUP_STUDENTS, GROUP_STUDENTS.c.group_id == GROUPS.c.id)
        .where(
            and_(
                GROUP_STUDENTS.c.student_id == STUDENTS.c.id,
                GROUPS.c.composite.is_(False),
                GROUPS.c.school_year == school_year_of(today),
                GROUPS.c.effective_from <= today,
            )
        )
        .order_by(GROUPS.c.id)
        .limit(1)
        .correlate(STUDENTS)
        .scalar_subquery()
    )
    s = STUDENTS.c
    return (
        select(s.id, s.first_name, s.prefix, s.last_name, s.year_level, main_group.label("main_group"))
        .where(s.id > bindparam("after"))
        .order_by(s.id)
        .limit(PAGE)
    )


async def _sql_pages(url: str, today: dt.date) -> PassResult:
    engine = create_engine(url)
    statement = sql_page_statement(today)
    collector = _Collector()
    requests = json_bytes = 0
    try:
        async with engine.connect() as connection:
            # Warm like the GraphQL side: the connection is open and the statement compiled and prepared.
            await connection.execute(statement, {"after": 0})
            reset_peak()
            started = time.perf_counter()
            after = 0
            while True:
                rows = (await connection.execute(statement, {"after": after})).all()
                requests += 1
                if not rows:
                    break
                page = [
                    {
                        "id": to_global_id("Student", str(row[0])),
                        "firstName": row[1],
                        "prefix": row[2],
                        "lastName": row[3],
                        "yearLevel": row[4],
                        "mainGroup": None if row[5] is None else {"name": row[5]},
                    }
                    for row in rows
                ]
                # Serialised like a response body, so that both sides end in JSON text.
                json_bytes += len(json.dumps(page))
                for row, student in zip(rows, page, strict=True):
                    collector.add(student, row[0])
                after = rows[-1][0]
            seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    return collector.result(seconds, requests, json_bytes)


def sql_pass(url: str, today: dt.date) -> PassResult:
    """Read every student directly with SQL, through the same async driver as the server."""
    return asyncio.run(_sql_pages(url, today))


# --- one engine ---------------------------------------------------------------------------------------


def check(expected: int, graphql: PassResult, sql: PassResult) -> list[str]:
    """What is wrong; empty when both sides delivered every student once and the samples are equal."""
    problems = []
    for name, side in (("GraphQL", graphql), ("SQL", sql)):
        if side.records != expected or side.distinct != expected:
            problems.append(
                f"{name} returned {side.records} records ({side.distinct} distinct), not {expected}"
            )
    if not sql.sample or graphql.sample.keys() != sql.sample.keys():
        problems.append(f"the samples differ in ids ({len(graphql.sample)} against {len(sql.sample)})")
    differing = [
        key for key in graphql.sample.keys() & sql.sample.keys() if graphql.sample[key] != sql.sample[key]
    ]
    if differing:
        key = differing[0]
        problems.append(
            f"{len(differing)} sampled records differ, e.g. {graphql.sample[key]} != {sql.sample[key]}"
        )
    return problems


async def _partner_of_every_school(url: str) -> str:
    """A partner that every school consented to with every category (every board's DPA signed), and a
    token for it: the full sync of issue "partner access", through the real policy."""
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
                        eck_chain=True,
                        client_id="bench-partner", created_at=now,
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
        token, _ = await Keys(engine, Settings(DATABASE_URL=url)).mint(
            ViewerKind.PARTNER, "bench-partner", ["partner"]
        )
    finally:
        await engine.dispose()
    return token


def run_engine(engine: str, arguments: argparse.Namespace) -> EngineResult:
    """Seed a fresh database of `engine`, serve it, and measure both sides on it."""
    today = dt.datetime.now(dt.UTC).date()  # the server takes "today" in UTC as well
    with fresh_database(engine, arguments.postgres_admin_url) as url:
        seeded = seed(
            url,
            schools=arguments.students // arguments.students_per_school,
            students_per_school=arguments.students_per_school,
            today=today,
        )
        expected = seeded.summary.students
        token = operator_token(url)
        partner_token = asyncio.run(_partner_of_every_school(url))
        partner_runs: list[PassResult] = []
        graphql_runs: list[PassResult] = []
        general_runs: list[PassResult] = []
        partner_general_runs: list[PassResult] = []
        sql_runs: list[PassResult] = []
        problems: list[str] = []
        general_env = {"LEERPOORT_COMPILED_READS": "false"}
        with running_server(url) as server, running_server(url, general_env) as general:
            warm_up(server.base_url, token)
            warm_up(general.base_url, token)
            server_warm_mb = status_mb(server.pid, "VmRSS")
            per_request = max(1, PAGE // arguments.students_per_school)
            for _ in range(arguments.repeat):
                # The general executor first, on its own server, in the same round as the compiled path.
                general_runs.append(
                    _timed(general.pid, lambda: graphql_pass(general.base_url, token, per_request))
                )
                partner_general_runs.append(
                    _timed(
                        general.pid,
                        lambda: graphql_pass(general.base_url, partner_token, per_request, operator=False),
                    )
                )
                graphql_runs.append(
                    _timed(server.pid, lambda: graphql_pass(server.base_url, token, per_request))
                )
                sql_runs.append(_timed("self", lambda: sql_pass(url, today)))
                problems += check(expected, graphql_runs[-1], sql_runs[-1])
                problems += check(expected, general_runs[-1], sql_runs[-1])
                if partner_general_runs[-1].distinct != expected:
                    problems.append(f"the general path's partner read {partner_general_runs[-1].distinct}")
                partner_runs.append(
                    _timed(
                        server.pid,
                        lambda: graphql_pass(server.base_url, partner_token, per_request, operator=False),
                    )
                )
                if partner_runs[-1].distinct != expected:
                    problems.append(f"the partner read {partner_runs[-1].distinct} students, not {expected}")
            server_peak_mb = status_mb(server.pid, "VmHWM")
    return EngineResult(
        engine=engine,
        students=expected,
        seed_seconds=seeded.seconds,
        graphql=max(graphql_runs, key=lambda run: run.rate),
        sql=max(sql_runs, key=lambda run: run.rate),
        partner=max(partner_runs, key=lambda run: run.rate),
        graphql_general=max(general_runs, key=lambda run: run.rate),
        partner_general=max(partner_general_runs, key=lambda run: run.rate),
        server_warm_mb=server_warm_mb,
        server_peak_mb=server_peak_mb,
        seed_peak_mb=seeded.peak_mb,
        runs=arguments.repeat,
        problems=sorted(set(problems)),
    )


def _timed(pid: int | str, run: Callable[[], PassResult]) -> PassResult:
    """A pass with the CPU seconds it cost the process `pid` (the server, or "self" for this process)."""
    before = cpu_seconds(pid)
    result = run()
    return dataclasses.replace(result, cpu_seconds=cpu_seconds(pid) - before)


def print_table(result: EngineResult) -> None:
    """The figures of one engine as a small table."""
    best = f", fastest of {result.runs} runs" if result.runs > 1 else ""
    print(f"\n{result.engine}: {result.students:,} students (seeded in {result.seed_seconds:.1f} s){best}")
    print(
        f"  {'':19} {'seconds':>8} {'records/s':>10} {'requests':>9} {'JSON MB':>8} {'bench peak MB':>14}"
        f" {'CPU ms/1000':>12}"
    )
    sides = (
        ("compiled, operator", result.graphql),
        ("compiled, partner", result.partner),
        ("general, operator", result.graphql_general),
        ("general, partner", result.partner_general),
        ("direct SQL", result.sql),
    )
    for label, side in sides:
        print(
            f"  {label:19} {side.seconds:8.2f} {side.rate:10,.0f} {side.requests:9,} "
            f"{side.json_bytes / 1e6:8.1f} {side.peak_mb:14.0f} {side.cpu_per_1000:12.1f}"
        )
    print(
        f"  ratio (SQL rate / GraphQL rate): {result.ratio:.1f}x operator,"
        f" {result.sql.rate / result.partner.rate:.1f}x partner"
    )
    print(
        f"  partner's share of the SQL limit: {result.partner.rate / result.sql.rate:.3f} compiled,"
        f" {result.partner_general.rate / result.sql.rate:.3f} general"
        f" ({result.partner.rate / result.partner_general.rate:.1f}x faster compiled)"
    )
    print(
        "  cost of the policy (operator rate / partner rate), general path:"
        f" {result.graphql_general.rate / result.partner_general.rate:.2f}x"
    )
    print(
        "  cost of the policy (operator rate / partner rate):"
        f" {result.graphql.rate / result.partner.rate:.2f}x; in server CPU per record:"
        f" {result.partner.cpu_per_1000 / result.graphql.cpu_per_1000:.2f}x"
    )
    print(
        f"  server: RSS {result.server_warm_mb:.0f} MB warm, peak (VmHWM) {result.server_peak_mb:.0f} MB; "
        f"bench process peak while seeding (ru_maxrss) {result.seed_peak_mb:.0f} MB"
    )
    print(
        "  check: "
        + ("OK, every student once, sample equal" if not result.problems else "; ".join(result.problems))
    )


def main() -> int:
    """Parse the arguments, run the engines and print the figures; 1 when a check failed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--students-per-school", type=int, default=250)
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN_URL)
    parser.add_argument("--repeat", type=int, default=1, help="runs per side; the fastest counts")
    parser.add_argument("--json", action="store_true", help="also print one JSON line per engine")
    arguments = parser.parse_args()
    if arguments.students_per_school < 1 or arguments.students < arguments.students_per_school:
        parser.error("--students must be at least --students-per-school, and that at least 1")
    if arguments.students % arguments.students_per_school:
        parser.error("--students must be a multiple of --students-per-school (schools are seeded whole)")
    if arguments.repeat < 1:
        parser.error("--repeat must be at least 1")
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
