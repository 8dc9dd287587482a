"""Consent receipts: what each school granted to which partner, and when."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select

from datasources.store.pagination import PageArgs, partitioned_page, split_pages
from datasources.store.records import ConsentRecord, Page
from datasources.store.scoping import public_id, visible_schools
from datasources.store.tables import CONSENTS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from auth.policy import Scope
    from datasources.store.reader import AnyRow, Reader


def consent_record(scope: Scope, row: AnyRow) -> ConsentRecord:
    """A consent receipt from a row of the receipt columns (id, school, partner, categories, granted_by,
    granted_at, revoked_at, policy_version)."""
    return ConsentRecord(
        row[0],
        public_id(scope, "ConsentReceipt", row[0]),
        row[1],
        row[2],
        categories=tuple(row[3]),
        granted_by=row[4],
        granted_at=row[5],
        revoked_at=row[6],
        policy_version=row[7],
    )


def _consents(scope: Scope) -> Select[Any]:
    c = CONSENTS.c
    statement = select(
        c.id,
        c.school_id,
        c.partner_id,
        c.categories,
        c.granted_by,
        c.granted_at,
        c.revoked_at,
        c.policy_version,
    ).where(visible_schools(scope, c.school_id))
    if scope.partner_id is not None:
        # A partner reads the receipts of its own consents only.
        statement = statement.where(c.partner_id == scope.partner_id)
    return statement


async def consents_by_school(
    reader: Reader, scope: Scope, school_ids: Sequence[int], args: PageArgs
) -> dict[int, Page[ConsentRecord]]:
    """One page of each school's consent receipts, oldest first."""
    statement = _consents(scope).where(CONSENTS.c.school_id.in_(school_ids))
    rows = await reader.rows(partitioned_page(statement, CONSENTS.c.school_id, CONSENTS.c.id, args))
    return split_pages(((row[1], row[0], consent_record(scope, row)) for row in rows), school_ids, args)
