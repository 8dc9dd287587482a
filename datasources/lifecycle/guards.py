"""The frame every lifecycle operation runs in: the schools it involves, locked against imports, in one
transaction that a dry run rolls back; and the checks that refuse an operation before it changes anything."""

from __future__ import annotations

import datetime as dt
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from datasources.imports.sync import exclusive, import_lock
from datasources.registry.locations import parse_school_code
from datasources.store.tables import BOARDS, LIFECYCLE_OPERATIONS, SCHOOLS
from errors import BadUserInput, Conflict

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from datasources.lifecycle.report import LifecycleReport

_BUSY = "an import of {code} is running; nothing was changed, try again when it has finished"


@dataclass(frozen=True, slots=True)
class Location:
    """A school location as an operation finds it (locked for the rest of the transaction)."""

    id: int
    code: str
    name: str
    board_id: int
    board_number: str
    active: bool
    merged_into_id: int | None
    closed_at: dt.datetime | None

    def refuse_unless_open(self) -> None:
        """Merged, closed (for good or for now) locations take part in no operation."""
        if self.merged_into_id is not None:
            raise BadUserInput(f"{self.code} has merged into another location")
        if self.closed_at is not None or not self.active:
            raise BadUserInput(f"{self.code} is closed")


class _Rollback(Exception):  # noqa: N818 - control flow: leave the transaction without committing
    pass


def school_codes(codes: Sequence[str]) -> list[str]:
    """The codes as stored, each once, in the order given; refuses a malformed code."""
    parsed: list[str] = []
    for code in codes:
        value = parse_school_code(code)
        if value not in parsed:
            parsed.append(value)
    return parsed


async def run_operation(
    engine: AsyncEngine,
    codes: Sequence[str],
    work: Callable[[AsyncConnection, dict[str, Location]], Awaitable[LifecycleReport]],
    *,
    dry_run: bool,
    performed_by: str,
    now: dt.datetime,
) -> LifecycleReport:
    """Run `work` over the schools with these codes in one transaction: each school's import lock is
    held (Conflict while an import of one runs), the rows are locked, and a dry run is rolled back after
    the report is made, so it reports exactly what the operation would do. An applied operation is
    recorded in `lifecycle_operations`. Refuses an unknown code before anything."""
    ids = await _ids(engine, codes)
    async with AsyncExitStack() as stack:
        for code, school_id in ids.items():
            lock = import_lock(engine, school_id)
            if lock.locked():
                raise Conflict(_BUSY.format(code=code))
            await lock.acquire()
            stack.callback(lock.release)
        try:
            async with engine.begin() as connection:
                for code, school_id in ids.items():
                    try:
                        await exclusive(connection, school_id)
                    except Conflict:
                        raise Conflict(_BUSY.format(code=code)) from None
                locations = await _locations(connection, list(ids.values()))
                report = await work(connection, locations)
                if dry_run:
                    raise _Rollback(report)
                await connection.execute(
                    insert(LIFECYCLE_OPERATIONS).values(
                        kind=report.operation,
                        school_id=locations[report.target_code or report.school_codes[0]].id,
                        school_codes=list(report.school_codes),
                        counts=dict(sorted(report.counts.items())),
                        performed_by=performed_by,
                        performed_at=now,
                    )
                )
                return report
        except _Rollback as rollback:
            done: LifecycleReport = rollback.args[0]
            return done
        except OperationalError as error:
            if "locked" in str(error).lower():
                raise Conflict("another change of these schools is running; nothing was changed") from None
            raise
        except IntegrityError:
            raise Conflict(
                "these schools changed during the operation; nothing was changed, try again"
            ) from None


async def _ids(engine: AsyncEngine, codes: Sequence[str]) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(SCHOOLS.c.code, SCHOOLS.c.id).where(SCHOOLS.c.code.in_(codes)))
        found = {row.code: int(row.id) for row in rows}
    for code in codes:
        if code not in found:
            raise BadUserInput(f"no location has code {code}")
    # A fixed order of locking (by id), so two operations over the same schools never wait on each other.
    return dict(sorted(((code, found[code]) for code in codes), key=lambda item: item[1]))


async def _locations(connection: AsyncConnection, school_ids: list[int]) -> dict[str, Location]:
    rows = await connection.execute(
        select(
            SCHOOLS.c.id,
            SCHOOLS.c.code,
            SCHOOLS.c.name,
            SCHOOLS.c.board_id,
            BOARDS.c.number.label("board_number"),
            SCHOOLS.c.active,
            SCHOOLS.c.merged_into_id,
            SCHOOLS.c.closed_at,
        )
        .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
        .where(SCHOOLS.c.id.in_(school_ids))
        .order_by(SCHOOLS.c.id)
        .with_for_update(of=SCHOOLS)
    )
    return {row.code: Location(**row._mapping) for row in rows}


#: The operations that suspend the LAS coupling of every school they involve until `finishLifecycle`.
_SUSPENDING = ("MERGE", "SPLIT")


async def unfinished_at(engine: AsyncEngine, school_code: str) -> bool:
    """Whether a merger or split involving this school has not been finished (`finishLifecycle`) since:
    its LAS coupling then stays suspended whatever the coordinator asks. The operations are few (one row
    each), so they are read and matched here rather than searched inside their JSON list of codes."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(
                LIFECYCLE_OPERATIONS.c.id, LIFECYCLE_OPERATIONS.c.kind, LIFECYCLE_OPERATIONS.c.school_codes
            )
            .where(LIFECYCLE_OPERATIONS.c.kind.in_([*_SUSPENDING, "FINISH"]))
            .order_by(LIFECYCLE_OPERATIONS.c.id)
        )
        pending = False
        for row in rows:
            if school_code not in (row.school_codes or ()):
                continue
            pending = row.kind in _SUSPENDING
    return pending
