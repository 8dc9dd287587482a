"""The helpdesk's (operator's) work through the graph: announcements, board coordinators, school accounts
opened on a signed request, managed locations. Every check of who may do it is made here, before any
write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.permissions import may_post_announcements, may_read_announcements
from auth.viewer import Viewer, ViewerKind
from datasources.access import announcements
from errors import Forbidden

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.access.announcements import AnnouncementRecord
    from resolvers.context import Context


async def post_announcement(
    ctx: Context,
    *,
    title: str,
    body: str,
    severity: str,
    valid_from: dt.datetime | None,
    valid_until: dt.datetime | None,
) -> AnnouncementRecord:
    """Post an announcement (operator); it shows from `valid_from` (now by default)."""
    if not may_post_announcements(ctx.viewer):
        raise Forbidden("only the hub's operator may post announcements")
    return await announcements.post(
        ctx.engine,
        title=title,
        body=body,
        severity=severity,
        valid_from=valid_from or ctx.now,
        valid_until=valid_until,
        posted_by=ctx.viewer.subject,
        now=ctx.now,
    )


async def current_announcements(ctx: Context) -> list[AnnouncementRecord]:
    """The announcements current by the hub's clock (everyone, without a token too)."""
    if not may_read_announcements(ctx.viewer):
        raise Forbidden("you may not read announcements")
    return await announcements.current(ctx.engine, ctx.now)


async def explorer_announcements(engine: AsyncEngine, now: dt.datetime) -> list[AnnouncementRecord]:
    """The current announcements for the sandbox's explorer page (shown to anyone who opens it)."""
    if not may_read_announcements(Viewer(ViewerKind.ANONYMOUS, "-")):
        return []
    return await announcements.current(engine, now)
