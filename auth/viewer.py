"""The viewer: who is asking, as established from a verified token."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field


class ViewerKind(enum.Enum):
    """The kinds of subject a hub token can name (API.md, "Tokens": the prefix of `sub`)."""

    OPERATOR = "operator"
    PARTNER = "partner"
    LAS = "las"
    STAFF = "staff"
    STUDENT = "student"
    #: A caller without a token: may only sign in (never named by a token).
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Viewer:
    """A verified subject: its kind, its id within that kind, and the token's scopes and expiry."""

    kind: ViewerKind
    subject_id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    expires_at: dt.datetime | None = None
    token_id: str | None = None
    #: Whether a network provider's signed assertion vouched for this viewer (a web session it started,
    #: never a token): only then may a staff viewer's account be one that was never activated.
    via_assertion: bool = False
    #: For a viewer a network provider vouched for: the one school the assertion signed them in at. Such a
    #: viewer acts there only (its memberships elsewhere do not count) and manages nothing: the provider
    #: has consent at that school, which says nothing of the person's other schools.
    school_code: str | None = None

    @property
    def subject(self) -> str:
        """The `sub` claim this viewer was read from, such as "operator:helpdesk"."""
        return f"{self.kind.value}:{self.subject_id}"
