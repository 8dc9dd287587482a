"""Client secrets and passwords: generated with enough entropy, stored only as argon2id hashes.

Verification takes the same time whether or not the account exists (a dummy hash is checked for unknown
ones), so the token endpoint and sign-in do not reveal which clients or e-mail addresses are registered.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): a few tens of milliseconds a check here, which
#: bounds guessing without making the token endpoint slow.
_HASHER: Final = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH: Final = _HASHER.hash(secrets.token_urlsafe(32))
MIN_PASSWORD_LENGTH: Final = 12


class WeakPassword(ValueError):  # noqa: N818 - reads as the verdict on the password
    """A password that is too short to protect a coordinator's account."""


def new_client_secret() -> str:
    """A fresh client secret: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def new_client_id(name: str) -> str:
    """A client id readable in logs (a slug of the name) and unique (a random suffix)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "client"
    return f"{slug}-{secrets.token_hex(4)}"


def hash_secret(secret: str) -> str:
    """The argon2id hash to store instead of a secret or password."""
    return _HASHER.hash(secret)


def check_password_strength(password: str) -> None:
    """Refuse passwords too short to stand up to guessing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """Whether `secret` matches `stored_hash`; an unknown account (None) costs the same time and fails."""
    try:
        _HASHER.verify(stored_hash or _DUMMY_HASH, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return stored_hash is not None
