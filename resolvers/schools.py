"""Root reads of boards and schools, and the relations hanging off them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.permissions import may_list_boards, may_read_coupling_state
from datasources.graph import people, school_years, schools
from datasources.graph.disclosures import tally
from datasources.store.calendar import is_school_year
from errors import BadUserInput, Forbidden

if TYPE_CHECKING:
    import datetime as dt

    from datasources.graph.people import StudentIdentity
    from datasources.store.reader import AnyRow
    from datasources.store.records import (
        BoardRecord,
        ConsentRecord,
        GroupRecord,
        LicenseRecord,
        Page,
        SchoolRecord,
        StaffRecord,
        StudentRecord,
    )
    from resolvers.context import Context


async def schools_page(ctx: Context, first: int | None, after: str | None) -> Page[SchoolRecord]:
    """The schools the viewer may see, one page."""
    page = await schools.schools_page(ctx.reader, ctx.scope, ctx.page_args(first, after))
    tally(ctx.reader, ctx.scope, (school for _, school in page.items))
    return page


async def school_by_code(ctx: Context, code: str) -> SchoolRecord | None:
    """One visible school by its code (BRIN + location code); None when it is not visible."""
    return await ctx.loaders.schools_by_code.get(school_code(code))


def school_code(code: str) -> str:
    """A school code as the store keeps it (upper case, no spaces); BAD_USER_INPUT when it is not one."""
    normalised = code.strip().upper()
    if len(normalised) != 6 or not normalised.isalnum():
        raise BadUserInput("a school code is a BRIN and a location code, six characters such as 16AH00")
    return normalised


async def boards_page(
    ctx: Context, first: int | None, after: str | None, *, dpa_signed: bool | None = None
) -> Page[BoardRecord]:
    """All boards (or those with or without a signed DPA), one page; the hub's operator only."""
    if not may_list_boards(ctx.viewer):
        raise Forbidden("only the hub's operator may list boards")
    return await schools.boards_page(
        ctx.reader, ctx.scope, ctx.page_args(first, after), dpa_signed=dpa_signed
    )


async def board_of(ctx: Context, school: SchoolRecord) -> BoardRecord | None:
    """The school's board."""
    return await ctx.loaders.boards.get(school.board_id)


async def merged_into(ctx: Context, school: SchoolRecord) -> SchoolRecord | None:
    """The school this one was merged into, when visible."""
    if school.merged_into_id is None:
        return None
    return await ctx.loaders.schools.get(school.merged_into_id)


async def schools_of_board(
    ctx: Context, board: BoardRecord, first: int | None, after: str | None
) -> Page[SchoolRecord]:
    """A page of the board's visible schools."""
    return await ctx.loaders.schools_by_board.page(board.id, ctx.page_args(first, after))


async def groups_of_school(
    ctx: Context, school: SchoolRecord, school_year: str | None, first: int | None, after: str | None
) -> Page[GroupRecord]:
    """A page of the school's groups of a school year (by default the current one)."""
    if school_year is not None and not is_school_year(school_year):
        raise BadUserInput("a school year is written as two consecutive years, such as 2026-2027")
    return await ctx.loaders.groups_by_school.page(school.id, ctx.page_args(first, after), school_year)


async def school_year_warning(ctx: Context, school: SchoolRecord) -> str | None:
    """The school-year warning of a school (its coordinators and the operator only; None for others)."""
    if not ctx.scope.manages(school.id):
        return None
    return await school_years.school_year_warning(ctx.reader, school.id, ctx.today)


async def received_files(ctx: Context, school: SchoolRecord) -> list[tuple[str, dt.datetime]]:
    """The school years a file came for and when (its coordinators and the operator; empty for others)."""
    if not ctx.scope.manages(school.id):
        return []
    return await school_years.received_files(ctx.reader, school.id)


async def las_coupling_suspended(ctx: Context, school: SchoolRecord) -> bool | None:
    """Whether the school's LAS coupling is suspended (its coordinators and the operator; None for others):
    the coordinator's choice, or a merger or split until the operator finishes it. Read with the
    readiness facts, so a board's schools cost one statement, not one each."""
    if not may_read_coupling_state(ctx.viewer, ctx.scope, school.id):
        return None
    facts = await ctx.loaders.readiness_by_school.get(school.id)
    return None if facts is None else facts.las_coupling_suspended


async def students_of_school(
    ctx: Context, school: SchoolRecord, first: int | None, after: str | None
) -> Page[StudentRecord]:
    """A page of the school's students."""
    return await ctx.loaders.students_by_school.page(school.id, ctx.page_args(first, after))


async def student_rows_of_school(
    ctx: Context, school: SchoolRecord, first: int | None, after: str | None
) -> Page[AnyRow]:
    """A page of the school's students as rows (`datasources.graph.people.student_rows_by_school`)."""
    return await ctx.loaders.student_rows_by_school.page(school.id, ctx.page_args(first, after))


def student_identity(ctx: Context) -> StudentIdentity:
    """What a student's record derives from its row, for this request's scope."""
    return people.student_identity(ctx.scope)


async def staff_of_school(
    ctx: Context, school: SchoolRecord, first: int | None, after: str | None
) -> Page[StaffRecord]:
    """A page of the school's staff."""
    return await ctx.loaders.staff_by_school.page(school.id, ctx.page_args(first, after))


async def licenses_of_school(
    ctx: Context, school: SchoolRecord, first: int | None, after: str | None
) -> Page[LicenseRecord]:
    """A page of the school's licenses (a partner sees its own products' licenses only)."""
    return await ctx.loaders.licenses_by_school.page(school.id, ctx.page_args(first, after))


async def consents_of_school(
    ctx: Context, school: SchoolRecord, first: int | None, after: str | None
) -> Page[ConsentRecord]:
    """A page of the school's consent receipts."""
    return await ctx.loaders.consents_by_school.page(school.id, ctx.page_args(first, after))
