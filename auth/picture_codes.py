"""Picture codes (leerlingplaatjes): how young students sign in without typing a password.

A picture code is a sequence of `PICTURE_CODE_LENGTH` pictures out of the fixed set `PICTURES` (16 simple
shapes in four colours, each with a Dutch name that is also its alt text); repeats are allowed, so there
are 16**4 = 65,536 codes. That is few, so the code is never hashed on its own: it is first keyed with the
hub's secret and the student's id (HMAC-SHA-256), then hashed with argon2id like a password, so a copy of
the database alone cannot be searched through. Guessing online is bounded by the rate limits on every
credential check (10 failures an account in 15 minutes: an attacker needs months on average).

The coordinator prints the codes on login cards, so the code is also kept sealed (AES-GCM under a key
derived from the hub's secret): only the card page opens it, the API never reads it back.

Pure and synchronous, like the rest of `auth/`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from auth.credentials import hash_secret, verify_secret

if TYPE_CHECKING:
    from collections.abc import Sequence

#: How many pictures a code has.
PICTURE_CODE_LENGTH: Final = 4


@dataclass(frozen=True, slots=True)
class Picture:
    """One picture of the set: its Dutch name (the alt text), its shape and its colour."""

    name: str
    shape: str
    colour: str


_SHAPES: Final = ("rondje", "vierkant", "driehoek", "ster")
#: The colour as an adjective before a "het" word (rondje, vierkant) and before a "de" word.
_COLOURS: Final = (
    ("rood", "rode", "#d62828"),
    ("blauw", "blauwe", "#1d4ed8"),
    ("groen", "groene", "#15803d"),
    ("geel", "gele", "#eab308"),
)
_HET_WORDS: Final = frozenset({"rondje", "vierkant"})

#: The 16 pictures, numbered 0-15 in this order (the numbers `pictureCode` takes).
PICTURES: Final[tuple[Picture, ...]] = tuple(
    Picture(f"{het if shape in _HET_WORDS else de} {shape}", shape, colour)
    for het, de, colour in _COLOURS
    for shape in _SHAPES
)


def picture_code_problem(code: Sequence[int]) -> str | None:
    """Why `code` is not a picture code (an English explanation), or None when it is one."""
    if len(code) != PICTURE_CODE_LENGTH:
        return f"a picture code has exactly {PICTURE_CODE_LENGTH} pictures, not {len(code)}"
    if any(isinstance(number, bool) or not 0 <= number < len(PICTURES) for number in code):
        return f"a picture code's pictures are numbered 0 to {len(PICTURES) - 1}"
    return None


def _keyed(secret: bytes, student_id: int, code: Sequence[int]) -> str:
    message = f"leerpoort picture code\x00{student_id}\x00{'-'.join(str(n) for n in code)}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def hash_picture_code(secret: bytes, student_id: int, code: Sequence[int]) -> str:
    """The argon2id hash to store for a student's picture code (keyed with the hub's secret first)."""
    return hash_secret(_keyed(secret, student_id, code))


def verify_picture_code(secret: bytes, student_id: int, stored_hash: str | None, code: Sequence[int]) -> bool:
    """Whether `code` is the student's; None (no code set) costs the same time and fails."""
    return verify_secret(stored_hash, _keyed(secret, student_id, code))


def _sealing_key(secret: bytes) -> bytes:
    return hashlib.sha256(b"leerpoort picture code sealing\x00" + secret).digest()


def seal_picture_code(secret: bytes, student_id: int, code: Sequence[int]) -> str:
    """The code sealed for the printable login cards (AES-GCM, bound to the student's id)."""
    nonce = secrets.token_bytes(12)
    plain = bytes(code)
    sealed = AESGCM(_sealing_key(secret)).encrypt(nonce, plain, str(student_id).encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def open_picture_code(secret: bytes, student_id: int, sealed: str | None) -> tuple[int, ...] | None:
    """The code a seal holds, or None when there is none or it does not open (another key or student)."""
    if not sealed:
        return None
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        plain = AESGCM(_sealing_key(secret)).decrypt(raw[:12], raw[12:], str(student_id).encode())
    except (binascii.Error, ValueError, InvalidTag):
        return None
    return tuple(plain)
