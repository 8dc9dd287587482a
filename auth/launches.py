"""Who may open which product: the launch rule (DOMAIN.md, "Single sign-on"), as plain decisions.

A signed-in teacher or student may open (launch) a product at one of their schools only when

1. the school discloses to the product's partner: a consent in force, the school open, and (when the hub
   requires it) the board's DPA signed; the same `disclosed_categories` that governs every partner read,
   since a launch hands the partner a pseudonym of the person;
2. a license of the product at that school, valid today, is coupled to one of the person's current groups;
3. for a student signing in from home: the product is allowed at home and the school enabled home login
   (DOMAIN.md, "Licenses"); staff are not held to where they are.

The self-check (`me.products`, the tiles on `/`) and `GET /launch/{productId}` both ask this module through
`resolvers.launch_rules`, so a tile is shown exactly when its launch passes. No I/O here: the facts are
loaded by `datasources.access.launch_facts`.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from auth.networks import NetworkContext
from auth.policy import SchoolConsent, disclosed_categories

if TYPE_CHECKING:
    from collections.abc import Iterable

    from auth.categories import DataCategory


#: Where a sign-in or launch happens: at school or at home, as the school's registered networks decide
#: (`auth.networks`); the same values partners read in the id_token's `context`.
LaunchContext = NetworkContext


class LaunchRefusal(enum.Enum):
    """Why a product may not be opened; `reason_nl` is the sentence the person reads (in Dutch)."""

    UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    NO_CONSENT = "NO_CONSENT"
    NO_LICENSE = "NO_LICENSE"
    NOT_AT_HOME = "NOT_AT_HOME"

    @property
    def reason_nl(self) -> str:
        """The reason in Dutch, for the refusal page."""
        return _REASONS_NL[self]


_REASONS_NL: dict[LaunchRefusal, str] = {
    LaunchRefusal.UNKNOWN_PRODUCT: "Dit product bestaat niet (meer).",
    LaunchRefusal.NOT_A_MEMBER: (
        "Je bent op dit moment niet als leerkracht of leerling aan een school gekoppeld."
    ),
    LaunchRefusal.NO_CONSENT: (
        "Je school heeft de leverancier van dit product (nog) geen toestemming gegeven."
    ),
    LaunchRefusal.NO_LICENSE: "Er is geen licentie van dit product aan jouw groep gekoppeld.",
    LaunchRefusal.NOT_AT_HOME: "Dit product mag je niet thuis gebruiken.",
}

#: The more of the rule a school passes, the more its refusal says: a person at two schools is told the
#: reason of the school that came furthest.
_DEPTH: dict[LaunchRefusal, int] = {
    LaunchRefusal.UNKNOWN_PRODUCT: 0,
    LaunchRefusal.NOT_A_MEMBER: 1,
    LaunchRefusal.NO_CONSENT: 2,
    LaunchRefusal.NO_LICENSE: 3,
    LaunchRefusal.NOT_AT_HOME: 4,
}


def refusal_at_school(
    consent: SchoolConsent | None,
    declared: Iterable[DataCategory],
    *,
    require_dpa: bool,
    coupled: bool,
    allowed_at_home: bool,
    home_login: bool,
    student: bool,
    context: LaunchContext,
) -> LaunchRefusal | None:
    """Why the person may not open the product at this school, or None when they may.

    `consent` is the school's consent in force for the product's partner (None without one), `declared`
    the partner's declared categories, `coupled` whether a license of the product valid today is coupled
    to one of the person's current groups there, `home_login` whether the school enabled home login,
    `context` where the person is (for a student only: staff may open their products anywhere)."""
    if consent is None or not disclosed_categories(consent, declared, require_dpa=require_dpa):
        return LaunchRefusal.NO_CONSENT
    if not coupled:
        return LaunchRefusal.NO_LICENSE
    if context is LaunchContext.HOME and student and not (allowed_at_home and home_login):
        return LaunchRefusal.NOT_AT_HOME
    return None


def most_telling(refusals: Iterable[LaunchRefusal]) -> LaunchRefusal:
    """Of the refusals at a person's schools, the one that came furthest through the rule (NOT_A_MEMBER
    when there are none: the person has no school)."""
    return max(refusals, key=_DEPTH.__getitem__, default=LaunchRefusal.NOT_A_MEMBER)
