"""The tokens of one-time links in mail (activation, password reset): random, stored only as a hash.

256 random bits cannot be guessed, so a plain SHA-256 of the token suffices to find it again (no salt or
slow hash is needed, unlike a password, which people choose); a copy of the database opens no link.
"""

from __future__ import annotations

import hashlib
import secrets


def new_link_token() -> str:
    """A fresh token for a link: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def link_token_hash(token: str) -> str:
    """The hash under which a link's token is stored and looked up (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
