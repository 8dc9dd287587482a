"""An import killed with SIGKILL at any moment leaves the school exactly as before or exactly as the file
says, and the change feed consistent with what is stored.

A child process imports a large generated file the way `python server.py import edex FILE --confirm`
does (`resolvers.admin.import_file`), and the test kills it at several moments: while it reads the file,
the moment its write transaction is seen open, and later inside or at the end of that transaction. After
each kill the school's groups, students and staff (as the EDEXML export reads them from the store) equal
one of the two files in full, and replaying the school's change events from the state before the first
import gives exactly the groups, students and staff in the store, with the feed's counter at its last
event. Both engines: SQLite's WAL and PostgreSQL's transactions must each keep the promise.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import signal
import sqlite3
import sys
import time
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text

from datasources.imports.export import school_file_from_store
from datasources.school_files.edexml import read_edexml
from datasources.school_files.edexml_writer import write_edexml
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from datasources.store.calendar import school_year_of
from datasources.store.tables import CHANGE_COUNTER, CHANGE_EVENTS, GROUPS, SCHOOLS, STAFF_MEMBERS, STUDENTS
from resolvers import admin
from tests.e2e.conftest import process_environment

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

#: Large enough that reading and writing take a while, small enough for a quick suite.
STUDENTS_IN_FILE = 1000
#: What the child runs: the command line's import, with a line on stdout once its imports are done, so that
#: the moments of the kills are measured from the import itself and not from the interpreter's start-up.
CHILD = """
import asyncio, sys
from datasources.school_files.edexml import read_edexml
from resolvers import admin
from settings import Settings

settings = Settings()

def read():
    with open(sys.argv[1], "rb") as file:
        return read_edexml(file, max_bytes=settings.max_import_bytes)

print("ready", flush=True)
report = asyncio.run(admin.import_file(settings, read, dry_run=False, confirm=True))
print("applied" if report.applied else "refused", flush=True)
"""
CHILD_TIMEOUT_SECONDS = 120.0
_PEOPLE = {"Student": STUDENTS, "Group": GROUPS, "StaffMember": STAFF_MEMBERS}


def _generated(code: str, year: str, variant: int) -> SchoolFile:
    """A school of STUDENTS_IN_FILE pupils; variant 1 drops a fifth of variant 0's pupils, adds as many new
    ones, renames a third of the others and brings six more teachers."""
    groups = tuple(
        ImportedGroup(f"G{level}{room}", f"Groep {level}{room}", str(level), composite=False)
        for level in range(1, 9)
        for room in "abc"
    )
    shift = STUDENTS_IN_FILE // 5 * variant
    students = tuple(
        ImportedStudent(
            key=f"S{index}",
            eck_id=None,
            first_name=f"Kind{index}" if variant and index % 3 == 0 else f"Leerling{index}",
            prefix=None,
            last_name="Visser",
            initials="L",
            date_of_birth=dt.date(2015, 3, 1) + dt.timedelta(days=index % 2000),
            year_level=str(1 + index % 8),
            main_group=f"G{1 + index % 8}{'abc'[index % 3]}",
            composite_groups=(),
        )
        for index in range(shift, STUDENTS_IN_FILE + shift)
    )
    staff = tuple(
        ImportedStaff(
            f"M{index}", None, "Els", None, f"Kok{index}", f"els{index}@school.example", ("LRK",),
            (f"G{1 + index % 8}{'abc'[index % 3]}",),
        )
        for index in range(24 + 6 * variant)
    )  # fmt: skip
    return SchoolFile(code[:4], code[4:], year, None, groups, students, staff, source="generated")


@dataclasses.dataclass(frozen=True)
class _School:
    """What a user sees of a school's data, whatever the rows' ids and order."""

    groups: frozenset[ImportedGroup]
    students: frozenset[ImportedStudent]
    staff: frozenset[ImportedStaff]


def _seen(school_file: SchoolFile) -> _School:
    return _School(
        frozenset(school_file.groups),
        frozenset(
            dataclasses.replace(s, composite_groups=tuple(sorted(s.composite_groups)))
            for s in school_file.students
        ),
        frozenset(dataclasses.replace(m, groups=tuple(sorted(m.groups))) for m in school_file.staff),
    )


async def _stored(engine: AsyncEngine, code: str, today: dt.date) -> _School:
    school_file = await school_file_from_store(engine, code, today)
    assert school_file is not None
    return _seen(school_file)


async def _ids(engine: AsyncEngine, school_id: int) -> dict[str, set[int]]:
    async with engine.connect() as connection:
        return {
            kind: set(
                (await connection.scalars(select(table.c.id).where(table.c.school_id == school_id))).all()
            )
            for kind, table in _PEOPLE.items()
        }


async def _assert_feed_matches_store(
    engine: AsyncEngine, school_id: int, before: dict[str, set[int]]
) -> None:
    """Replaying the school's events on the rows of before the first import gives the rows stored now."""
    replayed = {kind: set(ids) for kind, ids in before.items()}
    e = CHANGE_EVENTS.c
    async with engine.connect() as connection:
        events = (
            await connection.execute(
                select(e.seq, e.entity_type, e.entity_id, e.kind)
                .where(e.school_id == school_id, e.entity_type.in_(list(_PEOPLE)))
                .order_by(e.seq)
            )
        ).all()
        last_event = await connection.scalar(select(func.max(e.seq)))
        counter = await connection.scalar(select(CHANGE_COUNTER.c.last_seq).where(CHANGE_COUNTER.c.id == 1))
    for event in events:
        ids = replayed[event.entity_type]
        if event.kind == "CREATED":
            assert event.entity_id not in ids, f"event {event.seq} creates what exists"
            ids.add(event.entity_id)
        elif event.kind == "DELETED":
            assert event.entity_id in ids, f"event {event.seq} deletes what does not exist"
            ids.remove(event.entity_id)
        else:
            assert event.entity_id in ids, f"event {event.seq} updates what does not exist"
    assert replayed == await _ids(engine, school_id)
    assert (counter or 0) == (last_event or 0), "the feed's counter is at its last event"


class _WriteProbe:
    """Whether some connection holds the import's write transaction open right now."""

    def __init__(self, engine: AsyncEngine, settings: Settings, school_id: int) -> None:
        self._engine, self._school_id = engine, school_id
        self._sqlite = settings.database_url.split("///", 1)[1] if settings.engine_name == "sqlite" else None

    async def open_transaction(self) -> bool:
        if self._sqlite is not None:
            # A writer holds SQLite's write lock from its first write to its commit.
            probe = sqlite3.connect(self._sqlite, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            except sqlite3.OperationalError:
                return True
            finally:
                probe.close()
            return False
        # The import's transaction holds an advisory lock on (4242, school) from its first statement.
        async with self._engine.connect() as connection:
            held = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid = 4242 AND objid = :school"
                ),
                {"school": self._school_id},
            )
        return bool(held)


@dataclasses.dataclass
class _Run:
    returncode: int
    #: Seconds from the child's "ready" to the first sight of its write transaction open, and then closed.
    opened: float | None
    closed: float | None


async def _import_in_child(
    file: Path,
    environment: dict[str, str],
    folder: Path,
    probe: _WriteProbe,
    *,
    kill_at: float | None = None,
    kill_after_open: float | None = None,
) -> _Run:
    """Run the child on `file`; kill it `kill_at` seconds after it is ready, or `kill_after_open` seconds
    after its write transaction is seen open, or let it finish."""
    # A killed child's PostgreSQL backend ends (and rolls back) a moment after the child: wait for it, so
    # that the next child neither meets its lock nor is taken for it.
    settled = time.monotonic() + CHILD_TIMEOUT_SECONDS
    while await probe.open_transaction():
        assert time.monotonic() < settled, "a killed import's transaction never ended"
        await asyncio.sleep(0.01)
    with (folder / "child.log").open("ab") as log:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, str(file), env=environment, cwd=folder,
            stdout=asyncio.subprocess.PIPE, stderr=log,
        )  # fmt: skip
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), CHILD_TIMEOUT_SECONDS)
    assert line.strip() == b"ready", (folder / "child.log").read_text()
    ready = time.monotonic()
    opened: float | None = None
    closed: float | None = None
    while child.returncode is None and time.monotonic() < ready + CHILD_TIMEOUT_SECONDS:
        now = time.monotonic() - ready
        if kill_at is not None and now >= kill_at:
            break
        if opened is not None and kill_after_open is not None and now >= opened + kill_after_open:
            break
        is_open = await probe.open_transaction()
        if opened is None and is_open:
            opened = time.monotonic() - ready
        elif opened is not None and closed is None and not is_open:
            closed = time.monotonic() - ready
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.wait(), 0.002)
    if child.returncode is None:
        child.send_signal(signal.SIGKILL)
    returncode = await asyncio.wait_for(child.wait(), CHILD_TIMEOUT_SECONDS)
    return _Run(returncode, opened, closed)


async def _import_in_process(settings: Settings, content: bytes) -> None:
    report = await admin.import_file(settings, lambda: read_edexml(content), dry_run=False, confirm=True)
    assert report.applied, report.errors


async def test_an_import_killed_at_any_moment_leaves_the_school_old_or_new_and_the_feed_consistent(
    world: SeedSummary, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    async with engine.connect() as connection:
        school_id, code = (
            await connection.execute(select(SCHOOLS.c.id, SCHOOLS.c.code).order_by(SCHOOLS.c.id).limit(1))
        ).one()
    today = settings.now().date()
    year = school_year_of(today)
    before = await _ids(engine, school_id)
    await _assert_feed_matches_store(engine, school_id, before)  # the seed writes no events
    contents = [write_edexml(_generated(code, year, variant)) for variant in (0, 1)]
    files = [tmp_path / "old.xml", tmp_path / "new.xml"]
    for file, content in zip(files, contents, strict=True):
        file.write_bytes(content)
    # Both states as the store holds them once each file is fully applied.
    states = []
    for content in contents:
        await _import_in_process(settings, content)
        states.append(await _stored(engine, code, today))
    assert states[0] != states[1]
    environment, probe = process_environment(settings), _WriteProbe(engine, settings, school_id)

    # A full run back to the first file: when the child's write transaction opens and closes.
    full = await _import_in_child(files[0], environment, tmp_path, probe)
    assert full.returncode == 0, (tmp_path / "child.log").read_text()
    assert full.opened is not None, "the write transaction was never seen open"
    assert await _stored(engine, code, today) == states[0]
    await _assert_feed_matches_store(engine, school_id, before)

    window = (full.closed or full.opened) - full.opened
    moments: list[dict[str, float]] = [
        {"kill_at": full.opened / 2},  # reading the file
        {"kill_after_open": 0.0},  # the moment the write transaction is seen open
        {"kill_after_open": window * 0.5},
        {"kill_after_open": window * 0.95},  # committing, or just done
    ]
    current, outcomes = 0, []
    for moment in moments:
        target = 1 - current
        run = await _import_in_child(files[target], environment, tmp_path, probe, **moment)
        stored = await _stored(engine, code, today)
        assert stored in states, f"killed {moment} ({run}): neither the old nor the new state"
        await _assert_feed_matches_store(engine, school_id, before)
        outcomes.append((run.returncode, "new" if stored == states[target] else "old"))
        current = states.index(stored)
    # The first two kills come before any commit could: they must leave the old state.
    assert outcomes[:2] == [(-signal.SIGKILL, "old")] * 2, outcomes
    assert [code for code, _ in outcomes].count(-signal.SIGKILL) >= 3, outcomes
