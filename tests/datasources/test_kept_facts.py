"""A partner's facts are kept between requests only while nothing they are read from changed.

Kept facts that outlived a revoked consent, a closed school or a withdrawn DPA would let a partner go on
reading what it may no longer see. Every kind of change to the four tables the facts come from, through
the real write paths where there is one and in plain SQL where there is none, is followed by a read that
must equal the facts read afresh; so is a change that lands between the count and the facts, and a count
that starts over. On both engines (the triggers differ per engine).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete, event, update

from auth.categories import DataCategory
from datasources.access.kept_facts import current_partner_facts
from datasources.access.persisted_operations import set_allow_list
from datasources.access.viewer_facts import partner_facts
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
    assert statements == 1  # only the count: the facts were kept

    await change(world)
    after, _ = await _read(world.engine, world.client_id, kept=True)
    fresh, _ = await _read(world.engine, world.client_id, kept=False)

    assert after == fresh
    assert after != before


async def test_a_change_that_raises_the_count_only_reads_the_facts_again(world: World) -> None:
    await _read(world.engine, world.client_id, kept=True)
    await _recount_only(world)

    after, statements = await _read(world.engine, world.client_id, kept=True)

    assert after == (await _read(world.engine, world.client_id, kept=False))[0]
    assert statements == 4  # the count, the partner, its consents, its allow-list


class _RacingReader(Reader):
    """A reader that lets a change commit right after it read the count (as another request might)."""

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
async def test_a_change_committed_between_the_count_and_the_facts_is_not_kept_past_it(
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

    # Kept facts answer as of the count (the change came after it); facts read after the count hold it.
    assert during == (before if primed else fresh)
    assert after == fresh


async def test_a_count_that_starts_over_does_not_match_facts_kept_before(world: World) -> None:
    kept, _ = await _read(world.engine, world.client_id, kept=True)
    async with world.engine.connect() as connection:
        count = int((await connection.execute(POLICY_VERSIONS.select())).one().version)
    await world.write(delete(POLICY_VERSIONS))
    # The revoke makes the row again (count 1 and up); renames bring the count back to the kept one.
    await _revoke(world)
    while True:
        async with world.engine.connect() as connection:
            now = int((await connection.execute(POLICY_VERSIONS.select())).one().version)
        if now >= count:
            break
        await _recount_only(world)

    after, _ = await _read(world.engine, world.client_id, kept=True)

    assert after == (await _read(world.engine, world.client_id, kept=False))[0]
    assert after != kept


async def test_without_the_count_nothing_is_kept(world: World) -> None:
    await world.write(delete(POLICY_VERSIONS))

    first, first_statements = await _read(world.engine, world.client_id, kept=True)
    second, second_statements = await _read(world.engine, world.client_id, kept=True)

    assert first == second == (await _read(world.engine, world.client_id, kept=False))[0]
    assert first_statements == second_statements == 4
