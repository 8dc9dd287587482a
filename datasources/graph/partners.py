"""Partners (publishers and network providers) and their products."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, false, select, true

from datasources.store.pagination import PageArgs, keyset_page, single_page
from datasources.store.records import Page, PartnerRecord, ProductRecord
from datasources.store.scoping import public_id
from datasources.store.tables import PARTNERS, PRODUCTS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from auth.policy import Scope
    from datasources.store.reader import AnyRow, Reader


def _visible(scope: Scope, partner_id: Any) -> Any:
    # The operator sees every partner; a partner sees itself; other viewers see partners only through
    # the licenses and consents of their schools (later issues), not as a list.
    if scope.is_unrestricted:
        return true()
    if scope.partner_id is not None:
        return partner_id == scope.partner_id
    return false()


def _partner(scope: Scope, row: AnyRow) -> PartnerRecord:
    return PartnerRecord(
        row[0],
        public_id(scope, "Partner", row[0]),
        row[1],
        row[2],
        declared_categories=tuple(row[3]),
        eck_chain=row[4],
    )


def _partners(scope: Scope) -> Select[Any]:
    p = PARTNERS.c
    return select(p.id, p.name, p.kind, p.declared_categories, p.eck_chain).where(_visible(scope, p.id))


async def partners_page(reader: Reader, scope: Scope, args: PageArgs) -> Page[PartnerRecord]:
    """A page of the partners the viewer may list."""
    rows = await reader.rows(keyset_page(_partners(scope), PARTNERS.c.id, args))
    return single_page(((row[0], _partner(scope, row)) for row in rows), args)


async def partners_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, PartnerRecord]:
    """Partners by id. The partner directory (name, kind, declared categories) is no school's data, so a
    lookup by an id the viewer was shown is answered for any viewer; only the operator may list it."""
    p = PARTNERS.c
    rows = await reader.rows(
        select(p.id, p.name, p.kind, p.declared_categories, p.eck_chain).where(p.id.in_(ids))
    )
    return {row[0]: _partner(scope, row) for row in rows}


async def products_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, ProductRecord]:
    """Products by id, as referenced from a license the viewer already sees."""
    p = PRODUCTS.c
    rows = await reader.rows(select(p.id, p.partner_id, p.name, p.allowed_at_home).where(p.id.in_(ids)))
    return {row[0]: ProductRecord(row[0], public_id(scope, "Product", row[0]), *row[1:4]) for row in rows}
