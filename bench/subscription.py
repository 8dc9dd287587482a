"""Benchmark of the change subscription: how long a committed change takes to reach a subscriber.

    python bench/subscription.py [--engine sqlite|postgresql|both] [--changes 50] [--burst 1000]
                                 [--postgres-admin-url URL] [--json]

Per engine: a fresh database seeded with a small world (`seed_world`, 3 schools of 50 students), a new
partner with consent at one school (students and their names), and the real server (uvicorn, one process)
as a child process. This process subscribes as that partner over `graphql-transport-ws`, starting after
the newest event, with `changes(after:) { cursor kind entityType schoolCode node { … on Student {
firstName } } }`, and then, one at a time:

- records a change (`datasources.feed.recording.record`, a student renamed) in its own transaction, as an
  import in another process does, and notes the time right after the commit;
- waits for the event on the subscription and notes the time it arrived (the event's cursor must be the
  one the change was numbered with: no gaps, no duplicates);
- sleeps a random 0-250 ms, so that commits fall at every point of the server's 200 ms poll interval.

It prints the median, 95th percentile and maximum delay in ms over `--changes` changes. Then a burst: one
transaction of `--burst` changes (an import of a whole school), timed from its commit to the arrival of
its last event, as events per second. Exit code 1 when an event was missing, duplicated or out of order.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from auth.categories import DataCategory
from auth.identifiers import PartnerIdentifiers
from auth.policy import operator_scope
from auth.tokens import PARTNER_TOKEN_LIFETIME, mint_token
from auth.viewer import Viewer, ViewerKind
from bench.harness import DEFAULT_POSTGRES_ADMIN_URL, fresh_database, running_server, seed
from datasources.access import consent_lifecycle
from datasources.access.signing_keys import load_keyset
from datasources.feed import events, recording
from datasources.store.database import create_engine
from datasources.store.pagination import FEED
from datasources.store.tables import BOARDS, CHANGE_COUNTER, SCHOOLS, STUDENTS
from resolvers.accounts import register_partner
from settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

SUBSCRIPTION = """subscription Bench($after: String) { changes(after: $after) {
    cursor kind entityType schoolCode node { ... on Student { firstName } } } }"""
#: A missing event fails the run after this long rather than hanging it.
PATIENCE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Result:
    """The figures of one engine."""

    engine: str
    changes: int
    median_ms: float
    p95_ms: float
    max_ms: float
    burst: int
    burst_seconds: float
    problems: tuple[str, ...]

    @property
    def burst_rate(self) -> float:
        """Events of the burst delivered per second."""
        return self.burst / self.burst_seconds if self.burst_seconds else 0.0


@dataclass(frozen=True, slots=True)
class _Stage:
    school_id: int
    students: list[int]
    token: str
    partner_id: int

    def cursor(self, seq: int) -> str:
        """The partner's feed cursor of an event number, as the server seals it for this partner."""
        key = Settings().pseudonym_key.get_secret_value().encode()
        return PartnerIdentifiers(self.partner_id, key).cursor(FEED, seq)


async def _stage(url: str) -> _Stage:
    """A partner with consent at a school whose board signed the DPA, and its token."""
    settings = Settings(DATABASE_URL=url)
    engine = create_engine(url)
    try:
        credentials = await register_partner(
            engine,
            name="Uitgeverij Bench",
            kind="PUBLISHER",
            categories=[DataCategory.STUDENT_BASIC, DataCategory.STUDENT_NAME],
            eck_chain=False,
            now=settings.now(),
        )
        async with engine.connect() as connection:
            school_id = await connection.scalar(
                select(SCHOOLS.c.id)
                .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
                .where(BOARDS.c.dpa_signed_at.is_not(None))
                .order_by(SCHOOLS.c.id)
                .limit(1)
            )
            assert school_id is not None, "the seeded world has no school whose board signed the DPA"
            students = list(
                await connection.scalars(
                    select(STUDENTS.c.id).where(STUDENTS.c.school_id == school_id).order_by(STUDENTS.c.id)
                )
            )
        await consent_lifecycle.grant(
            engine,
            operator_scope(Viewer(ViewerKind.OPERATOR, "bench")),
            school_id=school_id,
            partner_id=credentials.partner_id,
            categories=[DataCategory.SCHOOL_BASIC, DataCategory.STUDENT_BASIC, DataCategory.STUDENT_NAME],
            now=settings.now(),
        )
        token = mint_token(
            await load_keyset(engine, now=settings.now()),
            issuer=settings.issuer,
            subject=f"partner:{credentials.client_id}",
            scopes=["partner"],
            lifetime=PARTNER_TOKEN_LIFETIME,
            now=dt.datetime.now(dt.UTC),
        )
    finally:
        await engine.dispose()
    return _Stage(school_id, students, token, credentials.partner_id)


async def _record_renames(engine: AsyncEngine, school_id: int, student_ids: list[int]) -> tuple[int, float]:
    """Record one rename per student in one transaction; the last number it took and the commit time."""
    async with engine.begin() as connection:
        await recording.record(
            connection,
            [
                events.ChangeEntry(school_id, "Student", student, events.UPDATED, ("STUDENT_NAME",))
                for student in student_ids
            ],
            dt.datetime.now(dt.UTC),
        )
        last = await connection.scalar(select(CHANGE_COUNTER.c.last_seq).where(CHANGE_COUNTER.c.id == 1))
    assert last is not None, "recording a change numbers it under the counter row"
    return int(last), time.perf_counter()


async def _next_event(ws: ClientConnection) -> tuple[dict[str, Any], float]:
    async with asyncio.timeout(PATIENCE_SECONDS):
        message = json.loads(await ws.recv())
    arrived = time.perf_counter()
    if message.get("type") != "next" or "errors" in message["payload"]:
        raise RuntimeError(f"unexpected message: {str(message)[:300]}")
    event: dict[str, Any] = message["payload"]["data"]["changes"]
    return event, arrived


async def _measure(url: str, ws_url: str, stage: _Stage, count: int, burst: int) -> Result:
    engine = create_engine(url)
    problems: list[str] = []
    delays: list[float] = []
    rng = random.Random(1)
    try:
        async with engine.connect() as connection:
            start = int(
                await connection.scalar(select(CHANGE_COUNTER.c.last_seq).where(CHANGE_COUNTER.c.id == 1))
                or 0
            )
        protocols = [Subprotocol("graphql-transport-ws")]
        async with connect(ws_url, subprotocols=protocols, proxy=None, max_size=None) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {stage.token}"}}
            await ws.send(json.dumps(init))
            if json.loads(await ws.recv()) != {"type": "connection_ack"}:
                raise RuntimeError("the server did not acknowledge the connection")
            payload = {"query": SUBSCRIPTION, "variables": {"after": stage.cursor(start)}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            # A first change, unmeasured: the server starts its counter poll with the first subscription.
            await _record_renames(engine, stage.school_id, stage.students[:1])
            await _next_event(ws)
            for index in range(count):
                await asyncio.sleep(rng.uniform(0.0, 0.25))
                student = stage.students[index % len(stage.students)]
                seq, committed = await _record_renames(engine, stage.school_id, [student])
                event, arrived = await _next_event(ws)
                delays.append(arrived - committed)
                if event["cursor"] != stage.cursor(seq) or event["node"] is None:
                    problems.append(f"change {index}: expected cursor {stage.cursor(seq)}, got {event}")
            renamed = [stage.students[index % len(stage.students)] for index in range(burst)]
            last, committed = await _record_renames(engine, stage.school_id, renamed)
            expected = [stage.cursor(seq) for seq in range(last - burst + 1, last + 1)]
            received = []
            arrived = committed
            for _ in range(burst):
                event, arrived = await _next_event(ws)
                received.append(event["cursor"])
            if received != expected:
                problems.append("the burst's events were not delivered exactly once, in order")
    finally:
        await engine.dispose()
    ordered = sorted(delays)
    return Result(
        engine="",
        changes=count,
        median_ms=statistics.median(ordered) * 1000,
        p95_ms=ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000,
        max_ms=ordered[-1] * 1000,
        burst=burst,
        burst_seconds=arrived - committed,
        problems=tuple(problems),
    )


def run_engine(engine: str, arguments: argparse.Namespace) -> Result:
    """Seed, serve and measure on one engine."""
    with fresh_database(engine, arguments.postgres_admin_url) as url:
        seed(url, schools=3, students_per_school=50, today=dt.datetime.now(dt.UTC).date())
        stage = asyncio.run(_stage(url))
        with running_server(url) as server:
            ws_url = server.base_url.replace("http://", "ws://") + "/graphql"
            result = asyncio.run(_measure(url, ws_url, stage, arguments.changes, arguments.burst))
    return Result(**{**asdict(result), "engine": engine})


def main() -> int:
    """Parse the arguments, run the engines and print the figures; 1 when a check failed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN_URL)
    parser.add_argument("--json", action="store_true", help="also print one JSON line per engine")
    arguments = parser.parse_args()
    if arguments.changes < 1 or arguments.burst < 1:
        parser.error("--changes and --burst must be at least 1")
    engines = ["sqlite", "postgresql"] if arguments.engine == "both" else [arguments.engine]
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    failed = False
    for engine in engines:
        result = run_engine(engine, arguments)
        print(
            f"{engine:<10} commit -> subscriber over {result.changes} changes:"
            f" median {result.median_ms:.0f} ms, p95 {result.p95_ms:.0f} ms, max {result.max_ms:.0f} ms;"
            f" burst of {result.burst} in one transaction: {result.burst_seconds:.2f} s to the last event"
            f" ({result.burst_rate:,.0f} events/s)"
        )
        for problem in result.problems:
            print(f"  PROBLEM: {problem}")
        if arguments.json:
            print(json.dumps({**asdict(result), "burst_rate": result.burst_rate}))
        failed = failed or bool(result.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
