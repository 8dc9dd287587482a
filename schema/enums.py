"""Enumerations of the graph that mirror the policy's own (so the SDL and the policy cannot drift)."""

from __future__ import annotations

import enum

import strawberry

from auth.categories import DataCategory

# The policy's own enum, registered as the GraphQL enum: annotate fields with this `DataCategory`.
strawberry.enum(
    DataCategory,
    name="DataCategory",
    description=(
        "A data category: the unit of consent that a partner declares and a school grants. Each value lists"
        " the fields it opens; each of those fields names its category."
    ),
)


@strawberry.enum(description="What kind of partner reads data through the hub.")
class PartnerKind(enum.Enum):
    """A partner's kind."""

    PUBLISHER = strawberry.enum_value("PUBLISHER", description="A publisher of learning material (uitgever).")
    NETWORK_PROVIDER = strawberry.enum_value(
        "NETWORK_PROVIDER",
        description="A network provider (netwerkaanbieder): runs the school's devices and network.",
    )


@strawberry.enum(
    description=(
        "A staff member's role in the hub. TEACHER comes from the LAS; the others only from a coordinator."
    )
)
class StaffRole(enum.Enum):
    """A hub role of a staff member."""

    TEACHER = strawberry.enum_value(
        "TEACHER", description="A teacher (leerkracht): every staff member the LAS delivers."
    )
    ICT_COORDINATOR = strawberry.enum_value(
        "ICT_COORDINATOR",
        description="The school's administrator in the hub (ICT-coördinator): grants and revokes consent.",
    )
    INTERNAL_SUPERVISOR = strawberry.enum_value(
        "INTERNAL_SUPERVISOR", description="An internal supervisor (intern begeleider, IB'er)."
    )
    REMEDIAL_TEACHER = strawberry.enum_value(
        "REMEDIAL_TEACHER", description="A remedial teacher (remedial teacher, RT'er)."
    )
    INTERN = strawberry.enum_value("INTERN", description="An intern (stagiaire).")
    SUBSTITUTE = strawberry.enum_value("SUBSTITUTE", description="A substitute teacher (invalkracht).")
    SUPPORT_STAFF = strawberry.enum_value(
        "SUPPORT_STAFF", description="Support staff (onderwijsondersteunend personeel)."
    )


@strawberry.enum(description="Who is asking.")
class ViewerKindEnum(enum.Enum):
    """The kind of the authenticated subject."""

    OPERATOR = strawberry.enum_value("operator", description="The hub's operator (helpdesk).")
    PARTNER = strawberry.enum_value("partner", description="A partner, with its client-credentials token.")
    LAS = strawberry.enum_value(
        "las", description="A school's student administration system (LAS) pushing its files."
    )
    STAFF = strawberry.enum_value("staff", description="A staff member signed in at a school.")
    STUDENT = strawberry.enum_value("student", description="A student signed in.")
    ANONYMOUS = strawberry.enum_value("anonymous", description="No token: only public entry points.")


__all__ = ["DataCategory", "PartnerKind", "StaffRole", "ViewerKindEnum"]
