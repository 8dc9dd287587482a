"""The outgoing mail queue (`outgoing_mail`): requests put messages in, a background sender takes them out.

Why a queue in the database: a request that sent mail itself would wait on the mail server, and a slow
or unreachable server would slow or fail a coordinator's mutation. Enqueuing is one insert in the
request's own transaction (so a refused request queues nothing); the server's background task and the
`mail send-queued` command send what is due, in whichever process runs first: a message is *claimed*
(its next attempt moved past a lease) by a conditional update, so two senders never send it twice.
A failure is retried with a growing wait (`retry_delay`) until `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sqlalchemy import case, func, insert, select, update

from datasources.store.tables import OUTGOING_MAIL

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: A claimed message is not due again for this long, so a sender that died mid-delivery is retried later.
CLAIM_LEASE: Final = dt.timedelta(minutes=10)
#: The first retry waits this long; every further one twice as long, up to `MAX_RETRY_DELAY`.
FIRST_RETRY_DELAY: Final = dt.timedelta(seconds=30)
MAX_RETRY_DELAY: Final = dt.timedelta(hours=2)
#: After this many failed attempts a message is no longer tried (the links it carries expire anyway).
MAX_ATTEMPTS: Final = 12


@dataclass(frozen=True, slots=True)
class QueuedMail:
    """A message that is due: its id, recipient and the whole RFC 5322 text."""

    mail_id: int
    recipient: str
    message: str
    attempts: int


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failure: 30 s, 1 min, 2 min, … at most 2 hours."""
    delay: dt.timedelta = FIRST_RETRY_DELAY * (2 ** max(attempts - 1, 0))
    return min(delay, MAX_RETRY_DELAY)


async def enqueue(connection: AsyncConnection, recipient: str, message: str, *, now: dt.datetime) -> None:
    """Queue a message in the caller's transaction; it is due at once."""
    await connection.execute(
        insert(OUTGOING_MAIL).values(
            created_at=now, recipient=recipient, message=message, attempts=0, next_attempt_at=now
        )
    )


async def claim_due(engine: AsyncEngine, *, now: dt.datetime, limit: int = 50) -> list[QueuedMail]:
    """Claim up to `limit` messages that are due: each is this sender's until the lease runs out."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    OUTGOING_MAIL.c.id,
                    OUTGOING_MAIL.c.recipient,
                    OUTGOING_MAIL.c.message,
                    OUTGOING_MAIL.c.attempts,
                    OUTGOING_MAIL.c.next_attempt_at,
                )
                .where(
                    OUTGOING_MAIL.c.sent_at.is_(None),
                    OUTGOING_MAIL.c.next_attempt_at <= now,
                    OUTGOING_MAIL.c.attempts < MAX_ATTEMPTS,
                )
                .order_by(OUTGOING_MAIL.c.next_attempt_at, OUTGOING_MAIL.c.id)
                .limit(limit)
            )
        ).all()
    claimed: list[QueuedMail] = []
    for row in rows:
        async with engine.begin() as connection:
            # Only if no other sender moved it since it was read: the update is the claim.
            taken = await connection.execute(
                update(OUTGOING_MAIL)
                .where(
                    OUTGOING_MAIL.c.id == row.id,
                    OUTGOING_MAIL.c.next_attempt_at == row.next_attempt_at,
                    OUTGOING_MAIL.c.sent_at.is_(None),
                )
                .values(next_attempt_at=now + CLAIM_LEASE)
            )
        if taken.rowcount == 1:
            claimed.append(QueuedMail(row.id, row.recipient, row.message, row.attempts))
    return claimed


async def mark_sent(engine: AsyncEngine, mail_id: int, *, now: dt.datetime) -> None:
    """The message went out: record when, and empty it (the links it carried leave the database)."""
    async with engine.begin() as connection:
        await connection.execute(
            update(OUTGOING_MAIL)
            .where(OUTGOING_MAIL.c.id == mail_id)
            .values(sent_at=now, message="", attempts=OUTGOING_MAIL.c.attempts + 1, last_error=None)
        )


async def mark_failed(engine: AsyncEngine, mail: QueuedMail, error_class: str, *, now: dt.datetime) -> None:
    """A delivery failed: count it, keep the error's class, and make the message due again later."""
    attempts = mail.attempts + 1
    async with engine.begin() as connection:
        await connection.execute(
            update(OUTGOING_MAIL)
            .where(OUTGOING_MAIL.c.id == mail.mail_id)
            .values(
                attempts=attempts, last_error=error_class[:100], next_attempt_at=now + retry_delay(attempts)
            )
        )


@dataclass(frozen=True, slots=True)
class QueueState:
    """How the queue stands: messages waiting (still to be tried), sent, and given up."""

    waiting: int
    sent: int
    given_up: int


async def queue_state(engine: AsyncEngine) -> QueueState:
    """Count the queue's messages by state."""
    given_up = (OUTGOING_MAIL.c.sent_at.is_(None)) & (OUTGOING_MAIL.c.attempts >= MAX_ATTEMPTS)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(
                    func.count(),
                    func.count(OUTGOING_MAIL.c.sent_at),
                    func.coalesce(func.sum(case((given_up, 1), else_=0)), 0),
                ).select_from(OUTGOING_MAIL)
            )
        ).one()
    total, sent, stopped = int(row[0]), int(row[1]), int(row[2])
    return QueueState(waiting=total - sent - stopped, sent=sent, given_up=stopped)
