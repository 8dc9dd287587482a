"""A partner's full sync through the hub against PostGraphile 4 serving the same rows (issue 14, goal 1:
ahead of a peer that compiles GraphQL to SQL, measured in the same run).

    python bench/postgraphile.py [--students 20000] [--students-per-school 250] [--repeat 3] [--json]

PostgreSQL only. A fresh seeded database and a partner that every school consented to with every category
(as `bench/graph.py`); the hub's real server (uvicorn, one process, the compiled read path). The partner's
full sync is read once from the hub, and exactly those rows (the sealed ids, names, year levels, main
groups' names, as the partner sees them) are copied into plain tables of a schema `peer` in the same
database: `peer.schools`, `peer.groups`, `peer.students`, with their foreign keys and indexes. PostGraphile
4 (from npm, installed on first use under `~/.cache/leerpoort-bench/postgraphile`, `LEERPOORT_BENCH_NPM_DIR`
to move it; version 5 crashes on connect here) serves that schema, one Node.js process. Then, `--repeat`
interleaved rounds: the hub as the partner (`bench/graph.py`'s query: 4 schools a request, each with
`students(first: 1000)`), PostGraphile with the same shape (`allSchools(first: 4)`, each with
`studentsBySchoolId(first: 1000)` and the main group through its foreign key), and `bench/graph.py`'s
direct SQL pass. Prints records per second (fastest run), the CPU each server process spent per 1,000
records, each side's share of the SQL rate, and hub / PostGraphile. Checks that PostGraphile returned
exactly the hub's records (every field); exit code 1 when not.

The peer does less than the hub: no policy, no scope, no minimisation per school, no audit, ids and
pseudonyms already computed. It is the bar a general GraphQL-to-SQL compiler sets for the same answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.graph import (
    PAGE,
    SCHOOLS_QUERY,
    PassResult,
    _partner_of_every_school,
    graphql_pass,
    sql_pass,
    warm_up,
)
from bench.harness import (
    DEFAULT_POSTGRES_ADMIN_URL,
    _free_port,
    cpu_seconds,
    fresh_database,
    running_server,
    seed,
    status_mb,
    stop,
)
from datasources.store.database import create_engine

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

POSTGRAPHILE_VERSION = "4.14.1"
NPM_DIR = Path(os.environ.get("LEERPOORT_BENCH_NPM_DIR", Path.home() / ".cache/leerpoort-bench/postgraphile"))
START_SECONDS = 60.0

#: The peer's query: the hub's `SCHOOLS_QUERY` in PostGraphile's names (the schools' inner pages hold all
#: of a school's students: schools are smaller than a page).
PEER_QUERY = (
    "query PeerStudents($first: Int!, $after: Cursor) { "
    "allSchools(first: $first, after: $after, orderBy: PRIMARY_KEY_ASC) { nodes { code "
    f"studentsBySchoolId(first: {PAGE}, orderBy: PRIMARY_KEY_ASC) {{ nodes {{ publicId firstName prefix "
    "lastName yearLevel groupByMainGroupId { name } } pageInfo { hasNextPage } } } "
    "pageInfo { hasNextPage endCursor } } }"
)

_PEER_SCHEMA = """
DROP SCHEMA IF EXISTS peer CASCADE;
CREATE SCHEMA peer;
CREATE TABLE peer.schools (id integer PRIMARY KEY, code text NOT NULL UNIQUE);
CREATE TABLE peer.groups (
    id integer PRIMARY KEY, school_id integer NOT NULL REFERENCES peer.schools, name text
);
CREATE TABLE peer.students (
    id integer PRIMARY KEY,
    school_id integer NOT NULL REFERENCES peer.schools,
    public_id text NOT NULL UNIQUE,
    first_name text, prefix text, last_name text, year_level text,
    main_group_id integer REFERENCES peer.groups
);
CREATE INDEX ON peer.groups (school_id);
CREATE INDEX ON peer.students (school_id);
CREATE INDEX ON peer.students (main_group_id);
"""


def hub_records(
    base_url: str, token: str, schools_per_request: int
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every school's students as the partner reads them from the hub, in the hub's order."""
    schools: list[tuple[str, list[dict[str, Any]]]] = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as client:
        after: str | None = None
        while True:
            body = client.post(
                "/graphql",
                json={"query": SCHOOLS_QUERY, "variables": {"first": schools_per_request, "after": after}},
            ).json()
            page = body["data"]["schools"]
            for edge in page["edges"]:
                students = edge["node"]["students"]
                if students["pageInfo"]["hasNextPage"]:
                    raise RuntimeError("a school has more students than one page: use fewer per school")
                schools.append((edge["node"]["code"], [student["node"] for student in students["edges"]]))
            if not page["pageInfo"]["hasNextPage"]:
                return schools
            after = page["pageInfo"]["endCursor"]


async def _copy(url: str, schools: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """The partner's rows into `peer`'s plain tables (ids in the hub's order, so both page alike)."""
    school_rows: list[dict[str, Any]] = []
    student_rows: list[dict[str, Any]] = []
    groups: dict[tuple[int, str], int] = {}
    for school_id, (code, students) in enumerate(schools, start=1):
        school_rows.append({"id": school_id, "code": code})
        for student in students:
            group = student["mainGroup"]
            group_id = None
            if group is not None:
                group_id = groups.setdefault((school_id, group["name"]), len(groups) + 1)
            student_rows.append(
                {
                    "id": len(student_rows) + 1,
                    "school_id": school_id,
                    "public_id": student["id"],
                    "first_name": student["firstName"],
                    "prefix": student["prefix"],
                    "last_name": student["lastName"],
                    "year_level": student["yearLevel"],
                    "main_group_id": group_id,
                }
            )
    group_rows = [{"id": gid, "school_id": sid, "name": name} for (sid, name), gid in groups.items()]
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in filter(None, (part.strip() for part in _PEER_SCHEMA.split(";"))):
                await connection.execute(text(statement))
            await connection.execute(text("INSERT INTO peer.schools VALUES (:id, :code)"), school_rows)
            await connection.execute(
                text("INSERT INTO peer.groups VALUES (:id, :school_id, :name)"), group_rows
            )
            await connection.execute(
                text(
                    "INSERT INTO peer.students VALUES (:id, :school_id, :public_id, :first_name, :prefix, "
                    ":last_name, :year_level, :main_group_id)"
                ),
                student_rows,
            )
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE peer.schools, peer.groups, peer.students"))
    finally:
        await engine.dispose()


def _postgraphile_binary() -> Path:
    binary = NPM_DIR / "node_modules" / ".bin" / "postgraphile"
    if not binary.exists():
        if shutil.which("npm") is None:
            raise RuntimeError("npm is needed to install PostGraphile 4 for this comparison")
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 - fixed arguments
            ["npm", "install", "--no-audit", "--no-fund", "--silent", f"postgraphile@{POSTGRAPHILE_VERSION}"],  # noqa: S607
            cwd=NPM_DIR,
            check=True,
        )
    return binary


@dataclasses.dataclass(frozen=True)
class Peer:
    """The running PostGraphile process."""

    pid: int
    base_url: str


@contextlib.contextmanager
def running_postgraphile(url: str) -> Iterator[Peer]:
    """PostGraphile 4 over schema `peer` of the database at `url`, on a free loopback port."""
    port = _free_port()
    connection = url.replace("postgresql+asyncpg://", "postgresql://")
    command = [
        str(_postgraphile_binary()), "--connection", connection, "--schema", "peer", "--host", "127.0.0.1",
        "--port", str(port), "--disable-query-log", "--disable-default-mutations",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_SECONDS
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"PostGraphile exited: {log.read()[-2000:].decode(errors='replace')}")
                with contextlib.suppress(httpx.HTTPError):
                    answer = httpx.post(f"{base_url}/graphql", json={"query": "{ __typename }"}, timeout=2)
                    if answer.status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("PostGraphile did not answer within a minute")
                time.sleep(0.2)
            yield Peer(process.pid, base_url)
        finally:
            stop(process)


def peer_pass(
    base_url: str, schools_per_request: int
) -> tuple[PassResult, list[tuple[str, list[dict[str, Any]]]]]:
    """Every student from PostGraphile, in the hub's JSON shape (for the check), and the pass's figures."""
    schools: list[tuple[str, list[dict[str, Any]]]] = []
    requests = json_bytes = records = 0
    with httpx.Client(base_url=base_url, timeout=300) as client:
        started = time.perf_counter()
        after: str | None = None
        while True:
            response = client.post(
                "/graphql",
                json={"query": PEER_QUERY, "variables": {"first": schools_per_request, "after": after}},
            )
            requests += 1
            json_bytes += len(response.content)
            body = response.json()
            if response.status_code != 200 or body.get("errors"):
                raise RuntimeError(f"PostGraphile answered {response.status_code}: {str(body)[:500]}")
            page = body["data"]["allSchools"]
            for school in page["nodes"]:
                students = school["studentsBySchoolId"]
                records += len(students["nodes"])
                schools.append((school["code"], students["nodes"]))
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        seconds = time.perf_counter() - started
    result = PassResult(records, seconds, requests, json_bytes, status_mb("self", "VmHWM"), records, {})
    return result, schools


def _as_hub(schools: list[tuple[str, list[dict[str, Any]]]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """PostGraphile's students in the hub's field names."""
    return [
        (
            code,
            [
                {
                    "id": student["publicId"],
                    "firstName": student["firstName"],
                    "prefix": student["prefix"],
                    "lastName": student["lastName"],
                    "yearLevel": student["yearLevel"],
                    "mainGroup": student["groupByMainGroupId"],
                }
                for student in students
            ],
        )
        for code, students in schools
    ]


def _timed(pid: int | str, run: Callable[[], PassResult]) -> PassResult:
    before = cpu_seconds(pid)
    result = run()
    return dataclasses.replace(result, cpu_seconds=cpu_seconds(pid) - before)


def measure(arguments: argparse.Namespace) -> dict[str, Any]:
    """Seed, copy, serve both, and run the interleaved rounds; the figures as a dict."""
    today = dt.datetime.now(dt.UTC).date()
    with fresh_database("postgresql", arguments.postgres_admin_url) as url:
        seed(
            url,
            schools=arguments.students // arguments.students_per_school,
            students_per_school=arguments.students_per_school,
            today=today,
        )
        partner_token = asyncio.run(_partner_of_every_school(url))
        per_request = max(1, PAGE // arguments.students_per_school)
        hub_runs: list[PassResult] = []
        peer_runs: list[PassResult] = []
        sql_runs: list[PassResult] = []
        problems: list[str] = []
        with running_server(url) as hub:
            warm_up(hub.base_url, partner_token)
            expected = hub_records(hub.base_url, partner_token, per_request)
            asyncio.run(_copy(url, expected))
            with running_postgraphile(url) as peer:
                peer_pass(peer.base_url, per_request)  # warm: its introspection and plan caches
                for _ in range(arguments.repeat):
                    hub_runs.append(
                        _timed(
                            hub.pid,
                            lambda: graphql_pass(hub.base_url, partner_token, per_request, operator=False),
                        )
                    )
                    answered: list[Any] = []

                    def peer_run(into: list[Any] = answered) -> PassResult:
                        result, schools = peer_pass(peer.base_url, per_request)
                        into.append(schools)
                        return result

                    peer_runs.append(_timed(peer.pid, peer_run))
                    sql_runs.append(_timed("self", lambda: sql_pass(url, today)))
                    if _as_hub(answered[0]) != expected:
                        problems.append("PostGraphile's records differ from the hub's")
    total = sum(len(students) for _, students in expected)
    for runs, name in ((hub_runs, "hub"), (peer_runs, "postgraphile")):
        if any(run.records != total for run in runs):
            problems.append(f"{name} read a different number of records than {total}")
    fastest = [max(runs, key=lambda run: run.rate) for runs in (hub_runs, peer_runs, sql_runs)]
    hub_best, peer_best, sql = fastest
    return {
        "students": total,
        "runs": arguments.repeat,
        "postgraphile_version": POSTGRAPHILE_VERSION,
        "hub_partner": hub_best.as_json(),
        "postgraphile": peer_best.as_json(),
        "sql": sql.as_json(),
        "hub_share_of_sql": round(hub_best.rate / sql.rate, 3),
        "postgraphile_share_of_sql": round(peer_best.rate / sql.rate, 3),
        "hub_over_postgraphile": round(hub_best.rate / peer_best.rate, 2),
        "problems": problems,
    }


def main() -> int:
    """Parse the arguments, measure and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--students-per-school", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN_URL)
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    arguments = parser.parse_args()
    figures = measure(arguments)
    print(f"PostgreSQL, {figures['students']:,} students, fastest of {figures['runs']} interleaved runs")
    for name, label in (
        ("hub_partner", "hub, partner (compiled path)"),
        ("postgraphile", "PostGraphile 4"),
        ("sql", "direct SQL"),
    ):
        rate, cpu = figures[name]["records_per_second"], figures[name]["cpu_ms_per_1000"]
        print(f"  {label:<30} {rate:>9,} records/s  {cpu:>6.1f} ms CPU / 1000")
    hub_share, peer_share = figures["hub_share_of_sql"], figures["postgraphile_share_of_sql"]
    print(f"  share of SQL: hub {hub_share}, PostGraphile {peer_share}")
    print(f"  hub / PostGraphile: {figures['hub_over_postgraphile']}x")
    for problem in figures["problems"]:
        print(f"  PROBLEM: {problem}")
    if arguments.json:
        print(json.dumps(figures))
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
