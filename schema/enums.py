"""Enumerations of the graph that mirror the policy's own (so the SDL and the policy cannot drift)."""

from __future__ import annotations

import enum

import strawberry

from auth.categories import DataCategory

# The policy's own enum, registered as the GraphQL enum: annotate fields with this `DataCategory`.
strawberry.enum(
    DataCategory,
    name="DataCategory",
    description="A data category: the unit of consent that a partner declares and a school grants.",
)


@strawberry.enum(description="What kind of partner reads data through the hub.")
class PartnerKind(enum.Enum):
    """A partner's kind."""

    PUBLISHER = "PUBLISHER"
    NETWORK_PROVIDER = "NETWORK_PROVIDER"


@strawberry.enum(
    description=(
        "A staff member's role in the hub. TEACHER comes from the LAS; the others only from a coordinator."
    )
)
class StaffRole(enum.Enum):
    """A hub role of a staff member."""

    TEACHER = "TEACHER"
    ICT_COORDINATOR = "ICT_COORDINATOR"
    INTERNAL_SUPERVISOR = "INTERNAL_SUPERVISOR"
    REMEDIAL_TEACHER = "REMEDIAL_TEACHER"
    INTERN = "INTERN"
    SUBSTITUTE = "SUBSTITUTE"
    SUPPORT_STAFF = "SUPPORT_STAFF"


@strawberry.enum(description="Who is asking.")
class ViewerKindEnum(enum.Enum):
    """The kind of the authenticated subject."""

    OPERATOR = "operator"
    PARTNER = "partner"
    LAS = "las"
    STAFF = "staff"
    STUDENT = "student"
    ANONYMOUS = "anonymous"


__all__ = ["DataCategory", "PartnerKind", "StaffRole", "ViewerKindEnum"]
