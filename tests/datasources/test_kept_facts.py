"""A partner's facts are kept between requests only while nothing they are read from changed.

Kept facts that outlived a revoked consent, a closed school or a withdrawn DPA would let a partner go on
reading what it may no longer see. Every kind of change to the five tables the facts come from, through
the real write paths where there is one and in plain SQL where there is none, is followed by a read that
must equal the facts read afresh; so is a change that lands while the facts are read, a restored backup
(the attacker review's), a database without the stamp, and a later migration. On both engines (the
triggers differ per engine).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import delete, event, select, update
from sqlalchemy.engine import make_url

from auth.categories import DataCategory
from datasources.access.kept_facts import current_partner_facts
from datasources.access.persisted_operations import set_allow_list
from datasources.access.viewer_facts import partner_facts
from datasources.store.database import alembic_config
from datasources.store.reader import Reader
from datasources.store.tables import BOARDS, CONSENTS, PARTNERS, POLICY_VERSIONS, SCHOOLS
from tests.schema.test_feed import grant, new_board, new_partner, new_school, revoke

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import PartnerFacts


class World:
    """A partner that two schools of two boards consented to, and a third school it has no consent at."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.partner_id = 0
        self.client_id = ""
        self.boards: list[int] = []
        self.schools: list[int] = []

    async def build(self) -> World:
        self.boards = [await new_board(self.engine), await new_board(self.engine)]
        self.schools = [
            (await new_school(self.engine, self.boards[0]))[0],
            (await new_school(self.engine, self.boards[1]))[0],
            (await new_school(self.engine, self.boards[1]))[0],
        ]
        self.partner_id, self.client_id = await new_partner(self.engine)
        await grant(self.engine, self.schools[0], self.partner_id, DataCategory)
        await grant(self.engine, self.schools[1], self.partner_id, [DataCategory.STUDENT_BASIC])
        return self

    async def write(self, statement: Any) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(statement)


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    return await World(engine).build()


async def _read(engine: AsyncEngine, client_id: str, *, kept: bool) -> tuple[PartnerFacts | None, int]:
    """The facts through a fresh reader (as a request reads them), and how many statements that took."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    reader = Reader(engine)
    try:
        facts = await (current_partner_facts if kept else partner_facts)(reader, client_id)
    finally:
        await reader.close()
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    return facts, len(statements)


Change = Callable[[World], Awaitable[None]]


async def _revoke(world: World) -> None:
    await revoke(world.engine, world.schools[0], world.partner_id)


async def _narrow(world: World) -> None:
    await grant(world.engine, world.schools[0], world.partner_id, [DataCategory.STUDENT_BASIC])


async def _new_consent(world: World) -> None:
    await grant(world.engine, world.schools[2], world.partner_id, DataCategory)


async def _close_school(world: World) -> None:
    await world.write(update(SCHOOLS).where(SCHOOLS.c.id == world.schools[1]).values(active=False))


async def _withdraw_dpa(world: World) -> None:
    await world.write(update(BOARDS).where(BOARDS.c.id == world.boards[0]).values(dpa_signed_at=None))


async def _move_school(world: World) -> None:
    # To a board without a signed DPA: only the school's row changes.
    board = await new_board(world.engine)
    await world.write(update(BOARDS).where(BOARDS.c.id == board).values(dpa_signed_at=None))
    await world.write(update(SCHOOLS).where(SCHOOLS.c.id == world.schools[0]).values(board_id=board))


async def _declare_less(world: World) -> None:
    await world.write(
        update(PARTNERS).where(PARTNERS.c.id == world.partner_id).values(declared_categories=["SCHOOL_BASIC"])
    )


async def _leave_the_chain(world: World) -> None:
    await world.write(update(PARTNERS).where(PARTNERS.c.id == world.partner_id).values(eck_chain=False))


async def _delete_consent(world: World) -> None:
    await world.write(delete(CONSENTS).where(CONSENTS.c.school_id == world.schools[1]))


async def _rename_client(world: World) -> None:
    # The token's client id no longer names the partner: it is unknown from now on.
    await world.write(update(PARTNERS).where(PARTNERS.c.id == world.partner_id).values(client_id="renamed"))


async def _allow_list(world: World) -> None:
    await set_allow_list(world.engine, world.partner_id, ["a" * 64])


async def _recount_only(world: World) -> None:
    """Nothing for this partner changes (another board is renamed): it only raises the count."""
    extra = await new_board(world.engine)
    await world.write(update(BOARDS).where(BOARDS.c.id == extra).values(name="Renamed board"))


CHANGES: dict[str, Change] = {
    "a consent revoked": _revoke,
    "a consent narrowed": _narrow,
    "a new consent": _new_consent,
    "a school closed": _close_school,
    "a board's DPA withdrawn": _withdraw_dpa,
    "a school moved to another board": _move_school,
    "the partner declares less": _declare_less,
    "the partner leaves the ECK chain": _leave_the_chain,
    "a consent's row deleted": _delete_consent,
    "the partner's client id changed": _rename_client,
    "the partner's allow-list set": _allow_list,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
async def test_kept_facts_are_read_again_after_every_change_to_what_they_come_from(
    world: World, change: Change
) -> None:
    before, _ = await _read(world.engine, world.client_id, kept=True)
    again, statements = await _read(world.engine, world.client_id, kept=True)
    assert again == before
    assert statements == 1  # only the stamp: the facts were kept

    await change(world)
    after, _ = await _read(world.engine, world.client_id, kept=True)
    fresh, _ = await _read(world.engine, world.client_id, kept=False)

    assert after == fresh
    assert after != before


async def test_an_unrelated_change_only_reads_the_facts_again(world: World) -> None:
    kept, _ = await _read(world.engine, world.client_id, kept=True)
    await _recount_only(world)

    after, statements = await _read(world.engine, world.client_id, kept=True)

    assert after == kept == (await _read(world.engine, world.client_id, kept=False))[0]
    assert statements == 5  # the stamp, the partner, its consents, its allow-list, the stamp again
    assert (await _read(world.engine, world.client_id, kept=True))[1] == 1


class _RacingReader(Reader):
    """A reader that lets a change commit right after it first read the stamp (as another request
    might)."""

    def __init__(self, engine: AsyncEngine, change: Callable[[], Awaitable[None]]) -> None:
        super().__init__(engine)
        self._change: Callable[[], Awaitable[None]] | None = change

    async def rows(self, statement: Any, parameters: Any = None) -> Sequence[Any]:
        found = await super().rows(statement, parameters)
        if self._change is not None and "policy_versions" in str(statement):
            change, self._change = self._change, None
            await change()
        return found


@pytest.mark.parametrize("primed", [False, True], ids=["read", "kept"])
@pytest.mark.parametrize("change", [_revoke, _close_school, _withdraw_dpa], ids=["revoke", "close", "dpa"])
async def test_a_change_committed_while_the_facts_are_read_is_not_kept_past_it(
    world: World, change: Change, primed: bool
) -> None:
    if primed:
        before, _ = await _read(world.engine, world.client_id, kept=True)

    async def racing() -> None:
        await change(world)

    reader = _RacingReader(world.engine, racing)
    try:
        during = await current_partner_facts(reader, world.client_id)
    finally:
        await reader.close()
    after, _ = await _read(world.engine, world.client_id, kept=True)
    fresh, _ = await _read(world.engine, world.client_id, kept=False)

    # Kept facts answer as of the stamp (the change came after it); facts read after it hold the change,
    # and are not kept under the stamp they are newer than.
    assert during == (before if primed else fresh)
    assert after == fresh


async def test_without_the_stamp_nothing_is_kept_and_the_next_change_makes_it_again(world: World) -> None:
    await world.write(delete(POLICY_VERSIONS))

    first, first_statements = await _read(world.engine, world.client_id, kept=True)
    second, second_statements = await _read(world.engine, world.client_id, kept=True)
    assert first == second == (await _read(world.engine, world.client_id, kept=False))[0]
    assert first_statements == second_statements == 4  # the stamp (none), the three of the facts

    await _revoke(world)
    after, _ = await _read(world.engine, world.client_id, kept=True)
    again, statements = await _read(world.engine, world.client_id, kept=True)
    assert after == again == (await _read(world.engine, world.client_id, kept=False))[0] != first
    assert statements == 1


async def _current_stamp(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return str((await connection.execute(select(POLICY_VERSIONS.c.stamp))).scalar_one())


async def test_every_transaction_that_changes_a_counted_table_writes_a_stamp_of_its_own(world: World) -> None:
    # One session, transaction after transaction (a pooled connection): the once-per-transaction note of
    # PostgreSQL's trigger must not outlive its transaction; a stamp row brought from elsewhere (a
    # restore onto another cluster) changes nothing.
    board = world.boards[1]
    seen = {await _current_stamp(world.engine)}
    async with world.engine.connect() as connection:
        for name in ("Eerste", "Tweede", "Derde"):
            async with connection.begin():
                await connection.execute(update(BOARDS).where(BOARDS.c.id == board).values(name=name))
                await connection.execute(update(BOARDS).where(BOARDS.c.id == board).values(name=name + "!"))
            seen.add(await _current_stamp(world.engine))
    await world.write(update(POLICY_VERSIONS).values(stamp="brought-from-elsewhere"))
    await _revoke(world)

    assert len(seen) == 4
    assert await _current_stamp(world.engine) not in {*seen, "brought-from-elsewhere"}


async def test_a_change_rolled_back_to_a_savepoint_leaves_the_next_change_stamped(world: World) -> None:
    if world.engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL's trigger notes that it wrote the stamp")
    kept, _ = await _read(world.engine, world.client_id, kept=True)
    before = await _current_stamp(world.engine)
    async with world.engine.connect() as connection, connection.begin():
        await connection.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")  # the trigger fires at once
        savepoint = await connection.begin_nested()
        await connection.execute(update(BOARDS).where(BOARDS.c.id == world.boards[1]).values(name="Weg"))
        await savepoint.rollback()  # the stamp it wrote, and its note, go with it
        await connection.execute(update(SCHOOLS).where(SCHOOLS.c.id == world.schools[0]).values(active=False))

    after, _ = await _read(world.engine, world.client_id, kept=True)
    assert await _current_stamp(world.engine) != before
    assert after == (await _read(world.engine, world.client_id, kept=False))[0] != kept


# --- a restored backup (the attacker review) ------------------------------------------------------------


def _sqlite_copy(source: str, target: str) -> None:
    """sqlite3's online backup: what `.backup` and `.restore` of the sqlite3 shell do."""
    source_db, target_db = sqlite3.connect(source), sqlite3.connect(target)
    try:
        source_db.backup(target_db)
    finally:
        source_db.close()
        target_db.close()


class Backup:
    """A whole-database backup, taken and restored with the engine's own tools while the hub runs."""

    def __init__(self, engine: AsyncEngine, database_url: str, folder: Path) -> None:
        self.engine, self.url = engine, make_url(database_url)
        self.path = folder / "backup"

    def _file(self) -> str:
        assert self.url.database is not None
        return self.url.database

    def _libpq(self) -> str:
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def take(self) -> None:
        if self.engine.dialect.name == "sqlite":
            await asyncio.to_thread(_sqlite_copy, self._file(), str(self.path))
        else:
            command = ["pg_dump", "--format=custom", f"--file={self.path}", self._libpq()]
            await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True)

    async def restore(self) -> None:
        await self.engine.dispose()  # the pool's idle connections; the engine (and what it kept) stays
        if self.engine.dialect.name == "sqlite":
            await asyncio.to_thread(_sqlite_copy, str(self.path), self._file())
        else:
            command = ["pg_restore", "--clean", "--if-exists", "--single-transaction", "--no-owner"]
            command += [f"--dbname={self._libpq()}", str(self.path)]
            await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True)


def _schools(facts: PartnerFacts | None) -> set[int]:
    assert facts is not None
    return {consent.school_id for consent in facts.consents}


async def test_a_restored_backup_answers_with_its_own_facts(
    world: World, database_url: str, tmp_path: Path
) -> None:
    backup = Backup(world.engine, database_url, tmp_path)
    await backup.take()
    backed_up, _ = await _read(world.engine, world.client_id, kept=True)
    # After the backup a third school consents, and the partner reads with that consent.
    await _new_consent(world)
    granted, _ = await _read(world.engine, world.client_id, kept=True)
    assert world.schools[2] in _schools(granted) - _schools(backed_up)

    await backup.restore()
    restored, _ = await _read(world.engine, world.client_id, kept=True)
    # Life goes on after the restore: changes of other rows, and the school revokes again what it had.
    await _recount_only(world)
    await _revoke(world)
    after, _ = await _read(world.engine, world.client_id, kept=True)
    fresh, _ = await _read(world.engine, world.client_id, kept=False)

    assert restored == backed_up  # no consent the restore undid
    assert world.schools[0] not in _schools(after)
    assert after == fresh


# --- the triggers under later migrations ----------------------------------------------------------------

#: Migration 0021's triggers: each counted table, each kind of change.
COUNTED = ("partners", "consents", "schools", "boards", "operation_allow_lists")


async def test_every_counted_table_has_its_triggers_at_the_head_of_the_migrations(
    engine: AsyncEngine,
) -> None:
    # SQLite's batch mode rebuilds a table that a migration alters, and its triggers go with the old
    # table (the attacker review): a later migration of a counted table must create them again.
    found: set[tuple[str, object]]
    expected: set[tuple[str, object]]
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            result = await connection.exec_driver_sql(
                "SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
            )
            found = {
                (str(row[0]), operation)
                for row in _rows(result)
                for operation in ("INSERT", "UPDATE", "DELETE")
                if f"AFTER {operation} ON {row[0]}" in row[1] and "policy_versions" in row[1]
            }
            expected = {
                (table, operation) for table in COUNTED for operation in ("INSERT", "UPDATE", "DELETE")
            }
        else:
            rows = await connection.exec_driver_sql(
                "SELECT c.relname, t.tgdeferrable, t.tginitdeferred FROM pg_trigger t"
                " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid"
                " WHERE p.proname = 'leerpoort_policy_changed'"
            )
            found = {(str(row[0]), bool(row[1] and row[2])) for row in _rows(rows)}
            expected = {(table, True) for table in COUNTED}
    assert found == expected


def _rows(result: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in result]


MENDING_MIGRATION = """
from alembic import op

revision = "0999_mend_then_alter"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE schools SET name = name")
    op.add_column("schools", __import__("sqlalchemy").Column("mended", __import__("sqlalchemy").Boolean()))


def downgrade() -> None:
    op.drop_column("schools", "mended")
"""


async def test_a_later_migration_may_mend_rows_of_a_counted_table_and_alter_it(
    world: World, database_url: str, tmp_path: Path
) -> None:
    # On PostgreSQL the deferred triggers would leave events pending for the mended rows, and an ALTER of
    # the table in the same transaction is refused (the attacker review): migrations run with constraints
    # immediate.
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert head is not None
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0999_mend_then_alter.py").write_text(MENDING_MIGRATION.format(head=head))
    config = alembic_config(database_url)
    ours = Path(str(config.get_main_option("script_location"))) / "versions"
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join((str(ours), str(versions))))
    kept, _ = await _read(world.engine, world.client_id, kept=True)

    await asyncio.to_thread(command.upgrade, config, "head")
    try:
        after, statements = await _read(world.engine, world.client_id, kept=True)
    finally:
        await asyncio.to_thread(command.downgrade, config, head)

    assert after == kept
    assert statements == 5  # the mended rows wrote a new stamp: the facts were read again
