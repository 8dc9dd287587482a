"""The start-of-year readiness check (startcheck) of a school, as its coordinators read it on /beheer."""

from __future__ import annotations

import enum

import strawberry

from resolvers.readiness import ReadinessCheck as ReadinessCheckRecord
from schema.classification import public


@strawberry.enum(description="How a readiness check came out.")
class ReadinessStatus(enum.Enum):
    """The outcome of one check."""

    OK = strawberry.enum_value("OK", description="All is well.")
    WARNING = strawberry.enum_value(
        "WARNING", description="Needs attention soon, but nothing is broken yet (such as a request waiting)."
    )
    PROBLEM = strawberry.enum_value(
        "PROBLEM", description="Something is wrong that keeps people or partners from working: fix it."
    )


@strawberry.enum(description="Which check of the start-of-year list (the codes stay stable).")
class ReadinessCode(enum.Enum):
    """The checks of the readiness list."""

    GROUPS_NEXT_YEAR = strawberry.enum_value(
        "GROUPS_NEXT_YEAR",
        description="Next school year's groups were imported before its first day (or this year's are in).",
    )
    STUDENTS_MOVED = strawberry.enum_value(
        "STUDENTS_MOVED",
        description="Every student is in a group of the current school year, and the leavers are gone.",
    )
    GROUP_TEACHERS = strawberry.enum_value(
        "GROUP_TEACHERS", description="Every current group has a teacher (or a substitute in force)."
    )
    TEACHER_EMAILS = strawberry.enum_value(
        "TEACHER_EMAILS", description="Every teacher has a school e-mail address of their own."
    )
    TEACHERS_ACTIVATED = strawberry.enum_value(
        "TEACHERS_ACTIVATED",
        description="Every teacher activated the account (WARNING while an activation mail is on its way).",
    )
    LOCATION_OFFICIAL = strawberry.enum_value(
        "LOCATION_OFFICIAL",
        description="The BRIN and location are DUO's (or a managed location) and the location is open.",
    )
    ACTIVE_COORDINATOR = strawberry.enum_value(
        "ACTIVE_COORDINATOR", description="The school has at least one active ICT coordinator."
    )
    LICENSES_COUPLED = strawberry.enum_value(
        "LICENSES_COUPLED",
        description="Every valid license is coupled to a group of the current school year.",
    )
    CONSENT_REQUESTS = strawberry.enum_value(
        "CONSENT_REQUESTS",
        description="No partner's consent request is waiting (WARNING; PROBLEM after 14 days).",
    )
    DPA_SIGNED = strawberry.enum_value(
        "DPA_SIGNED", description="The school's board signed the data processing agreement."
    )
    LAS_COUPLING = strawberry.enum_value(
        "LAS_COUPLING", description="The coupling with the school administration system is not suspended."
    )


@strawberry.type(
    description="One check of a school's start-of-year readiness list, with a message in Dutch for people."
)
class ReadinessCheck:
    """A readiness check's outcome."""

    code: ReadinessCode = public("Which check this is.")
    status: ReadinessStatus = public("OK, WARNING or PROBLEM.")
    title: str = public("What the check is about, in Dutch (such as 'Elke groep heeft een leerkracht').")
    message: str = public(
        "What was found and where to fix it, in Dutch; it may name groups, staff members and products."
    )

    @classmethod
    def from_record(cls, record: ReadinessCheckRecord) -> ReadinessCheck:
        """The GraphQL object of a check."""
        return cls(
            code=ReadinessCode[record.code],
            status=ReadinessStatus[record.status],
            title=record.title,
            message=record.message,
        )
