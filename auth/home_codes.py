"""Home login's secrets: the activation code a coordinator prints for a student, and the PIN a parent
chooses. Pure code, no I/O.

An activation code is 12 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown in three
groups of four: about 59 random bits, used once, valid for weeks, and every try is rate-limited, so it
cannot be guessed; it is stored only as a SHA-256. A PIN is a parent's choice (5 to 8 digits) and guessable
by nature, so it is stored as an argon2id hash and every check is rate-limited per username and address.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from typing import Final

#: Upper-case letters and digits a parent cannot mistake for each other when typing from paper.
CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 12
CODE_GROUP: Final = 4
PIN_MIN: Final = 5
PIN_MAX: Final = 8


def new_activation_code() -> str:
    """A fresh activation code, grouped for print: "ABCD-EFGH-JKMN"."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[start : start + CODE_GROUP] for start in range(0, CODE_LENGTH, CODE_GROUP))


def normalise_activation_code(typed: str) -> str | None:
    """The code as typed (any case, with or without dashes and spaces) in its stored form, or None
    when it cannot be a code (wrong length or characters): such input is refused unchecked."""
    compact = "".join(char for char in typed.upper() if char not in " -\t")
    if len(compact) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in compact):
        return None
    return compact


def activation_code_hash(normalised: str) -> str:
    """The hex SHA-256 under which a (normalised) code is stored and looked up."""
    return hashlib.sha256(normalised.encode("ascii")).hexdigest()


def pin_problem(pin: str) -> str | None:
    """Why a PIN cannot be used (in Dutch, for the parent), or None: 5 to 8 digits, not one digit
    repeated and not a straight run (12345, 98765), the PINs tried first."""
    if not (PIN_MIN <= len(pin) <= PIN_MAX) or not pin.isascii() or not pin.isdigit():
        return f"Kies een pincode van {PIN_MIN} tot {PIN_MAX} cijfers."
    if len(set(pin)) == 1:
        return "Kies een pincode die niet uit één en hetzelfde cijfer bestaat."
    steps = {int(after) - int(before) for before, after in itertools.pairwise(pin)}
    if steps in ({1}, {-1}):
        return "Kies een pincode die geen reeks oplopende of aflopende cijfers is."
    return None
