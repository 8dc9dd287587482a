"""Single sign-on (toegang): whether a signed-in person may sign in to a partner, and which data
categories the sign-in discloses; the PKCE check of the code flow. (Whether they may launch a product is
the launch rule's: auth.launches.)

Plain synchronous code over the partner's `Scope` (auth.policy), so the rules are the graph's rules: a
person may sign in to a partner exactly when that partner may read the person in the graph (the school
consented, is open, its board signed the DPA when the hub requires it, and the person's basic category
was granted); names and the ECK-iD follow the same grants.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
from typing import TYPE_CHECKING, Final

from auth.categories import DataCategory
from auth.policy import ALWAYS_GRANTED

if TYPE_CHECKING:
    from auth.networks import NetworkContext
    from auth.policy import Scope

#: The kinds of signed-in person, with the category that holds their pseudonym, role and groups and the
#: category that holds their names.
BASIC: Final = {"student": DataCategory.STUDENT_BASIC, "staff": DataCategory.STAFF_BASIC}
NAMES: Final = {"student": DataCategory.STUDENT_NAME, "staff": DataCategory.STAFF_NAME}

#: Where the sign-in happens (the `context` claim).

#: RFC 7636 §4.1: a verifier is 43 to 128 unreserved characters; §4.2: an S256 challenge is the
#: base64url (no padding) of a SHA-256, so exactly 43 characters.
_VERIFIER: Final = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_S256_CHALLENGE: Final = re.compile(r"[A-Za-z0-9_-]{43}")


class Refusal(enum.Enum):
    """Why a sign-in is refused (a launch's reasons are `auth.launches.LaunchRefusal`)."""

    #: The school has not consented to the partner (or revoked it), is closed, or its board has not
    #: signed the DPA: the partner may read nothing of the school.
    NO_CONSENT = "NO_CONSENT"
    #: The school consented, but not to the category that identifies this person (student.basic or
    #: staff.basic): the partner could not tell who signed in.
    NOT_GRANTED = "NOT_GRANTED"


def sign_on_refusal(scope: Scope, school_id: int, person_kind: str) -> Refusal | None:
    """Why the partner of `scope` may not be told who this person (a student or staff member of the
    school) is; None when it may."""
    if not scope.can_see_school(school_id):
        return Refusal.NO_CONSENT
    if BASIC[person_kind] not in scope.categories_for(school_id):
        return Refusal.NOT_GRANTED
    return None


def sign_in_context(where: NetworkContext) -> str:
    """The `context` claim of a sign-in: `SCHOOL` from one of the school's registered networks, `HOME`
    from anywhere else (auth.networks.network_context decides `where` from the person's address at the
    authorize request, which the code keeps: the token exchange comes from the partner's server)."""
    return where.value


def disclosed_categories(
    scope: Scope, school_id: int, person_kind: str, *, names: bool, groups: bool
) -> frozenset[DataCategory]:
    """The categories a sign-in discloses, for the school's audit: school.basic (the school's reference),
    the person's basic category (pseudonym, role, ECK-iD), the names category when names were given, and
    group.basic when group ids were."""
    granted = scope.categories_for(school_id)
    disclosed = set(ALWAYS_GRANTED) | {BASIC[person_kind]}
    if names:
        disclosed.add(NAMES[person_kind])
    if groups:
        disclosed.add(DataCategory.GROUP_BASIC)
    return frozenset(disclosed) & (granted | ALWAYS_GRANTED)


def valid_code_challenge(challenge: str) -> bool:
    """Whether `challenge` has the form of an S256 code challenge (RFC 7636 §4.2)."""
    return bool(_S256_CHALLENGE.fullmatch(challenge))


def verifier_matches(verifier: str, challenge: str) -> bool:
    """Whether the code verifier hashes to the S256 challenge (RFC 7636 §4.6), compared in constant
    time; a verifier of the wrong form never matches."""
    if not _VERIFIER.fullmatch(verifier):
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    return hmac.compare_digest(computed.encode(), challenge.encode())
