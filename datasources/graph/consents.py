"""Consent receipts: what each school granted to which partner, and when."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, select

from datasources.store.columns import Columns
from datasources.store.pagination import (
    PageArgs,
    keyset_page,
    parent_pages,
    partitioned_page,
    single_page,
    split_pages,
)
from datasources.store.records import ConsentRecord, ConsentRequestRecord, Page
from datasources.store.scoping import public_id, visible_schools
from datasources.store.tables import CONSENT_REQUESTS, CONSENTS, SCHOOLS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from auth.policy import Scope
    from datasources.store.reader import AnyRow, Reader


CONSENT = Columns.of(ConsentRecord, computed=["public_id"])


def consent_columns() -> tuple[ColumnElement[Any], ...]:
    """The columns of a consent receipt (also what a grant or a revoke reads back)."""
    c = CONSENTS.c
    return CONSENT.labelled(
        id=c.id,
        school_id=c.school_id,
        partner_id=c.partner_id,
        categories=c.categories,
        granted_by=c.granted_by,
        granted_at=c.granted_at,
        revoked_at=c.revoked_at,
        revoked_by=c.revoked_by,
        policy_version=c.policy_version,
        # A scalar subquery rather than a join, so that every select of receipts stays one table's.
        school_code=select(SCHOOLS.c.code).where(SCHOOLS.c.id == c.school_id).scalar_subquery(),
    )


def consent_record(scope: Scope, row: AnyRow) -> ConsentRecord:
    """A consent receipt from a row that starts with `consent_columns`."""
    return ConsentRecord(
        id=row[CONSENT.id],
        public_id=public_id(scope, "ConsentReceipt", row[CONSENT.id]),
        school_id=row[CONSENT.school_id],
        partner_id=row[CONSENT.partner_id],
        categories=tuple(row[CONSENT.categories]),
        granted_by=row[CONSENT.granted_by],
        granted_at=row[CONSENT.granted_at],
        revoked_at=row[CONSENT.revoked_at],
        revoked_by=row[CONSENT.revoked_by],
        policy_version=row[CONSENT.policy_version],
        school_code=row[CONSENT.school_code],
    )


def _consents(scope: Scope) -> Select[Any]:
    c = CONSENTS.c
    statement = select(*consent_columns()).where(visible_schools(scope, c.school_id))
    if scope.partner_id is not None:
        # A partner reads the receipts of its own consents only.
        statement = statement.where(c.partner_id == scope.partner_id)
    return statement


async def consents_by_school(
    reader: Reader, scope: Scope, school_ids: Sequence[int], args: PageArgs
) -> dict[int, Page[ConsentRecord]]:
    """One page of each school's consent receipts, oldest first."""
    statement = _consents(scope).where(CONSENTS.c.school_id.in_(school_ids))
    rows = await reader.rows(parent_pages(statement, CONSENTS.c.school_id, CONSENTS.c.id, args, school_ids))
    return split_pages(
        ((row[CONSENT.school_id], row[CONSENT.id], consent_record(scope, row)) for row in rows),
        school_ids,
        args,
    )


async def consent_history(reader: Reader, scope: Scope, args: PageArgs) -> Page[ConsentRecord]:
    """One page of the asking partner's own receipts at every school, oldest first: superseded and revoked
    ones included, also of schools it no longer sees (what it was granted, and when and by whom it ended).
    Never another partner's: a viewer that is not a partner gets an empty page."""
    if scope.partner_id is None:
        return Page.empty()
    statement = select(*consent_columns()).where(CONSENTS.c.partner_id == scope.partner_id)
    rows = await reader.rows(keyset_page(statement, CONSENTS.c.id, args))
    return single_page(((row[CONSENT.id], consent_record(scope, row)) for row in rows), args)


#: A consent request that no coordinator has answered yet.
PENDING = "PENDING"
REQUEST = Columns.of(ConsentRequestRecord, computed=["public_id"])


def request_columns() -> tuple[ColumnElement[Any], ...]:
    """The columns of a consent request record."""
    r = CONSENT_REQUESTS.c
    return REQUEST.labelled(
        id=r.id,
        school_id=r.school_id,
        partner_id=r.partner_id,
        categories=r.categories,
        purpose=r.purpose,
        requested_at=r.requested_at,
        status=r.status,
    )


def request_record(scope: Scope, row: AnyRow) -> ConsentRequestRecord:
    """A consent request record from a row that starts with `request_columns`."""
    return ConsentRequestRecord(
        id=row[REQUEST.id],
        public_id=public_id(scope, "ConsentRequest", row[REQUEST.id]),
        school_id=row[REQUEST.school_id],
        partner_id=row[REQUEST.partner_id],
        categories=tuple(row[REQUEST.categories]),
        purpose=row[REQUEST.purpose],
        requested_at=row[REQUEST.requested_at],
        status=row[REQUEST.status],
    )


async def pending_requests_by_school(
    reader: Reader, scope: Scope, school_ids: Sequence[int], args: PageArgs
) -> dict[int, Page[ConsentRequestRecord]]:
    """One page of each managed school's pending consent requests, oldest first."""
    managed = [school for school in school_ids if scope.manages(school)]
    if not managed:
        return {}
    statement = select(*request_columns()).where(
        CONSENT_REQUESTS.c.school_id.in_(managed), CONSENT_REQUESTS.c.status == PENDING
    )
    rows = await reader.rows(
        partitioned_page(statement, CONSENT_REQUESTS.c.school_id, CONSENT_REQUESTS.c.id, args)
    )
    return split_pages(
        ((row[REQUEST.school_id], row[REQUEST.id], request_record(scope, row)) for row in rows), managed, args
    )
