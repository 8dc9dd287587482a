"""The helpdesk's (operator's) work through the graph: announcements, board coordinators, school accounts
opened on a signed request, managed locations. Every check of who may do it is made here, before any
write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.permissions import (
    may_add_board_coordinators,
    may_manage_locations,
    may_open_school_accounts,
    may_post_announcements,
    may_read_announcements,
    may_read_board,
)
from auth.viewer import Viewer, ViewerKind
from datasources.access import account_requests, announcements, board_coordinators
from datasources.access.board_coordinators import UNUSABLE_HASH
from datasources.registry import locations
from errors import Forbidden, NotFound

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.access.account_requests import RecordedRequest, SignedRequest
    from datasources.access.announcements import AnnouncementRecord
    from datasources.store.records import BoardRecord, SchoolRecord
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


async def add_board_coordinator(
    ctx: Context, board_number: str, email: str, school_codes: Sequence[str] | None
) -> BoardRecord:
    """Make an account the board coordinator of a board's schools, all or chosen (operator)."""
    if not may_add_board_coordinators(ctx.viewer):
        raise Forbidden("only the hub's operator may make board coordinators")
    await board_coordinators.add_board_coordinator(
        ctx.engine,
        board_number=board_number,
        email=email,
        school_codes=school_codes,
        created_by=ctx.viewer.subject,
        now=ctx.now,
    )
    board_id = await board_coordinators.board_id_by_number(ctx.engine, board_number)
    board = None if board_id is None else await ctx.loaders.boards.get(board_id)
    if board is None:
        raise NotFound(f"no board with number {board_number}")
    return board


async def board_overview(ctx: Context, number: str) -> BoardRecord | None:
    """A board by its number, for its overview: the operator's, or a board coordinator's own board (with
    only the schools it manages); null for anyone else and for unknown numbers."""
    board_id = await board_coordinators.board_id_by_number(ctx.engine, number)
    if board_id is None or not may_read_board(ctx.viewer, ctx.scope, board_id):
        return None
    return await ctx.loaders.boards.get(board_id)


async def create_school_account(ctx: Context, request: SignedRequest) -> RecordedRequest:
    """Open a school account and its first coordinator on the board's signed request, recorded with it
    (operator). The coordinator's account has no password until its holder sets one."""
    if not may_open_school_accounts(ctx.viewer):
        raise Forbidden("only the hub's operator may open school accounts")
    return await account_requests.open_school_account(
        ctx.engine, request, password_hash=UNUSABLE_HASH, recorded_by=ctx.viewer.subject, now=ctx.now
    )


async def rename_location(ctx: Context, code: str, name: str) -> SchoolRecord:
    """Rename a managed location (operator)."""
    if not may_manage_locations(ctx.viewer):
        raise Forbidden("only the hub's operator may change locations")
    renamed = await locations.rename_managed_location(ctx.engine, code=code, name=name)
    return await _school(ctx, renamed.school_id)


async def end_location(ctx: Context, code: str) -> SchoolRecord:
    """End a managed location (operator)."""
    if not may_manage_locations(ctx.viewer):
        raise Forbidden("only the hub's operator may change locations")
    ended = await locations.end_managed_location(ctx.engine, code=code)
    return await _school(ctx, ended.school_id)


async def _school(ctx: Context, school_id: int) -> SchoolRecord:
    school = await ctx.loaders.schools.get(school_id)
    if school is None:
        raise NotFound("no school with this code")
    return school
