"""Sign-in rows that open nothing any more are deleted by the server's hourly maintenance, each a margin
past its end (datasources.access.expired), and nothing that still counts goes with them."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select

from datasources.access.expired import prune_expired
from datasources.registry.duo import read_registry
from datasources.sandbox.world import seed_world
from datasources.store.tables import (
    ACCOUNT_LINKS,
    HOME_ACTIVATION_CODES,
    HOME_LINKS,
    HOME_PIN_LINKS,
    OIDC_CODES,
    OUTGOING_MAIL,
    PARTNERS,
    SCHOOLS,
    STUDENTS,
    USED_ASSERTIONS,
    WEB_SESSIONS,
)
from tests.reference import DUO_FILE

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncEngine

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


async def _ids(engine: AsyncEngine) -> tuple[int, int, int]:
    """A partner, a school and a student of a small seeded world, for the rows to belong to."""
    await seed_world(
        engine, registry=read_registry(DUO_FILE), schools=1, students_per_school=2, seed=3, today=NOW.date()
    )
    async with engine.connect() as connection:
        partner = await connection.scalar(select(func.min(PARTNERS.c.id)))
        school = await connection.scalar(select(func.min(SCHOOLS.c.id)))
        student = await connection.scalar(select(func.min(STUDENTS.c.id)))
    return int(partner or 0), int(school or 0), int(student or 0)


def _rows(partner: int, school: int, student: int, link_id: int) -> dict[str, tuple[Table, str, str, Any]]:
    """Per kind: its table, the column its end is in, its unique column, and the rest of a row."""
    code = {
        "partner_id": partner, "redirect_uri": "https://p.example/cb", "code_challenge": "c" * 43,
        "scope": "openid", "person_kind": "student", "member_id": student, "school_id": school,
        "session_id": "1", "auth_time": NOW, "created_at": NOW,
    }  # fmt: skip
    session = {
        "subject_kind": "student", "subject_id": str(student), "scopes": ["student"], "csrf_token": "t",
        "address": "192.0.2.1", "started_at": NOW,
    }  # fmt: skip
    activation = {"student_id": student, "created_at": NOW, "created_by": "test"}
    account_link = {"purpose": "reset", "email": "a@school.example", "created_at": NOW}
    mail = {"created_at": NOW, "recipient": "a@school.example", "next_attempt_at": NOW}
    return {
        "code": (OIDC_CODES, "expires_at", "code_hash", code),
        "session": (WEB_SESSIONS, "expires_at", "token_hash", session),
        "assertion": (USED_ASSERTIONS, "expires_at", "jti", {"partner_id": partner}),
        "activation code": (HOME_ACTIVATION_CODES, "expires_at", "code_hash", activation),
        "pin link": (
            HOME_PIN_LINKS,
            "expires_at",
            "token_hash",
            {"home_link_id": link_id, "created_at": NOW},
        ),
        "account link": (ACCOUNT_LINKS, "expires_at", "token_hash", account_link),
        "mail": (OUTGOING_MAIL, "sent_at", "message", mail),
    }


#: Per kind, how long after its end a row is kept, and the margin the test takes either side of that.
KEPT = {
    "code": dt.timedelta(days=1),
    "session": dt.timedelta(days=1),
    "assertion": dt.timedelta(hours=1),
    "activation code": dt.timedelta(days=30),
    "pin link": dt.timedelta(days=1),
    "account link": dt.timedelta(days=30),
    "mail": dt.timedelta(days=30),
}


async def test_expired_sign_in_rows_go_a_margin_after_their_end_and_the_rest_stays(
    engine: AsyncEngine,
) -> None:
    partner, school, student = await _ids(engine)
    async with engine.begin() as connection:
        link_id = (
            await connection.execute(
                insert(HOME_LINKS)
                .values(student_id=student, username="thuis-1", email="ouder@thuis.example", pin_hash="x",
                        activated_at=NOW)
                .returning(HOME_LINKS.c.id)
            )
        ).scalar_one()  # fmt: skip
        for kind, (table, end, unique, row) in _rows(partner, school, student, link_id).items():
            # One row a minute past the time it is kept, one a minute short of it.
            for number, age in enumerate((KEPT[kind] + MINUTE, KEPT[kind] - MINUTE)):
                values = {**row, end: NOW - age, unique: f"{kind}-{number}"}
                await connection.execute(insert(table).values(**values))

    deleted = await prune_expired(engine, NOW)

    kinds = _rows(0, 0, 0, 0)
    assert deleted == {table.name: 1 for table, _end, _unique, _row in kinds.values()}
    async with engine.connect() as connection:
        for kind, (table, _end, unique, _row) in kinds.items():
            left = (await connection.execute(select(table.c[unique]))).scalars().all()
            assert left == [f"{kind}-1"], kind
    # Nothing more to do: a second run deletes nothing.
    assert set((await prune_expired(engine, NOW)).values()) == {0}
