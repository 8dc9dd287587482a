"""Who may open which product: the launch rule (DOMAIN.md, "Single sign-on"), as plain decisions.

A signed-in teacher or student may open (launch) a product at one of their schools only when

1. the school discloses to the product's partner: a consent in force, the school open, and (when the hub
   requires it) the board's DPA signed; the same `disclosed_categories` that governs every partner read,
   since a launch hands the partner a pseudonym of the person;
   and among what it discloses the category that identifies the person (student.basic or staff.basic),
   or the partner could not be told who opens its product;
2. a license of the product at that school, valid today, is coupled to one of the person's current groups;
3. for a student signing in from home: the product is allowed at home and the school enabled home login
   (DOMAIN.md, "Licenses"); staff are not held to where they are;
4. the product is connected: its partner registered a login-initiation URI and the product an address
   to open, or there is nowhere to send the browser.

The self-check (`me.products`, the tiles on `/`) and `GET /launch/{productId}` both ask this one function
through `resolvers.launch_rules`, so a tile is shown exactly when its launch passes, and a refused launch
names the reason this function gave. No I/O here: the facts are loaded by `datasources.access.launch_facts`.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from auth.categories import DataCategory
from auth.networks import NetworkContext
from auth.policy import SchoolConsent, disclosed_categories

if TYPE_CHECKING:
    from collections.abc import Iterable


#: Where a sign-in or launch happens: at school or at home, as the school's registered networks decide
#: (`auth.networks`); the same values partners read in the id_token's `context`.
LaunchContext = NetworkContext


class LaunchRefusal(enum.Enum):
    """Why a product may not be opened (the page that says so in Dutch is `schema.oidc`'s)."""

    #: No product has this id.
    UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
    #: The person is not (or no longer) a current student or staff member of an open school.
    NOT_A_MEMBER = "NOT_A_MEMBER"
    #: The school has not consented to the product's partner (or revoked it), is closed, or its board has
    #: not signed the DPA: the partner may read nothing of the school.
    NO_CONSENT = "NO_CONSENT"
    #: The school consented, but not to the category that identifies this person.
    NOT_GRANTED = "NOT_GRANTED"
    #: No license of the product, valid today, is coupled to one of the person's current groups.
    NO_LICENSE = "NO_LICENSE"
    #: A student away from the school's networks, and the product is for school only (or the school has
    #: no home login).
    NOT_AT_HOME = "NOT_AT_HOME"
    #: Everything allows it, but the partner registered no login-initiation URI (or the product no
    #: address): there is nowhere to send the browser.
    NOT_CONNECTED = "NOT_CONNECTED"


#: The category that identifies a person of each kind to a partner (the launch's `login_hint`).
_BASIC: dict[bool, DataCategory] = {True: DataCategory.STUDENT_BASIC, False: DataCategory.STAFF_BASIC}

#: The more of the rule a school passes, the more its refusal says: a person at two schools is told the
#: reason of the school that came furthest.
_DEPTH: dict[LaunchRefusal, int] = {
    LaunchRefusal.UNKNOWN_PRODUCT: 0,
    LaunchRefusal.NOT_A_MEMBER: 1,
    LaunchRefusal.NO_CONSENT: 2,
    LaunchRefusal.NOT_GRANTED: 3,
    LaunchRefusal.NO_LICENSE: 4,
    LaunchRefusal.NOT_AT_HOME: 5,
    LaunchRefusal.NOT_CONNECTED: 6,
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
    connected: bool,
) -> LaunchRefusal | None:
    """Why the person may not open the product at this school, or None when they may.

    `consent` is the school's consent in force for the product's partner (None without one), `declared`
    the partner's declared categories, `coupled` whether a license of the product valid today is coupled
    to one of the person's current groups there, `home_login` whether the school enabled home login,
    `context` where the person is (for a student only: staff may open their products anywhere),
    `connected` whether the partner registered a login-initiation URI and the product an address."""
    disclosed = (
        frozenset() if consent is None else disclosed_categories(consent, declared, require_dpa=require_dpa)
    )
    if not disclosed:
        return LaunchRefusal.NO_CONSENT
    if _BASIC[student] not in disclosed:
        return LaunchRefusal.NOT_GRANTED
    if not coupled:
        return LaunchRefusal.NO_LICENSE
    if context is LaunchContext.HOME and student and not (allowed_at_home and home_login):
        return LaunchRefusal.NOT_AT_HOME
    if not connected:
        return LaunchRefusal.NOT_CONNECTED
    return None


def most_telling(refusals: Iterable[LaunchRefusal]) -> LaunchRefusal:
    """Of the refusals at a person's schools, the one that came furthest through the rule (NOT_A_MEMBER
    when there are none: the person has no school)."""
    return max(refusals, key=_DEPTH.__getitem__, default=LaunchRefusal.NOT_A_MEMBER)
