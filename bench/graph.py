"""Benchmark of a full read of all students: GraphQL over HTTP against the same work done directly in SQL.

    python bench/graph.py [--engine sqlite|postgresql|both] [--students 100000] [--students-per-school 250]
                          [--postgres-admin-url URL] [--json]

Per engine: migrate a fresh database (a temporary SQLite file, or a new PostgreSQL database created next
to the admin URL and dropped afterwards), seed it with `seed_world`, mint an operator token with the
command line, and start the real server (uvicorn) as a child process. Then, in the same run and on the
same database:

- GraphQL: page through every school (`schools(first: 1000 // students-per-school)`) with each school's
  `students(first: 1000)` { id firstName prefix lastName yearLevel mainGroup { name } } over HTTP with
  httpx, following a school's inner cursor when it has more than 1,000 students; responses are parsed.
- SQL: keyset pages of 1,000 students (`WHERE id > :after ORDER BY id LIMIT 1000`) with their current
  main group, built into the same JSON objects in Python and serialised with `json.dumps`.

It prints records per second of both, their ratio (SQL rate / GraphQL rate), and peak memory of the
server process and of this process, and checks that GraphQL delivered every student exactly once and
that a sample of its records equals the SQL side. Exit code 1 when that check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import and_, bindparam, select, text

from datasources.calendar import school_year_of
from datasources.database import create_engine, migrate
from datasources.registry import read_registry
from datasources.seed import seed_world
from datasources.tables import GROUP_STUDENTS, GROUPS, STUDENTS
from schema.relay import to_global_id

REGISTRY = ROOT / "reference" / "duo" / "vestigingen-bo-2013-drenthe-flevoland-groningen.csv"
#: The hub's page cap: both sides read pages of this many students.
PAGE = 1000
#: Every SAMPLE_EVERY-th student (by internal id) is kept by both sides and compared field by field.
SAMPLE_EVERY = 97
SERVER_START_SECONDS = 120.0

_STUDENT_FIELDS = "id firstName prefix lastName yearLevel mainGroup { name }"
_STUDENTS = f"students(first: {PAGE}, after: $inner) {{ edges {{ node {{ {_STUDENT_FIELDS} }} }} "
_STUDENTS += "pageInfo { hasNextPage endCursor } }"
#: One request: a page of schools, each with its first page of students (~1,000 students a request).
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
    """What one side produced: records, wall time, work units, and this process's peak memory meanwhile."""

    records: int
    seconds: float
    requests: int
    json_bytes: int
    peak_mb: float
    #: Sampled records by global id, for the cross-check.
    sample: dict[str, dict[str, Any]]
    #: Distinct student ids seen.
    distinct: int

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.records / self.seconds if self.seconds else 0.0


@dataclasses.dataclass
class EngineResult:
    """The figures of one engine."""

    engine: str
    students: int
    seed_seconds: float
    graphql: PassResult
    sql: PassResult
    server_start_mb: float
    server_peak_mb: float
    bench_peak_mb: float
    problems: list[str]

    @property
    def ratio(self) -> float:
        """How many times faster direct SQL is than GraphQL over HTTP."""
        return self.sql.rate / self.graphql.rate if self.graphql.rate else float("inf")

    def as_json(self) -> dict[str, Any]:
        """The figures as one JSON-able object (the `--json` line)."""

        def side(result: PassResult) -> dict[str, Any]:
            return {
                "records": result.records,
                "seconds": round(result.seconds, 3),
                "records_per_second": round(result.rate),
                "requests": result.requests,
                "json_bytes": result.json_bytes,
                "bench_peak_mb": round(result.peak_mb, 1),
            }

        return {
            "engine": self.engine,
            "students": self.students,
            "seed_seconds": round(self.seed_seconds, 1),
            "graphql": side(self.graphql),
            "sql": side(self.sql),
            "ratio": round(self.ratio, 2),
            "server_start_mb": round(self.server_start_mb, 1),
            "server_peak_mb": round(self.server_peak_mb, 1),
            "bench_peak_mb": round(self.bench_peak_mb, 1),
            "ok": not self.problems,
        }


# --- memory -------------------------------------------------------------------------------------------


def _status_mb(pid: int | str, field: str) -> float:
    """A memory figure (VmHWM, VmRSS) of a process from /proc, in MB (Linux reports kB)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


def _reset_peak() -> None:
    # Writing 5 to clear_refs resets this process's VmHWM (Linux >= 4.0), so each pass reports its own
    # peak instead of the seed's; where that is not allowed the figure is the run's peak so far.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


# --- databases ----------------------------------------------------------------------------------------


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


@contextlib.contextmanager
def _fresh_database(engine: str, admin_url: str) -> Iterator[str]:
    """The URL of an empty database of `engine`, removed again afterwards."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite+aiosqlite:///{folder}/bench.db"
        return
    admin = _asyncpg_url(admin_url)
    name = f"leerpoort_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield _asyncpg_url(admin, name)
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _seed(url: str, schools: int, students_per_school: int, today: dt.date) -> int:
    engine = create_engine(url)
    try:
        summary = await seed_world(
            engine,
            registry=read_registry(REGISTRY),
            schools=schools,
            students_per_school=students_per_school,
            seed=1,
            today=today,
        )
        # Planner statistics, as autovacuum (PostgreSQL) or a routine ANALYZE (SQLite) keep them in a
        # running hub: without them PostgreSQL plans the fresh tables as empty and both sides crawl.
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return summary.students


# --- the server ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "LEERPOORT_MODE": "sandbox"}


def _operator_token(url: str) -> str:
    # The documented command line, so the token is minted exactly as an operator's script would.
    done = subprocess.run(
        [sys.executable, "server.py", "token", "operator"],
        cwd=ROOT, env=_server_env(url), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@contextlib.contextmanager
def _server(url: str, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The real server as a child process on a free loopback port; stopped on exit."""
    port = _free_port()
    command = [
        sys.executable, "-m", "uvicorn", "server:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            command, cwd=ROOT, env=_server_env(url), stdout=output, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, base, log)
        yield process, base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not become healthy within {SERVER_START_SECONDS:.0f} s")


# --- the GraphQL side ---------------------------------------------------------------------------------


def _internal_id(global_id: str) -> int:
    """The row id inside an operator's global id ("Student:<id>", base64url)."""
    import base64  # noqa: PLC0415 - only the cross-check needs it

    return int(base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":")[1])


class _GraphQLClient:
    """Posts the two bench documents and keeps the counters of the pass."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
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


def graphql_pass(base: str, token: str, schools_per_page: int) -> PassResult:
    """Read every student over HTTP as the operator; counts, times and samples what came back."""
    ids: set[str] = set()
    sample: dict[str, dict[str, Any]] = {}
    records = 0

    def take(students: dict[str, Any]) -> None:
        nonlocal records
        for edge in students["edges"]:
            node = edge["node"]
            records += 1
            ids.add(node["id"])
            if _internal_id(node["id"]) % SAMPLE_EVERY == 0:
                sample[node["id"]] = node

    headers = {"Authorization": f"Bearer {token}"}
    _reset_peak()
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        graphql = _GraphQLClient(client)
        after: str | None = None
        started = time.perf_counter()
        while True:
            data = graphql.post(SCHOOLS_QUERY, {"first": schools_per_page, "after": after})
            for edge in data["schools"]["edges"]:
                school = edge["node"]
                students = school["students"]
                take(students)
                while students["pageInfo"]["hasNextPage"]:
                    variables = {"code": school["code"], "inner": students["pageInfo"]["endCursor"]}
                    students = graphql.post(MORE_QUERY, variables)["school"]["students"]
                    take(students)
            page_info = data["schools"]["pageInfo"]
            if not page_info["hasNextPage"]:
                break
            after = page_info["endCursor"]
        seconds = time.perf_counter() - started
    return PassResult(
        records, seconds, graphql.requests, graphql.json_bytes, _status_mb("self", "VmHWM"), sample, len(ids)
    )


# --- the direct SQL side ------------------------------------------------------------------------------


def _sql_page_statement(today: dt.date) -> Any:
    # The main group as the server defines it: the student's non-composite group of the current school
    # year that is already in effect, the lowest id first. A correlated subquery keeps one row per
    # student, so the keyset on students.id pages exactly like the GraphQL side.
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
    statement = _sql_page_statement(today)
    ids: set[str] = set()
    sample: dict[str, dict[str, Any]] = {}
    records = requests = json_bytes = 0
    try:
        async with engine.connect() as connection:
            _reset_peak()
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
                # Serialised like a response body, so both sides end in JSON text.
                json_bytes += len(json.dumps(page))
                records += len(page)
                for row, student in zip(rows, page, strict=True):
                    ids.add(student["id"])
                    if row[0] % SAMPLE_EVERY == 0:
                        sample[student["id"]] = student
                after = rows[-1][0]
            seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    return PassResult(records, seconds, requests, json_bytes, _status_mb("self", "VmHWM"), sample, len(ids))


def sql_pass(url: str, today: dt.date) -> PassResult:
    """Read every student directly with SQL through the same async driver the server uses."""
    return asyncio.run(_sql_pages(url, today))


# --- one engine ---------------------------------------------------------------------------------------


def _check(expected: int, graphql: PassResult, sql: PassResult) -> list[str]:
    """What is wrong with the passes; empty when GraphQL delivered every student once, as SQL sees them."""
    problems = []
    for name, result in (("GraphQL", graphql), ("SQL", sql)):
        if result.records != expected or result.distinct != expected:
            problems.append(
                f"{name} returned {result.records} records, {result.distinct} distinct; want {expected}"
            )
    if graphql.sample.keys() != sql.sample.keys():
        problems.append(f"the samples differ in ids ({len(graphql.sample)} vs {len(sql.sample)})")
    differing = [
        key for key in graphql.sample.keys() & sql.sample.keys() if graphql.sample[key] != sql.sample[key]
    ]
    if differing:
        key = differing[0]
        problems.append(
            f"{len(differing)} sampled records differ, e.g. {graphql.sample[key]} != {sql.sample[key]}"
        )
    if not sql.sample:
        problems.append("the sample is empty")
    return problems


def run_engine(engine: str, arguments: argparse.Namespace) -> EngineResult:
    """Seed a fresh database of `engine`, serve it, and measure both sides on it."""
    schools = arguments.students // arguments.students_per_school
    today = dt.datetime.now(dt.UTC).date()  # the server takes "today" in UTC too
    with _fresh_database(engine, arguments.postgres_admin_url) as url:
        migrate(url)
        started = time.perf_counter()
        seeded = asyncio.run(_seed(url, schools, arguments.students_per_school, today))
        seed_seconds = time.perf_counter() - started
        token = _operator_token(url)
        with (
            tempfile.TemporaryDirectory() as folder,
            _server(url, Path(folder) / "server.log") as (process, base),
        ):
            # One small request of each kind first: the server's parse cache, connection pool and keys,
            # and both sides' first statements are then warm, as in a long-running hub.
            graphql_pass_warmup(base, token)
            server_start_mb = _status_mb(process.pid, "VmRSS")
            graphql = graphql_pass(base, token, max(1, PAGE // arguments.students_per_school))
            server_peak_mb = _status_mb(process.pid, "VmHWM")
            sql = sql_pass(url, today)
    return EngineResult(
        engine=engine,
        students=seeded,
        seed_seconds=seed_seconds,
        graphql=graphql,
        sql=sql,
        server_start_mb=server_start_mb,
        server_peak_mb=server_peak_mb,
        bench_peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # kB on Linux
        problems=_check(seeded, graphql, sql),
    )


def graphql_pass_warmup(base: str, token: str) -> None:
    """One request of a single school, so that the measured pass starts on a warm server."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        _GraphQLClient(client).post(SCHOOLS_QUERY, {"first": 1, "after": None})


def _print_table(result: EngineResult) -> None:
    print(f"\n{result.engine}: {result.students:,} students (seeded in {result.seed_seconds:.1f} s)")
    print(f"  {'':22} {'seconds':>9} {'records/s':>11} {'requests':>9} {'JSON MB':>8} {'bench peak MB':>14}")
    for label, side in (("GraphQL over HTTP", result.graphql), ("direct SQL", result.sql)):
        print(
            f"  {label:22} {side.seconds:9.2f} {side.rate:11,.0f} {side.requests:9,} "
            f"{side.json_bytes / 1e6:8.1f} {side.peak_mb:14.0f}"
        )
    print(f"  ratio (SQL rate / GraphQL rate): {result.ratio:.1f}x")
    print(
        f"  server RSS after warm-up {result.server_start_mb:.0f} MB, server peak (VmHWM) "
        f"{result.server_peak_mb:.0f} MB; bench process peak (ru_maxrss, seed included) "
        f"{result.bench_peak_mb:.0f} MB"
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
    parser.add_argument("--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true", help="also print one JSON line per engine")
    arguments = parser.parse_args()
    if arguments.students_per_school < 1 or arguments.students < arguments.students_per_school:
        parser.error("--students must be at least --students-per-school, and that at least 1")
    if arguments.students % arguments.students_per_school:
        parser.error("--students must be a multiple of --students-per-school (schools are seeded whole)")
    engines = ["sqlite", "postgresql"] if arguments.engine == "both" else [arguments.engine]
    failed = False
    for engine in engines:
        result = run_engine(engine, arguments)
        _print_table(result)
        if arguments.json:
            print(json.dumps(result.as_json()))
        failed = failed or bool(result.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
