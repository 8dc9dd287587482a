"""Plumbing shared by the bench scripts that measure the real server: a fresh database, a seeded world, an
operator token, the server as a child process, and memory figures from /proc.

Nothing here is measured itself; it sets the stage so that a bench script times only its own work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from datasources.registry.duo import read_registry
from datasources.sandbox.world import SeedSummary, seed_world
from datasources.store.database import create_engine, migrate

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterator, Mapping

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "reference" / "duo" / "vestigingen-bo-2013-drenthe-flevoland-groningen.csv"
DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
SERVER_START_SECONDS = 120.0


# --- memory -------------------------------------------------------------------------------------------


def status_mb(pid: int | str, field: str) -> float:
    """A memory figure of a process from /proc/<pid>/status (VmHWM = peak RSS, VmRSS = now), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


def cpu_seconds(pid: int | str = "self") -> float:
    """The CPU time (user + system) a process has used so far, from /proc/<pid>/stat. On a shared, loaded
    machine the CPU a pass costs the server varies far less than its wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # After the command name: state is field 3, utime and stime are fields 14 and 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak() -> None:
    """Start this process's peak-RSS figure (VmHWM, ru_maxrss) afresh, so that a phase reports its own
    peak and not the seed's. Writing 5 to clear_refs does that on Linux 4.0 and newer; where it is not
    allowed the figure simply stays the peak of the run so far."""
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
def fresh_database(engine: str, postgres_admin_url: str = DEFAULT_POSTGRES_ADMIN_URL) -> Iterator[str]:
    """The URL of a new, migrated database of `engine` ("sqlite" or "postgresql"), removed afterwards:
    a file in a temporary folder, or a database `leerpoort_bench_<random>` next to the admin URL."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            migrate(url)
            yield url
        return
    admin = _asyncpg_url(postgres_admin_url)
    name = f"leerpoort_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        url = _asyncpg_url(admin, name)
        migrate(url)
        yield url
    finally:
        # FORCE ends the sessions still open (a server that did not stop in time), so nothing is left over.
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass(frozen=True, slots=True)
class Seeded:
    """A seeded world and what it cost."""

    summary: SeedSummary
    seconds: float
    #: Peak RSS of this process up to the end of the seed, in MB.
    peak_mb: float


async def _seed(
    url: str, schools: int, students_per_school: int, random_seed: int, today: dt.date
) -> SeedSummary:
    engine = create_engine(url)
    try:
        summary = await seed_world(
            engine,
            registry=read_registry(REGISTRY),
            schools=schools,
            students_per_school=students_per_school,
            seed=random_seed,
            today=today,
        )
        # Planner statistics, as autovacuum (PostgreSQL) or a routine ANALYZE (SQLite) keep them in a
        # running hub. Right after a bulk insert there are none, and PostgreSQL then plans the big tables
        # as empty: a page of students with their groups took 50 times longer in a first trial.
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return summary


def seed(url: str, *, schools: int, students_per_school: int, today: dt.date, random_seed: int = 1) -> Seeded:
    """Fill the empty database at `url` with `seed_world` (schools from the DUO reference file)."""
    import resource  # noqa: PLC0415 - POSIX only; imported where it is used

    started = time.perf_counter()
    summary = asyncio.run(_seed(url, schools, students_per_school, random_seed, today))
    seconds = time.perf_counter() - started
    return Seeded(summary, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


# --- the server ---------------------------------------------------------------------------------------


def server_env(url: str) -> dict[str, str]:
    """The environment of a server (or command) on the database at `url`, in sandbox mode."""
    return {**os.environ, "DATABASE_URL": url, "LEERPOORT_MODE": "sandbox"}


def operator_token(url: str) -> str:
    """An operator token for the database at `url`, minted by the documented command line, exactly as an
    operator's script would."""
    done = subprocess.run(
        [sys.executable, "server.py", "token", "operator"],
        cwd=ROOT, env=server_env(url), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"`server.py token operator` failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout.strip()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Server:
    """A running server: its process id (the uvicorn process itself, no reloader) and base URL."""

    pid: int
    base_url: str


@contextlib.contextmanager
def running_server(url: str, env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """The real server (uvicorn, one process) on a free loopback port, healthy; stopped on exit. `env`
    adds settings of its own (`LEERPOORT_COMPILED_READS=false`: the general executor only)."""
    port = _free_port()
    command = [
        sys.executable, "-m", "uvicorn", "server:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            command, cwd=ROOT, env={**server_env(url), **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_healthy(process, base_url, log)
            yield Server(process.pid, base_url)
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a child server: asked to stop, killed if it has not within 15 seconds."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            tail = log.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"the server exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not become healthy within {SERVER_START_SECONDS:.0f} s")
