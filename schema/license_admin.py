"""The mutations of products and licenses: a publisher's products and licenses, and couplings to groups.

Kept apart from the root `Mutation` of `schema.mutations` and joined with it in `schema.assembly`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from errors import BadUserInput
from resolvers import licenses
from schema.classification import resolves_public
from schema.context import Info
from schema.licenses import License, Product
from schema.relay import from_global_id

_SchoolCode = Annotated[str, strawberry.argument(description="BRIN plus location code, such as 16AH00.")]
_LicenseId = Annotated[strawberry.ID, strawberry.argument(description="The license, as `License.id`.")]
_Seats = Annotated[
    int | None,
    strawberry.argument(
        description="How many students the license's couplings may reach (at least 1); null: not counted."
    ),
]
_ValidFrom = Annotated[dt.date, strawberry.argument(description="The first day the license is valid.")]
_ValidUntil = Annotated[
    dt.date | None,
    strawberry.argument(
        description="The last day the license is valid (not before `validFrom`); null: open-ended."
    ),
]
_GroupIds = Annotated[
    list[strawberry.ID] | None,
    strawberry.argument(
        description="Groups (`Group.id`) of the license's school, of the current or a coming school year,"
        " coupled by hand: the coupling follows the group into the next school year."
    ),
]
_YearLevels = Annotated[
    list[str] | None,
    strawberry.argument(
        description="Year levels (jaargroep) as EDEXML codes ('1'-'8', ...): a rule that couples every main"
        " group of the level, in the current and coming school years, again after every import and at each"
        " school year's start."
    ),
]
_UncoupleGroupIds = Annotated[
    list[strawberry.ID] | None,
    strawberry.argument(
        description="Groups (`Group.id`) coupled by hand to uncouple; a group a year-level rule coupled is"
        " refused (uncouple its year level). With `yearLevels` omitted too: every coupling and rule."
    ),
]
_UncoupleYearLevels = Annotated[
    list[str] | None,
    strawberry.argument(
        description="Year levels whose rule to drop, with the couplings it made in the current and coming"
        " school years (those of ended years stay as history)."
    ),
]


def _shown(global_ids: list[strawberry.ID] | None, type_name: str, argument: str) -> list[str] | None:
    if global_ids is None:
        return None
    return [_one(global_id, type_name, argument) for global_id in global_ids]


def _one(global_id: str, type_name: str, argument: str) -> str:
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        raise BadUserInput(f"`{argument}` must be {type_name} ids this API returned")
    return decoded[1]


@strawberry.type(description="Products and licenses.")
class LicenseMutation:
    """A publisher's products and licenses, and couplings of licenses to groups."""

    @resolves_public(
        "Add a product of yours (publisher). Refused (FORBIDDEN) for every other viewer, network providers"
        " included."
    )
    async def create_product(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="The product's name (1 to 200 characters).")],
        allowed_at_home: Annotated[
            bool, strawberry.argument(description="Whether students may open the product from home.")
        ],
        launch_url: Annotated[
            str, strawberry.argument(description="The https:// address where a user opens the product.")
        ],
    ) -> Product:
        record = await licenses.create_product(
            info.context, name=name, allowed_at_home=allowed_at_home, launch_url=launch_url
        )
        return Product.from_record(record)

    @resolves_public(
        "License one of your products to a school (publisher); the school must have granted you LICENSE"
        " consent (FORBIDDEN otherwise, as for another publisher's product). Coupled to no group yet."
    )
    async def create_license(  # noqa: PLR0917 - GraphQL arguments, passed by name
        self,
        info: Info,
        school_code: _SchoolCode,
        product_id: Annotated[
            strawberry.ID, strawberry.argument(description="One of your products, as `Product.id`.")
        ],
        valid_from: _ValidFrom,
        seats: _Seats = None,
        valid_until: _ValidUntil = None,
    ) -> License:
        record = await licenses.create_license(
            info.context,
            school_code=school_code,
            shown_product_id=_one(product_id, "Product", "productId"),
            seats=seats,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        return License.from_record(record)

    @resolves_public(
        "Set new terms for one of your licenses (publisher). Fewer seats than its coupled groups' students"
        " is refused (BAD_USER_INPUT, `extensions.reason` NOT_ENOUGH_SEATS), nothing changed. A license"
        " that is not yours answers NOT_FOUND."
    )
    async def update_license(
        self,
        info: Info,
        license_id: _LicenseId,
        valid_from: _ValidFrom,
        seats: _Seats = None,
        valid_until: _ValidUntil = None,
    ) -> License:
        record = await licenses.update_license(
            info.context,
            _one(license_id, "License", "licenseId"),
            seats=seats,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        return License.from_record(record)

    @resolves_public(
        "End one of your licenses (publisher): its last day becomes yesterday, so from today nobody opens"
        " the product through it; its couplings stay as the record. A license that is not yours answers"
        " NOT_FOUND."
    )
    async def end_license(self, info: Info, license_id: _LicenseId) -> License:
        record = await licenses.end_license(info.context, _one(license_id, "License", "licenseId"))
        return License.from_record(record)

    @resolves_public(
        "Couple a license to groups and year levels: its publisher, or the school's coordinator by hand."
        " More students in the coupled groups than the license's seats is refused (BAD_USER_INPUT,"
        " `extensions.reason` NOT_ENOUGH_SEATS), nothing changed. A license you may not couple answers"
        " NOT_FOUND."
    )
    async def couple_license(
        self,
        info: Info,
        license_id: _LicenseId,
        group_ids: _GroupIds = None,
        year_levels: _YearLevels = None,
    ) -> License:
        record = await licenses.couple_license(
            info.context,
            _one(license_id, "License", "licenseId"),
            shown_group_ids=_shown(group_ids, "Group", "groupIds"),
            year_levels=year_levels,
        )
        return License.from_record(record)

    @resolves_public(
        "Uncouple a license from groups and year levels: its publisher, or the school's coordinator. A"
        " license you may not uncouple answers NOT_FOUND."
    )
    async def uncouple_license(
        self,
        info: Info,
        license_id: _LicenseId,
        group_ids: _UncoupleGroupIds = None,
        year_levels: _UncoupleYearLevels = None,
    ) -> License:
        record = await licenses.uncouple_license(
            info.context,
            _one(license_id, "License", "licenseId"),
            shown_group_ids=_shown(group_ids, "Group", "groupIds"),
            year_levels=year_levels,
        )
        return License.from_record(record)
