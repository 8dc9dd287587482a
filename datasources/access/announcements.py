"""The helpdesk's announcements (maintenance, incidents): posted by the operator, read by everyone while
they are current by the hub's clock (from `valid_from` up to, not including, `valid_until`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sqlalchemy import insert, or_, select

from datasources.store.tables import ANNOUNCEMENTS
from errors import BadUserInput

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

SEVERITIES: Final = ("INFO", "WARNING", "OUTAGE")
MAX_TITLE: Final = 200
MAX_BODY: Final = 4000
#: How many current announcements are shown at most (the newest first); a helpdesk never needs more.
MAX_SHOWN: Final = 20


@dataclass(frozen=True, slots=True)
class AnnouncementRecord:
    """One announcement as shown to users."""

    id: int
    title: str
    body: str
    severity: str
    valid_from: dt.datetime
    valid_until: dt.datetime | None


_COLUMNS = (
    ANNOUNCEMENTS.c.id,
    ANNOUNCEMENTS.c.title,
    ANNOUNCEMENTS.c.body,
    ANNOUNCEMENTS.c.severity,
    ANNOUNCEMENTS.c.valid_from,
    ANNOUNCEMENTS.c.valid_until,
)


async def post(
    engine: AsyncEngine,
    *,
    title: str,
    body: str,
    severity: str,
    valid_from: dt.datetime,
    valid_until: dt.datetime | None,
    posted_by: str,
    now: dt.datetime,
) -> AnnouncementRecord:
    """Record an announcement; refused when it has no title or body, is too long, or ends before it
    starts."""
    title, body = title.strip(), body.strip()
    if not title or not body:
        raise BadUserInput("an announcement needs a title and a body")
    if len(title) > MAX_TITLE or len(body) > MAX_BODY:
        raise BadUserInput(f"an announcement has at most {MAX_TITLE} characters of title, {MAX_BODY} of body")
    if severity not in SEVERITIES:
        raise BadUserInput(f"the severity is one of {', '.join(SEVERITIES)}")
    if valid_from.tzinfo is None or (valid_until is not None and valid_until.tzinfo is None):
        raise BadUserInput("give `validFrom` and `validUntil` with a time zone")
    if valid_until is not None and valid_until <= valid_from:
        raise BadUserInput("`validUntil` must lie after `validFrom`")
    values = {
        "title": title,
        "body": body,
        "severity": severity,
        "valid_from": valid_from,
        "valid_until": valid_until,
    }
    async with engine.begin() as connection:
        inserted = await connection.execute(
            insert(ANNOUNCEMENTS)
            .values(**values, posted_at=now, posted_by=posted_by)
            .returning(ANNOUNCEMENTS.c.id)
        )
        return AnnouncementRecord(id=int(inserted.scalar_one()), **values)  # type: ignore[arg-type]


async def current(engine: AsyncEngine, now: dt.datetime) -> list[AnnouncementRecord]:
    """The announcements current at `now`, the most severe and then the newest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(*_COLUMNS)
            .where(
                ANNOUNCEMENTS.c.valid_from <= now,
                or_(ANNOUNCEMENTS.c.valid_until.is_(None), ANNOUNCEMENTS.c.valid_until > now),
            )
            .order_by(ANNOUNCEMENTS.c.valid_from.desc(), ANNOUNCEMENTS.c.id.desc())
            .limit(MAX_SHOWN)
        )
        found = [AnnouncementRecord(**row._mapping) for row in rows]
    return sorted(found, key=lambda record: -SEVERITIES.index(record.severity))
