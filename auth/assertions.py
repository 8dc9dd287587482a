"""Network providers' sign-in assertions: their public signing keys (JWK, JWKS) and the JWTs they sign.

Beside `auth.tokens`, the only module that imports the JOSE library (python-jose). A network provider the
school consented to signs its users in on its own authority: it posts a short-lived JWT naming the person
to `POST /login/assertion` (schema.pages.assertion). Nothing here trusts the library's defaults:

- keys are public EC P-256 (ES256) or RSA of at least 2048 bits (RS256), each with a `kid`; a JWK with
  private material (`d`, the RSA primes) or a symmetric key is refused, so the hub never holds a provider's
  secret and an HS256 forgery keyed with a public key has nothing to match;
- the header is read here first: only ES256 and RS256 pass (never `none` or HS*), the `kid` must be one of
  the provider's keys, and the key's own algorithm must be the header's;
- the claims are checked against the hub's clock (the sandbox may override it), with `CLOCK_LEEWAY`:
  `iss` = the provider's client id, `aud` = the hub's issuer, `exp` and `iat` required, a lifetime of at
  most `MAX_ASSERTION_LIFETIME`, a `jti` (which the caller records as used), and the person.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from jose import jwk, jws
from jose.exceptions import JOSEError

from auth.tokens import CLOCK_LEEWAY

if TYPE_CHECKING:
    from collections.abc import Sequence

ES256: Final = "ES256"
RS256: Final = "RS256"
#: The algorithms an assertion may be signed with, by the key type that signs them.
ALGORITHMS: Final[Mapping[str, str]] = {"EC": ES256, "RSA": RS256}
#: An assertion lives for seconds: it is posted through the browser right after it is made.
MAX_ASSERTION_LIFETIME: Final = dt.timedelta(minutes=5)
#: A few hundred bytes in practice (an RS256 signature is 342 characters); far larger is not one.
MAX_ASSERTION_BYTES: Final = 8 * 1024
#: A provider rotates keys now and then; it never needs dozens at once.
MAX_KEYS: Final = 20
MIN_RSA_BITS: Final = 2048
_MAX_KID: Final = 200
_MAX_CLAIM: Final = 320
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
_JWS_PARTS: Final = 3
_LATEST_NUMERIC_DATE: Final = 253_402_300_799


class InvalidKeys(ValueError):  # noqa: N818 - reads as the verdict: "invalid keys"
    """A key or key set cannot be registered; the message is short and safe to show."""


class AssertionRefused(Exception):  # noqa: N818 - reads as the verdict: "assertion refused"
    """The assertion cannot be accepted. `reason` is a stable code (`malformed`, `algorithm`,
    `unknown_key`, `signature`, `issuer`, `audience`, `expired`, `not_yet_valid`, `lifetime`, `claims`),
    `message` a short English explanation that never quotes the assertion."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A provider's public signing key as the hub keeps it: the normalised JWK (public members only)."""

    kid: str
    algorithm: str
    jwk: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class AssertionClaims:
    """What a verified assertion says: its id and expiry (to record it as used), and the person."""

    jti: str
    expires_at: dt.datetime
    eck_id: str | None
    email: str | None
    instelling_ref: str | None


def parse_keys(document: object) -> list[PublicKey]:
    """The public keys of a JWK (one key object) or a JWKS document (`{"keys": [...]}`), already parsed
    from JSON; `InvalidKeys` for anything that is not a set of usable public signing keys."""
    if not isinstance(document, dict):
        raise InvalidKeys("a JWK or JWKS is a JSON object")
    members = document.get("keys") if "keys" in document else [document]
    if not isinstance(members, list) or not members:
        raise InvalidKeys("a JWKS holds a non-empty list of keys")
    if len(members) > MAX_KEYS:
        raise InvalidKeys(f"at most {MAX_KEYS} keys")
    keys = [_public_key(member) for member in members]
    kids = [key.kid for key in keys]
    if len(set(kids)) != len(kids):
        raise InvalidKeys("every key needs its own kid")
    return keys


def parse_keys_json(text: str) -> list[PublicKey]:
    """`parse_keys` of a JSON text."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidKeys("the keys are not valid JSON") from None
    return parse_keys(document)


def _public_key(member: object) -> PublicKey:
    if not isinstance(member, dict):
        raise InvalidKeys("a key is a JSON object")
    if _PRIVATE_MEMBERS & member.keys():
        raise InvalidKeys("register the public key only: this JWK holds private or symmetric key material")
    kty, kid = member.get("kty"), member.get("kid")
    algorithm = ALGORITHMS.get(kty) if isinstance(kty, str) else None
    if algorithm is None:
        raise InvalidKeys("a key is an EC (P-256, ES256) or RSA (RS256) key")
    if not isinstance(kid, str) or not kid or len(kid) > _MAX_KID:
        raise InvalidKeys(f"every key needs a kid of 1 to {_MAX_KID} characters")
    if member.get("alg", algorithm) != algorithm:
        raise InvalidKeys(f"a {kty} key signs with {algorithm}")
    if member.get("use", "sig") != "sig":
        raise InvalidKeys("a key's use is sig")
    if kty == "EC":
        if member.get("crv") != "P-256":
            raise InvalidKeys("an EC key is on curve P-256")
        public = {"kty": "EC", "crv": "P-256", "x": _member(member, "x"), "y": _member(member, "y")}
    else:
        public = {"kty": "RSA", "n": _member(member, "n"), "e": _member(member, "e")}
        modulus = _base64url_decode(public["n"]).lstrip(b"\0")
        if len(modulus) * 8 < MIN_RSA_BITS:
            raise InvalidKeys(f"an RSA key has at least {MIN_RSA_BITS} bits")
    try:
        jwk.construct(public, algorithm)  # refuses a point off the curve, a malformed modulus
    except (JOSEError, ValueError, TypeError):
        raise InvalidKeys("the key is not a valid public key") from None
    return PublicKey(kid=kid, algorithm=algorithm, jwk={**public, "kid": kid, "alg": algorithm, "use": "sig"})


def _member(member: Mapping[str, object], name: str) -> str:
    value = member.get(name)
    if not isinstance(value, str) or not value or len(value) > 1024 or not _BASE64URL.fullmatch(value):
        raise InvalidKeys(f"the key's {name} is missing or not base64url")
    return value


def assertion_issuer(token: str) -> str:
    """The `iss` an assertion claims, read before verification only to find whose keys verify it."""
    parts = _parts(token)
    claims = _json_object(_base64url_decode_token(parts[1]), "the claims are not a JSON object")
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer or len(issuer) > _MAX_CLAIM:
        raise AssertionRefused("issuer", "the assertion names no issuer")
    return issuer


def assertion_key_id(token: str) -> str:
    """The `kid` of an assertion's header once its algorithm passed (`AssertionRefused` otherwise)."""
    header = _pinned_header(_parts(token))
    return str(header["kid"])


def verify_assertion(
    token: str,
    keys: Sequence[PublicKey],
    *,
    issuer: str,
    audience: str,
    now: dt.datetime,
) -> AssertionClaims:
    """The claims of a provider's assertion once its header, signature, issuer, audience and times check
    out at `now` against the provider's `keys`; `AssertionRefused` for anything else (`unknown_key`
    when the `kid` is none of `keys`: the caller may refetch a JWKS URL once and try again)."""
    if now.tzinfo is None:
        raise ValueError("`now` must carry a time zone")
    parts = _parts(token)
    header = _pinned_header(parts)
    key = next((candidate for candidate in keys if candidate.kid == header["kid"]), None)
    if key is None:
        raise AssertionRefused(
            "unknown_key", "the assertion is signed with a key this provider did not register"
        )
    if key.algorithm != header["alg"]:
        raise AssertionRefused("algorithm", "the assertion's algorithm is not its key's")
    try:
        payload = jws.verify(token, jwk.construct(dict(key.jwk), key.algorithm), algorithms=[key.algorithm])
    except (JOSEError, ValueError, TypeError):
        raise AssertionRefused("signature", "the assertion's signature is not valid") from None
    claims = _json_object(payload, "the claims are not a JSON object")
    return _checked_claims(claims, issuer=issuer, audience=audience, now=now)


def _checked_claims(
    claims: Mapping[str, Any], *, issuer: str, audience: str, now: dt.datetime
) -> AssertionClaims:
    if claims.get("iss") != issuer:
        raise AssertionRefused("issuer", "the assertion's issuer is not the provider whose key signed it")
    audiences = claims.get("aud")
    if isinstance(audiences, str):
        audiences = [audiences]
    if not isinstance(audiences, list) or audience not in audiences:
        raise AssertionRefused("audience", "the assertion is not addressed to this hub (aud)")
    leeway, at = CLOCK_LEEWAY.total_seconds(), now.timestamp()
    expires, issued_at = _numeric(claims, "exp"), _numeric(claims, "iat")
    not_before = _numeric(claims, "nbf") if "nbf" in claims else None
    if at >= expires + leeway:
        raise AssertionRefused("expired", "the assertion expired")
    if at < issued_at - leeway or (not_before is not None and at < not_before - leeway):
        raise AssertionRefused("not_yet_valid", "the assertion is not valid yet (iat or nbf)")
    valid_from = issued_at if not_before is None else min(issued_at, not_before)
    if expires - valid_from > MAX_ASSERTION_LIFETIME.total_seconds():
        minutes = int(MAX_ASSERTION_LIFETIME.total_seconds() // 60)
        raise AssertionRefused("lifetime", f"an assertion lives at most {minutes} minutes (exp - iat)")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > _MAX_KID:
        raise AssertionRefused("claims", f"the assertion needs a jti of 1 to {_MAX_KID} characters")
    eck_id, email, reference = (_text(claims, name) for name in ("eck_id", "email", "instelling_ref"))
    if (eck_id is None) == (email is None):
        raise AssertionRefused("claims", "the assertion names the person by eck_id or by email (one of them)")
    return AssertionClaims(
        jti=jti,
        expires_at=dt.datetime.fromtimestamp(expires, dt.UTC),
        eck_id=eck_id,
        email=email,
        instelling_ref=reference,
    )


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_CLAIM:
        raise AssertionRefused("claims", f"the assertion's {name} is not a short text")
    return value.strip()


def _numeric(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    # bool is an int in Python but never a NumericDate; NaN, infinity and huge numbers are refused too.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AssertionRefused("claims", f"the assertion's {name} is missing or not a NumericDate")
    if abs(value) > _LATEST_NUMERIC_DATE:
        raise AssertionRefused("claims", f"the assertion's {name} is missing or not a NumericDate")
    return float(value)


def _parts(token: str) -> list[str]:
    if not isinstance(token, str) or not token or len(token) > MAX_ASSERTION_BYTES:
        raise AssertionRefused("malformed", "the assertion is not a signed JWT")
    parts = token.strip().split(".")
    if len(parts) != _JWS_PARTS or not all(parts):
        raise AssertionRefused("malformed", "the assertion is not a signed JWT")
    return parts


def _pinned_header(parts: Sequence[str]) -> dict[str, Any]:
    # Read the header ourselves so that only ES256 and RS256 ever reach the library: this refuses
    # `alg: none` and HS256 forgeries keyed with a provider's public key, whatever the library does.
    header = _json_object(_base64url_decode_token(parts[0]), "the header is not a JSON object")
    if header.get("alg") not in ALGORITHMS.values():
        raise AssertionRefused("algorithm", "an assertion is signed with ES256 or RS256")
    if "crit" in header:
        raise AssertionRefused("malformed", "unsupported critical header")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > _MAX_KID:
        raise AssertionRefused("malformed", "the assertion's header names no kid")
    for part in parts[1:]:
        _base64url_decode_token(part)
    return header


def _base64url_decode(segment: str) -> bytes:
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise InvalidKeys("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _base64url_decode_token(segment: str) -> bytes:
    try:
        return _base64url_decode(segment)
    except InvalidKeys:
        raise AssertionRefused("malformed", "the assertion is not a signed JWT") from None


def _json_object(data: bytes, message: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise AssertionRefused("malformed", message) from None
    if not isinstance(value, dict):
        raise AssertionRefused("malformed", message)
    return value


__all__ = [
    "MAX_ASSERTION_BYTES",
    "MAX_ASSERTION_LIFETIME",
    "AssertionClaims",
    "AssertionRefused",
    "InvalidKeys",
    "PublicKey",
    "assertion_issuer",
    "assertion_key_id",
    "parse_keys",
    "parse_keys_json",
    "verify_assertion",
]
