"""The password policy of staff accounts: long enough, not a common password, not the person's own data.

Passwords never expire (forced changes make people pick weaker ones, NIST SP 800-63B §5.1.1.2); instead a
new password is checked once against what guessers try first. `password_problem` gives the first problem
as a stable reason code and an English explanation that encourages a passphrase, or None when the
password may be used. Pure and synchronous, like the rest of `auth/`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Final

from auth.credentials import MIN_PASSWORD_LENGTH

TOO_SHORT: Final = "TOO_SHORT"
TOO_COMMON: Final = "TOO_COMMON"
CONTAINS_PERSONAL_DATA: Final = "CONTAINS_PERSONAL_DATA"

_ADVICE: Final = (
    "a passphrase of four or more unrelated words (such as 'tulp fiets regen kompas') is long and easy to"
    " remember"
)
#: Digit and symbol swaps that guessers undo first.
_UNLEET: Final = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_EDGES: Final = re.compile(r"^[\W\d_]+|[\W\d_]+$")
#: Runs of keys that people type for a long password without thinking of one.
_SEQUENCES: Final = (
    "01234567890123456789",
    "98765432109876543210",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
)
#: Parts of a name or address shorter than this are too common to refuse ("de", "jan" stays allowed).
_PERSONAL_MINIMUM: Final = 4


@dataclass(frozen=True, slots=True)
class PasswordProblem:
    """Why a password is refused: a stable reason code and an English explanation."""

    reason: str
    message: str


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords and base words (auth/common_passwords.txt), lower case."""
    text = resources.files("auth").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _candidates(password: str) -> set[str]:
    """The forms of a password a guesser tries: as typed, without digits and symbols at its edges, with
    swapped letters undone, without spaces, and its repeated unit ("abcabcabc" -> "abc")."""
    lowered = password.lower().strip()
    forms = {lowered, lowered.replace(" ", ""), lowered.translate(_UNLEET)}
    forms |= {_EDGES.sub("", form) for form in list(forms)}
    forms |= {form.translate(_UNLEET) for form in list(forms)}
    for form in list(forms):
        unit = re.fullmatch(r"(.+?)\1+", form)
        if unit:
            forms.add(unit.group(1))
    return {form for form in forms if form}


def _is_common(password: str) -> bool:
    compact = password.lower().replace(" ", "")
    if len(set(compact)) < 4:
        return True  # "aaaaaaaaaaaa", "121212121212"
    if any(compact in sequence for sequence in _SEQUENCES):
        return True
    common = common_passwords()
    return any(form in common for form in _candidates(password))


def _personal_parts(email: str | None, names: tuple[str | None, ...]) -> set[str]:
    parts: set[str] = set()
    if email:
        local = email.lower().partition("@")[0]
        parts |= {local, re.sub(r"[._+\-]+", "", local)}
        parts |= set(re.split(r"[._+\-]+", local))
    for name in names:
        if name:
            parts |= set(re.split(r"[\s\-']+", name.lower()))
    # The whole name run together ("elskok"), which its short parts alone would not catch.
    parts.add(re.sub(r"[\s\-']+", "", "".join(name for name in names if name).lower()))
    return {part for part in parts if len(part) >= _PERSONAL_MINIMUM}


def password_problem(
    password: str, *, email: str | None = None, names: tuple[str | None, ...] = ()
) -> PasswordProblem | None:
    """The first reason to refuse `password` for the account with this address and these names, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return PasswordProblem(
            TOO_SHORT, f"a password needs at least {MIN_PASSWORD_LENGTH} characters; {_ADVICE}"
        )
    if _is_common(password):
        return PasswordProblem(TOO_COMMON, f"this password is one that guessers try first; {_ADVICE}")
    lowered = password.lower()
    if any(part in lowered for part in _personal_parts(email, names)):
        return PasswordProblem(
            CONTAINS_PERSONAL_DATA,
            f"a password must not contain your name or e-mail address; {_ADVICE}",
        )
    return None


#: Students' passwords are shorter than staff's (see `student_password_problem`).
MIN_STUDENT_PASSWORD_LENGTH: Final = 8


def student_password_problem(
    password: str, *, username: str, names: tuple[str | None, ...] = ()
) -> PasswordProblem | None:
    """The first reason to refuse a password a coordinator sets for a student, or None.

    Lighter than the staff policy on purpose: a child types it on a Chromebook, the coordinator chooses it
    (not the child), and it opens only the student's own products, never another person's data; online
    guessing is bounded by the same rate limits as staff sign-in. So 8 characters are enough, but what
    guessers try first (common words and passwords, runs of keys, the child's own name or username) is
    refused as for staff.
    """
    if len(password) < MIN_STUDENT_PASSWORD_LENGTH:
        return PasswordProblem(
            TOO_SHORT,
            f"a student's password needs at least {MIN_STUDENT_PASSWORD_LENGTH} characters; two short words"
            " and a number (such as 'tulp7fiets') are easy to type",
        )
    if _is_common(password):
        return PasswordProblem(TOO_COMMON, "this password is one that guessers try first")
    lowered = password.lower()
    if any(part in lowered for part in _personal_parts(None, (*names, username))):
        return PasswordProblem(
            CONTAINS_PERSONAL_DATA, "a student's password must not contain their name or username"
        )
    return None
