"""Small partner queries under concurrency against a hello-world GraphQL server in the same run (issue 14,
goal 3: at least half the hello-world's throughput, a p99 at most 4 times its p99, one worker each).

    python bench/small_queries.py [--engine postgresql|sqlite] [--clients 32] [--seconds 30] [--json]

A fresh seeded database (80 schools of 250 students) and a partner that every school consented to with
every category (as `bench/graph.py`); the hub's real server (uvicorn, one process) and the hello-world
(`bench/hello_world.py`, uvicorn, one process). Each is driven by `--clients` concurrent clients (one
keep-alive connection each) for `--seconds` after a two-second warm-up: the hub with a partner's
`school(code:) { students(first: 20) { … } }` of a random school, the hello-world with `{ hello }`. Prints
requests per second, p50 and p99 latency of both, and their ratios. Every answer is checked (status 200,
no errors, 20 students).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import select

from bench.graph import _partner_of_every_school
from bench.harness import DEFAULT_POSTGRES_ADMIN_URL, ROOT, fresh_database, running_server, seed
from datasources.store.database import create_engine
from datasources.store.tables import SCHOOLS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

SMALL_QUERY = """query Small($code: String!) { school(code: $code) { students(first: 20) { edges { node {
    id pseudonym firstName prefix lastName yearLevel mainGroup { name } } } } } }"""
HELLO = "{ hello }"
WARM_UP_SECONDS = 2.0


@dataclass(frozen=True)
class Load:
    """What one side answered under load."""

    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float


async def _drive(
    url: str,
    body: Callable[[], dict[str, Any]],
    check: Callable[[dict[str, Any]], None],
    *,
    headers: dict[str, str],
    clients: int,
    seconds: float,
) -> Load:
    """`clients` concurrent clients posting `body()` to `url` for `seconds` (after the warm-up)."""
    latencies: list[float] = []
    measuring = False

    async def client() -> None:
        async with httpx.AsyncClient(trust_env=False, timeout=60.0, headers=headers) as http:
            while True:
                started = time.perf_counter()
                answer = await http.post(url, json=body())
                elapsed = time.perf_counter() - started
                if answer.status_code != 200:
                    raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:200]}")
                check(answer.json())
                if measuring:
                    latencies.append(elapsed)

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    try:
        await asyncio.sleep(WARM_UP_SECONDS)
        measuring = True
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        measuring = False
        took = time.perf_counter() - started
        for task in tasks:
            if task.done():
                task.result()  # a client that failed: its error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    ordered = sorted(latencies)
    return Load(
        requests=len(ordered),
        requests_per_second=round(len(ordered) / took, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 1),
        p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
    )


def _small_answer(body: dict[str, Any]) -> None:
    if body.get("errors") or len(body["data"]["school"]["students"]["edges"]) != 20:
        raise RuntimeError(f"unexpected answer: {json.dumps(body)[:300]}")


def _hello_answer(body: dict[str, Any]) -> None:
    if body != {"data": {"hello": "Hallo"}}:
        raise RuntimeError(f"unexpected answer: {json.dumps(body)[:300]}")


@contextlib.contextmanager
def _hello_world() -> Iterator[str]:
    """`uvicorn bench.hello_world:app` on a free loopback port; its /graphql URL."""
    with contextlib.closing(__import__("socket").socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", "bench.hello_world:app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}/graphql"
        finally:
            process.terminate()
            process.wait(timeout=15)


async def _school_codes(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return list(await connection.scalars(select(SCHOOLS.c.code).where(SCHOOLS.c.active.is_(True))))
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the hub and the hello-world on the asked engine."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN_URL)
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    arguments = parser.parse_args(argv)
    today = dt.datetime.now(dt.UTC).date()
    with fresh_database(arguments.engine, arguments.postgres_admin_url) as url:
        seed(url, schools=80, students_per_school=250, today=today)
        token = asyncio.run(_partner_of_every_school(url))
        codes = asyncio.run(_school_codes(url))
        drive = {"clients": arguments.clients, "seconds": arguments.seconds}
        with running_server(url) as server:
            hub = asyncio.run(
                _drive(
                    f"{server.base_url}/graphql",
                    lambda: {"query": SMALL_QUERY, "variables": {"code": random.choice(codes)}},
                    _small_answer,
                    headers={"Authorization": f"Bearer {token}"},
                    **drive,
                )
            )
        with _hello_world() as hello_url:
            hello = asyncio.run(
                _drive(hello_url, lambda: {"query": HELLO}, _hello_answer, headers={}, **drive)
            )
    share = hub.requests_per_second / hello.requests_per_second
    p99_ratio = hub.p99_ms / hello.p99_ms
    print(f"{arguments.engine}: {arguments.clients} clients, {arguments.seconds:.0f} s each, one worker each")
    print("                        requests/s   p50 ms   p99 ms")
    for name, load in (("hub, partner, 20 students", hub), ("hello-world", hello)):
        print(f"  {name:26} {load.requests_per_second:9,.1f} {load.p50_ms:8.1f} {load.p99_ms:8.1f}")
    print(f"  hub's share of the hello-world's throughput: {share:.2f} (goal >= 0.5)")
    print(f"  hub's p99 / hello-world's p99: {p99_ratio:.1f}x (goal <= 4x)")
    if arguments.json:
        figures = {"engine": arguments.engine, "hub": asdict(hub), "hello": asdict(hello)}
        print(json.dumps({**figures, "share": round(share, 3), "p99_ratio": round(p99_ratio, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
