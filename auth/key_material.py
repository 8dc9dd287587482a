"""Signing keys: the hub's ES256 key material, the set of keys that may verify, and their JWKS.

Plain `cryptography` code; the JOSE library is confined to `auth.tokens` (and `auth.assertions`). A
key is identified by its `kid`, the RFC 7638 thumbprint of its public key, so the same key always gets
the same id in every process that loads it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

#: The JOSE algorithm every hub key signs with; nothing else is ever accepted.
ALGORITHM = "ES256"

_CURVE_NAME = "P-256"
_COORDINATE_BYTES = 32


@dataclass(frozen=True, slots=True)
class SigningKeyMaterial:
    """One ES256 signing key as the store keeps it.

    `retired_at` is set when a newer key took over; a retired key signs nothing but still verifies the
    tokens it signed until they expire. The private PEM never appears in a repr or a log line.
    """

    kid: str
    private_pem: str = field(repr=False)
    created_at: dt.datetime
    retired_at: dt.datetime | None = None
    private_key: ec.EllipticCurvePrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Parse once here, so a corrupt or foreign key in the store fails at load time, not per request.
        key = serialization.load_pem_private_key(self.private_pem.encode("ascii"), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"signing key {self.kid!r} is not a P-256 key")
        object.__setattr__(self, "private_key", key)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half, the one that verifies."""
        return self.private_key.public_key()

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public key as an RFC 7517 JWK, with `kid`, `use` and `alg` for partners' libraries."""
        return {**_public_members(self.public_key), "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def generate_signing_key(now: dt.datetime) -> SigningKeyMaterial:
    """A fresh P-256 key created at `now`, its `kid` the RFC 7638 thumbprint of its public key."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return SigningKeyMaterial(kid=thumbprint(private_key.public_key()), private_pem=pem, created_at=now)


def thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url without padding) of a P-256 public key."""
    # RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace.
    canonical = json.dumps(_public_members(public_key), sort_keys=True, separators=(",", ":"))
    return _base64url(hashlib.sha256(canonical.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class KeySet:
    """The keys a process signs and verifies with: one active key and any retired ones still verifying."""

    keys: tuple[SigningKeyMaterial, ...]
    _by_kid: dict[str, SigningKeyMaterial] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_kid = {key.kid: key for key in self.keys}
        if len(by_kid) != len(self.keys):
            raise ValueError("a key set holds each kid once")
        if not any(key.retired_at is None for key in self.keys):
            raise ValueError("a key set needs an unretired key to sign with")
        object.__setattr__(self, "_by_kid", by_kid)

    @property
    def active(self) -> SigningKeyMaterial:
        """The key that signs new tokens: the newest unretired one (ties broken by kid, so every process
        that reads the same keys picks the same one)."""
        return max((key for key in self.keys if key.retired_at is None), key=lambda k: (k.created_at, k.kid))

    def get(self, kid: str) -> SigningKeyMaterial | None:
        """The key with this `kid`, or None when this set does not know it."""
        return self._by_kid.get(kid)


def jwks(keyset: KeySet) -> dict[str, Any]:
    """The RFC 7517 JWK Set served at `/.well-known/jwks.json`: every key of the set, active first.

    During a rollover this publishes old and new, so tokens signed by the retired key keep verifying.
    """
    active = keyset.active
    others = sorted(
        (key for key in keyset.keys if key.kid != active.kid),
        key=lambda k: (k.created_at, k.kid),
        reverse=True,
    )
    return {"keys": [key.public_jwk for key in (active, *others)]}


def _public_members(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": _CURVE_NAME,
        "x": _base64url(numbers.x.to_bytes(_COORDINATE_BYTES, "big")),
        "y": _base64url(numbers.y.to_bytes(_COORDINATE_BYTES, "big")),
    }


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
