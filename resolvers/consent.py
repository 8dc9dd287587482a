"""The consent lifecycle: partners request, a school's coordinator grants or revokes, the operator records
the board's DPA. Every check of who may do what is made here, before any write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.permissions import (
    may_manage_consent,
    may_manage_consent_at,
    may_read_consent_history,
    may_record_dpa,
    may_request_consent,
)
from auth.policy import NotAuthorised, grantable
from datasources.access import consent_lifecycle
from datasources.access.accounts import school_id_by_code
from datasources.access.viewer_facts import categories as stored_categories
from datasources.graph.consents import consent_history
from datasources.store.scoping import internal_id
from errors import BadUserInput, Forbidden, NotFound

if TYPE_CHECKING:
    from collections.abc import Sequence

    from auth.categories import DataCategory
    from datasources.store.records import (
        BoardRecord,
        ConsentRecord,
        ConsentRequestRecord,
        DisclosureRecord,
        Page,
        PartnerRecord,
        SchoolRecord,
    )
    from resolvers.context import Context

MAX_PURPOSE_LENGTH = 1000


async def _managed_school(ctx: Context, school_code: str) -> int:
    """The id of a school the viewer (a coordinator) manages; FORBIDDEN otherwise."""
    if not may_manage_consent(ctx.viewer):
        raise Forbidden("only the school's ICT coordinator may change its consent")
    school_id = await school_id_by_code(ctx.engine, school_code)
    if school_id is None or not may_manage_consent_at(ctx.viewer, ctx.scope, school_id):
        raise Forbidden(f"you do not coordinate school {school_code}")
    return school_id


async def _partner(ctx: Context, partner_shown_id: str) -> PartnerRecord:
    partner_id = internal_id(ctx.scope, "Partner", partner_shown_id)
    partner = await ctx.loaders.partners.get(partner_id) if partner_id is not None else None
    if partner is None:
        raise NotFound("no partner with this id")
    return partner


async def grant(
    ctx: Context, school_code: str, partner_shown_id: str, categories: Sequence[DataCategory]
) -> ConsentRecord:
    """Set exactly these categories for the partner at the school (a shorter list narrows)."""
    school_id = await _managed_school(ctx, school_code)
    partner = await _partner(ctx, partner_shown_id)
    if not categories:
        raise BadUserInput("grant at least one category, or revoke the consent")
    try:
        granted = grantable(stored_categories(partner.declared_categories), categories)
    except NotAuthorised as refusal:
        raise BadUserInput(f"{refusal}: a school can only grant what the partner declared") from None
    return await consent_lifecycle.grant(
        ctx.engine,
        ctx.scope,
        school_id=school_id,
        partner_id=partner.id,
        categories=granted,
        now=ctx.now,
        require_dpa=ctx.settings.dpa_required,
    )


async def revoke(ctx: Context, school_code: str, partner_shown_id: str) -> ConsentRecord:
    """End the partner's consent at the school."""
    school_id = await _managed_school(ctx, school_code)
    partner = await _partner(ctx, partner_shown_id)
    return await consent_lifecycle.revoke(
        ctx.engine,
        ctx.scope,
        school_id=school_id,
        partner_id=partner.id,
        now=ctx.now,
        require_dpa=ctx.settings.dpa_required,
    )


async def decline(ctx: Context, request_shown_id: str) -> ConsentRequestRecord:
    """Say no to a pending consent request (the school's coordinator)."""
    if not may_manage_consent(ctx.viewer):
        raise Forbidden("only the school's ICT coordinator may decide on its consent requests")
    request_id = internal_id(ctx.scope, "ConsentRequest", request_shown_id)
    school_id = None if request_id is None else await consent_lifecycle.request_school(ctx.engine, request_id)
    # Another school's request is as unknown as one that does not exist: its id reveals nothing.
    if request_id is None or school_id is None or not may_manage_consent_at(ctx.viewer, ctx.scope, school_id):
        raise NotFound("no consent request with this id")
    return await consent_lifecycle.decline(ctx.engine, ctx.scope, request_id=request_id, now=ctx.now)


async def request(
    ctx: Context, school_code: str, categories: Sequence[DataCategory], purpose: str
) -> ConsentRequestRecord:
    """A partner asks a school for consent to categories it declared."""
    if not may_request_consent(ctx.viewer) or ctx.scope.partner_id is None:
        raise Forbidden("only a partner may request consent")
    partner = await ctx.loaders.partners.get(ctx.scope.partner_id)
    if partner is None:
        raise Forbidden("the partner is not registered")
    if not purpose.strip() or len(purpose) > MAX_PURPOSE_LENGTH:
        raise BadUserInput(f"describe the purpose in 1 to {MAX_PURPOSE_LENGTH} characters")
    try:
        asked = grantable(stored_categories(partner.declared_categories), categories)
    except NotAuthorised as refusal:
        raise BadUserInput(f"{refusal}: declare a category before asking for it") from None
    school_id = await school_id_by_code(ctx.engine, school_code)
    if school_id is None:
        raise NotFound(f"no school with code {school_code}")
    return await consent_lifecycle.request(
        ctx.engine,
        ctx.scope,
        school_id=school_id,
        partner_id=partner.id,
        categories=asked,
        purpose=purpose.strip(),
        now=ctx.now,
    )


async def record_dpa(
    ctx: Context, board_number: str, signed_by: str, chamber_of_commerce_number: str, version: str
) -> BoardRecord:
    """The operator records a board's signed DPA (the signing flow itself comes later)."""
    if not may_record_dpa(ctx.viewer):
        raise Forbidden("only the hub's operator records DPA signatures")
    if not (signed_by.strip() and chamber_of_commerce_number.strip() and version.strip()):
        raise BadUserInput("name who signed, the Chamber of Commerce number and the agreement's version")
    board_id = await consent_lifecycle.record_dpa_signature(
        ctx.engine,
        board_number=board_number.strip(),
        signed_by=signed_by.strip(),
        chamber_of_commerce_number=chamber_of_commerce_number.strip(),
        version=version.strip(),
        now=ctx.now,
        require_dpa=ctx.settings.dpa_required,
    )
    return await _board(ctx, board_id, board_number)


async def withdraw_dpa(ctx: Context, board_number: str) -> BoardRecord:
    """The operator records that a board's DPA was withdrawn: its schools disclose nothing from now on."""
    if not may_record_dpa(ctx.viewer):
        raise Forbidden("only the hub's operator records DPA signatures and withdrawals")
    board_id = await consent_lifecycle.withdraw_dpa_signature(
        ctx.engine, board_number=board_number.strip(), now=ctx.now, require_dpa=ctx.settings.dpa_required
    )
    return await _board(ctx, board_id, board_number)


async def _board(ctx: Context, board_id: int, board_number: str) -> BoardRecord:
    board = await ctx.loaders.boards.get(board_id)
    if board is None:
        raise NotFound(f"no board with number {board_number}")
    return board


async def requests_of_school(
    ctx: Context, school: SchoolRecord, first: int | None, after: str | None
) -> Page[ConsentRequestRecord]:
    """The school's pending consent requests (its coordinators and the operator only)."""
    return await ctx.loaders.consent_requests_by_school.page(school.id, ctx.page_args(first, after))


async def disclosures_of_school(
    ctx: Context, school: SchoolRecord, first: int | None, after: str | None
) -> Page[DisclosureRecord]:
    """The school's disclosure audit (its coordinators and the operator only)."""
    return await ctx.loaders.disclosures_by_school.page(school.id, ctx.page_args(first, after))


async def history(ctx: Context, first: int | None, after: str | None) -> Page[ConsentRecord]:
    """The asking partner's own consent receipts, revocations included, also of schools it lost."""
    if not may_read_consent_history(ctx.viewer) or ctx.scope.partner_id is None:
        raise Forbidden("only a partner reads its consent history (its own)")
    return await consent_history(ctx.reader, ctx.scope, ctx.page_args(first, after))
