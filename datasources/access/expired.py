"""Rows of the door that have served their purpose: deleted now and then (the server's hourly maintenance),
so that sign-in leaves no trail that grows forever and no hashes of old secrets stay behind.

Each kind is kept a while past the moment it stops opening anything, for the message a person or a partner
still gets about it ("this code was used already", "your session ended because ..."), never longer than
that margin:
- authorization codes (60 seconds, their access tokens 15 minutes): a day after the code expired;
- web sessions (a school day): a day after they expired, ended or not;
- the `jti`s of network providers' assertions (refused once expired, with the clock leeway): an hour after;
- home activation codes, activation and password-reset links: thirty days after they expired, used or not;
- links to choose a new home PIN: a day after they expired;
- sent mail (emptied once sent): thirty days after it was sent.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Final

from sqlalchemy import delete

from datasources.store.tables import (
    ACCOUNT_LINKS,
    HOME_ACTIVATION_CODES,
    HOME_PIN_LINKS,
    OIDC_CODES,
    OUTGOING_MAIL,
    USED_ASSERTIONS,
    WEB_SESSIONS,
)

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.ext.asyncio import AsyncEngine

_DAY: Final = dt.timedelta(days=1)
_MONTH: Final = dt.timedelta(days=30)


def _rules(now: dt.datetime) -> tuple[tuple[Table, ColumnElement[bool]], ...]:
    """Per table, the rows that may go (see the module docstring for the margins)."""
    return (
        (OIDC_CODES, OIDC_CODES.c.expires_at < now - _DAY),
        (WEB_SESSIONS, WEB_SESSIONS.c.expires_at < now - _DAY),
        (USED_ASSERTIONS, USED_ASSERTIONS.c.expires_at < now - dt.timedelta(hours=1)),
        (HOME_ACTIVATION_CODES, HOME_ACTIVATION_CODES.c.expires_at < now - _MONTH),
        (HOME_PIN_LINKS, HOME_PIN_LINKS.c.expires_at < now - _DAY),
        (ACCOUNT_LINKS, ACCOUNT_LINKS.c.expires_at < now - _MONTH),
        (OUTGOING_MAIL, OUTGOING_MAIL.c.sent_at < now - _MONTH),
    )


async def prune_expired(engine: AsyncEngine, now: dt.datetime) -> dict[str, int]:
    """Delete what has served its purpose (module docstring); the rows deleted per table. One transaction
    per table, so a long delete of one never holds up sign-ins elsewhere."""
    deleted: dict[str, int] = {}
    for table, expired in _rules(now):
        async with engine.begin() as connection:
            result = await connection.execute(delete(table).where(expired))
        deleted[table.name] = int(result.rowcount or 0)
    return deleted
