"""Partners, their products, schools' licenses, and consent receipts."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from datasources.store.records import LicenseRecord, PartnerRecord, ProductRecord
from resolvers import licenses, partners
from schema.classification import data, public, resolves_data, resolves_public
from schema.context import Info
from schema.entities import lookup
from schema.enums import DataCategory, PartnerKind
from schema.groups import Group
from schema.relay import Node, to_global_id

if TYPE_CHECKING:
    from schema.schools import School

_School = Annotated["School", strawberry.lazy("schema.schools")]
LICENSE = DataCategory.LICENSE


async def school_of(info: Info, school_id: int) -> _School | None:
    from schema.schools import School  # noqa: PLC0415 - schools and licenses refer to each other

    record = await partners.school_by_id(info.context, school_id)
    return None if record is None else School.from_record(record)


@strawberry.federation.type(
    keys=["id"], description="A publisher (uitgeverij) or network provider (netwerkaanbieder)."
)
class Partner(Node):
    """A partner that reads data under the schools' consent."""

    record: strawberry.Private[PartnerRecord]
    name: str = public("The partner's name.")
    kind: PartnerKind = public("Publisher or network provider.")
    declared_categories: list[DataCategory] = public("The data categories the partner declared it needs.")
    eck_chain: bool = public("Whether the partner is a member of the ECK chain (and may receive ECK-iDs).")

    @classmethod
    def from_record(cls, record: PartnerRecord) -> Partner:
        """The GraphQL object of a partner record."""
        return cls(
            record=record,
            id=to_global_id("Partner", record.public_id),
            name=record.name,
            kind=PartnerKind(record.kind),
            declared_categories=[DataCategory[name] for name in record.declared_categories],
            eck_chain=record.eck_chain,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, representation: dict[str, Any]) -> Partner | None:
        """Federation: a partner by its global id, within the viewer's scope."""
        record = await lookup(info, "Partner", representation.get("id"))
        return None if record is None else cls.from_record(record)


@strawberry.federation.type(
    keys=["id"], description="A partner's product (method, application) that schools license."
)
class Product(Node):
    """A product."""

    record: strawberry.Private[ProductRecord]
    name: str = public("The product's name.")
    allowed_at_home: bool = public(
        "Whether students may open the product from home (where the school enabled it)."
    )
    launch_url: str | None = public(
        "The https:// address where a user opens the product; null for products created before it was asked."
    )

    @classmethod
    def from_record(cls, record: ProductRecord) -> Product:
        """The GraphQL object of a product record."""
        return cls(
            record=record,
            id=to_global_id("Product", record.public_id),
            name=record.name,
            allowed_at_home=record.allowed_at_home,
            launch_url=record.launch_url,
        )

    @resolves_public("The partner that offers the product.")
    async def partner(self, info: Info) -> Partner | None:
        record = await partners.partner_of_product(info.context, self.record)
        return None if record is None else Partner.from_record(record)

    @classmethod
    async def resolve_reference(cls, info: Info, representation: dict[str, Any]) -> Product | None:
        """Federation: a product by its global id, within the viewer's scope."""
        record = await lookup(info, "Product", representation.get("id"))
        return None if record is None else cls.from_record(record)


@strawberry.federation.type(keys=["id"], description="A school's license of a product, coupled to groups.")
class License(Node):
    """A license."""

    record: strawberry.Private[LicenseRecord]
    seats: int | None = data(LICENSE, "The number of seats, when the license counts them.")
    valid_from: dt.date | None = data(LICENSE, "The first day the license is valid.")
    valid_until: dt.date | None = data(LICENSE, "The last day the license is valid; null when open-ended.")

    @classmethod
    def from_record(cls, record: LicenseRecord) -> License:
        """The GraphQL object of a license record."""
        return cls(
            record=record,
            id=to_global_id("License", record.public_id),
            seats=record.seats,
            valid_from=record.valid_from,
            valid_until=record.valid_until,
        )

    @resolves_data(LICENSE, "The licensed product.")
    async def product(self, info: Info) -> Product | None:
        record = await partners.product_of_license(info.context, self.record)
        return None if record is None else Product.from_record(record)

    @resolves_data(LICENSE, "The school that holds the license.")
    async def school(self, info: Info) -> _School | None:
        return await school_of(info, self.record.school_id)

    @resolves_data(LICENSE, "The groups the license is coupled to; only their members see the product.")
    async def coupled_groups(self, info: Info) -> list[Group] | None:
        return [
            Group.from_record(group) for group in await partners.coupled_groups(info.context, self.record)
        ]

    @resolves_data(
        LICENSE,
        "The year levels (jaargroep) the license is coupled to by rule: every main group of these levels of"
        " the current and coming school years is among `coupledGroups`, also after imports and the school"
        " year's start.",
    )
    async def coupled_year_levels(self, info: Info) -> list[str] | None:
        return await licenses.year_levels_of_license(info.context, self.record)

    @resolves_public(
        "The seats the couplings take: the distinct students of the coupled groups in the current or a"
        " coming school year, whichever has more, as the seats are enforced (the school's coordinators,"
        " its board coordinator and the operator only; null for others)."
    )
    async def seats_used(self, info: Info) -> int | None:
        return await licenses.seats_used(info.context, self.record)

    @classmethod
    async def resolve_reference(cls, info: Info, representation: dict[str, Any]) -> License | None:
        """Federation: a license by its global id, within the viewer's scope."""
        record = await lookup(info, "License", representation.get("id"))
        return None if record is None else cls.from_record(record)
