"""Partners (publishers and network providers) and their products."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, false, select, true, union

from datasources.store.columns import Columns
from datasources.store.pagination import PageArgs, keyset_page, single_page
from datasources.store.records import Page, PartnerRecord, ProductRecord
from datasources.store.scoping import public_id
from datasources.store.tables import CONSENT_REQUESTS, CONSENTS, LICENSES, PARTNERS, PRODUCTS

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

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


PARTNER = Columns.of(PartnerRecord, computed=["public_id"])
PRODUCT = Columns.of(ProductRecord, computed=["public_id"])


def partner_columns() -> tuple[ColumnElement[Any], ...]:
    """The columns of a partner record (the partner directory, never its credentials)."""
    p = PARTNERS.c
    return PARTNER.labelled(
        id=p.id, name=p.name, kind=p.kind, declared_categories=p.declared_categories, eck_chain=p.eck_chain
    )


def product_columns() -> tuple[ColumnElement[Any], ...]:
    """The columns of a product record."""
    p = PRODUCTS.c
    return PRODUCT.labelled(
        id=p.id,
        partner_id=p.partner_id,
        name=p.name,
        allowed_at_home=p.allowed_at_home,
        launch_url=p.launch_url,
    )


def partner_record(scope: Scope, row: AnyRow) -> PartnerRecord:
    """A partner record from a row that starts with `partner_columns`."""
    return PartnerRecord(
        id=row[PARTNER.id],
        public_id=public_id(scope, "Partner", row[PARTNER.id]),
        name=row[PARTNER.name],
        kind=row[PARTNER.kind],
        declared_categories=tuple(row[PARTNER.declared_categories]),
        eck_chain=row[PARTNER.eck_chain],
    )


def product_record(scope: Scope, row: AnyRow) -> ProductRecord:
    """A product record from a row that starts with `product_columns`."""
    return ProductRecord(
        id=row[PRODUCT.id],
        public_id=public_id(scope, "Product", row[PRODUCT.id]),
        partner_id=row[PRODUCT.partner_id],
        name=row[PRODUCT.name],
        allowed_at_home=row[PRODUCT.allowed_at_home],
        launch_url=row[PRODUCT.launch_url],
    )


def _partners(scope: Scope) -> Select[Any]:
    return select(*partner_columns()).where(_visible(scope, PARTNERS.c.id))


async def partners_page(reader: Reader, scope: Scope, args: PageArgs) -> Page[PartnerRecord]:
    """A page of the partners the viewer may list."""
    rows = await reader.rows(keyset_page(_partners(scope), PARTNERS.c.id, args))
    return single_page(((row[PARTNER.id], partner_record(scope, row)) for row in rows), args)


async def partners_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, PartnerRecord]:
    """Partners by id. The partner directory (name, kind, declared categories) is no school's data, so a
    lookup by an id the viewer was shown is answered for any viewer; only the operator may list it."""
    rows = await reader.rows(select(*partner_columns()).where(PARTNERS.c.id.in_(ids)))
    return {row[PARTNER.id]: partner_record(scope, row) for row in rows}


async def products_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, ProductRecord]:
    """Products by id, as referenced from a license the viewer already sees."""
    rows = await reader.rows(select(*product_columns()).where(PRODUCTS.c.id.in_(ids)))
    return {row[PRODUCT.id]: product_record(scope, row) for row in rows}


async def partners_dealing_with(
    reader: Reader, partner_ids: Sequence[int], school_ids: Collection[int]
) -> frozenset[int]:
    """Which of `partner_ids` asked consent of, hold or held consent at, or license a product to one of
    `school_ids`: the partners a coordinator of those schools deals with (`may_look_up_partner`)."""
    if not partner_ids or not school_ids:
        return frozenset()
    schools, partners = sorted(school_ids), list(partner_ids)
    requests, consents = CONSENT_REQUESTS.c, CONSENTS.c
    asked = select(requests.partner_id).where(
        requests.school_id.in_(schools), requests.partner_id.in_(partners)
    )
    consented = select(consents.partner_id).where(
        consents.school_id.in_(schools), consents.partner_id.in_(partners)
    )
    licensed = (
        select(PRODUCTS.c.partner_id)
        .join(LICENSES, LICENSES.c.product_id == PRODUCTS.c.id)
        .where(LICENSES.c.school_id.in_(schools), PRODUCTS.c.partner_id.in_(partners))
    )
    rows = await reader.rows(union(asked, consented, licensed))
    return frozenset(row[0] for row in rows)
