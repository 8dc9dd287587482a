"""Board coordinators (bovenschools coordinators): one staff account that manages all, or chosen, schools of
one board. The operator makes them; the viewer facts (datasources.access.viewer_facts) read them, and the
policy turns them into the schools the account manages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from datasources.access.accounts import normalise_email
from datasources.store.tables import BOARD_COORDINATORS, BOARDS, SCHOOLS, STAFF_ACCOUNTS
from errors import BadUserInput

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

#: The password hash of an account that has not chosen a password yet: no password verifies against it,
#: so the account signs in only once its holder set one (activation or a password reset).
UNUSABLE_HASH = "!unset"


async def board_id_by_number(engine: AsyncEngine, number: str) -> int | None:
    """The id of the board with this DUO number, or None."""
    async with engine.connect() as connection:
        found = await connection.scalar(select(BOARDS.c.id).where(BOARDS.c.number == number.strip()))
    return None if found is None else int(found)


async def add_board_coordinator(
    engine: AsyncEngine,
    *,
    board_number: str,
    email: str,
    school_codes: Sequence[str] | None,
    created_by: str,
    now: dt.datetime,
) -> int:
    """Make the account of `email` (a new one without a password when there is none) coordinator of the
    board's schools: all of them (`school_codes` None, also those the board gains later) or the chosen
    ones, which must be the board's. Given again, the choice replaces the earlier one. Returns the
    account id."""
    address = normalise_email(email)
    board_id = await board_id_by_number(engine, board_number)
    if board_id is None:
        raise BadUserInput(f"no board with number {board_number}")
    chosen: list[int] | None = None
    async with engine.begin() as connection:
        if school_codes is not None:
            codes = {code.strip().upper() for code in school_codes}
            if not codes:
                raise BadUserInput("choose at least one school, or leave `schoolCodes` out for all of them")
            rows = await connection.execute(
                select(SCHOOLS.c.id, SCHOOLS.c.code).where(
                    SCHOOLS.c.code.in_(sorted(codes)), SCHOOLS.c.board_id == board_id
                )
            )
            found = {row.code: row.id for row in rows}
            missing = sorted(codes - set(found))
            if missing:
                raise BadUserInput(f"not schools of board {board_number}: {', '.join(missing)}")
            chosen = sorted(found.values())
        account_id = await connection.scalar(
            select(STAFF_ACCOUNTS.c.id).where(STAFF_ACCOUNTS.c.email == address)
        )
        if account_id is None:
            account_id = await connection.scalar(
                insert(STAFF_ACCOUNTS)
                .values(
                    email=address,
                    password_hash=UNUSABLE_HASH,
                    active=True,
                    created_at=now,
                    created_by=created_by,
                )
                .returning(STAFF_ACCOUNTS.c.id)
            )
        key = (BOARD_COORDINATORS.c.account_id == account_id, BOARD_COORDINATORS.c.board_id == board_id)
        existing = await connection.scalar(select(BOARD_COORDINATORS.c.board_id).where(*key))
        if existing is None:
            await connection.execute(
                insert(BOARD_COORDINATORS).values(
                    account_id=account_id,
                    board_id=board_id,
                    school_ids=chosen,
                    created_at=now,
                    created_by=created_by,
                )
            )
        else:
            await connection.execute(update(BOARD_COORDINATORS).where(*key).values(school_ids=chosen))
    return int(account_id)
