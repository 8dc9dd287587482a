"""Hub tokens: ES256 JWTs minted and verified with the hub's signing keys.

With `auth.assertions` (network providers' sign-in assertions, verified with their registered public
keys), the only module of the project that imports the JOSE library (python-jose). Verification does not
trust the library's defaults: the header is read and pinned to ES256 and a known `kid` before the
library sees the token, and the time and audience claims are checked here against the hub's clock,
because the sandbox may run on a clock override (`LEERPOORT_NOW`) that the library knows nothing of.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
import math
import re
import secrets
from typing import TYPE_CHECKING, Any, Final, TypeGuard

from jose import jws, jwt
from jose.backends.cryptography_backend import CryptographyECKey
from jose.exceptions import JOSEError

from auth.key_material import ALGORITHM, KeySet, SigningKeyMaterial
from auth.viewer import Viewer, ViewerKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: The `aud` of hub access tokens; launch tokens carry a partner's client id instead.
HUB_AUDIENCE: Final = "leerpoort"

PARTNER_TOKEN_LIFETIME: Final = dt.timedelta(minutes=15)
LAS_TOKEN_LIFETIME: Final = dt.timedelta(minutes=15)
STAFF_TOKEN_LIFETIME: Final = dt.timedelta(hours=8)
STUDENT_TOKEN_LIFETIME: Final = dt.timedelta(hours=8)
#: Only the sandbox hands out operator tokens this long-lived (API.md, "Tokens").
OPERATOR_TOKEN_LIFETIME: Final = dt.timedelta(hours=12)

#: The lifetime of a hub token per kind of subject.
TOKEN_LIFETIMES: Final[Mapping[ViewerKind, dt.timedelta]] = {
    ViewerKind.PARTNER: PARTNER_TOKEN_LIFETIME,
    ViewerKind.LAS: LAS_TOKEN_LIFETIME,
    ViewerKind.STAFF: STAFF_TOKEN_LIFETIME,
    ViewerKind.STUDENT: STUDENT_TOKEN_LIFETIME,
    ViewerKind.OPERATOR: OPERATOR_TOKEN_LIFETIME,
}
LONGEST_TOKEN_LIFETIME: Final = max(TOKEN_LIFETIMES.values())

#: Tolerated clock difference between the hub's processes and partners when checking exp, nbf and iat.
CLOCK_LEEWAY: Final = dt.timedelta(seconds=30)

#: Hub tokens are a few hundred bytes; anything far larger is refused before any parsing.
MAX_TOKEN_BYTES: Final = 8 * 1024

_REGISTERED_CLAIMS: Final = frozenset({"iss", "aud", "sub", "scope", "iat", "exp", "jti"})
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
#: A JWS compact serialisation: header, payload, signature.
_JWS_PARTS: Final = 3
#: 9999-12-31T23:59:59Z: later NumericDates cannot become a datetime and are refused as malformed.
_LATEST_NUMERIC_DATE: Final = 253_402_300_799


class InvalidToken(Exception):  # noqa: N818 - reads as the domain's verdict: "invalid token"
    """The token cannot be accepted; `reason` is short and safe to show (it never quotes the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownSigningKey(InvalidToken):
    """The token names a `kid` this key set does not hold: possibly a key that another process just
    rotated in, so a caller may reload the keys from the store once and try again."""


def mint_token(
    keyset: KeySet,
    *,
    issuer: str,
    subject: str,
    scopes: Iterable[str],
    lifetime: dt.timedelta,
    now: dt.datetime,
    audience: str = HUB_AUDIENCE,
    extra_claims: Mapping[str, Any] | None = None,
    token_type: str | None = None,
    token_id: str | None = None,
) -> str:
    """A JWT signed with the set's active key, valid from `now` for `lifetime`.

    `extra_claims` adds claims (for instance a launch token's school and groups) but may not replace
    the registered ones this function sets. `token_type` sets the header's `typ` (RFC 9068's "at+jwt"
    for the access tokens of the OpenID Connect flow), which `verify_token(expected_type=…)` demands;
    `token_id` is the `jti` to use instead of a random one (a caller that stores it).
    """
    _require_aware(now)
    if lifetime <= dt.timedelta(0):
        raise ValueError("a token needs a positive lifetime")
    scope_list = list(dict.fromkeys(scopes))
    if any(not scope or any(char.isspace() for char in scope) for scope in scope_list):
        raise ValueError("a scope is a non-empty word without spaces")
    extra = dict(extra_claims or {})
    if clash := _REGISTERED_CLAIMS & extra.keys():
        raise ValueError(f"extra claims may not replace {sorted(clash)}")
    issued_at = math.floor(now.timestamp())
    claims: dict[str, Any] = {
        **extra,
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "scope": " ".join(scope_list),
        "iat": issued_at,
        "exp": issued_at + math.floor(lifetime.total_seconds()),
        "jti": token_id or secrets.token_urlsafe(16),
    }
    return _signed(keyset, claims, token_type)


#: The `typ` of the OpenID Connect flow's access tokens (RFC 9068 §2.1): an id_token or a hub token (both
#: typ "JWT", python-jose's default) is never accepted where one of these is expected.
ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 - a token type, not a secret
#: The `typ` of id_tokens.
ID_TOKEN_TYPE: Final = "JWT"  # noqa: S105 - a token type, not a secret


def mint_id_token(
    keyset: KeySet,
    *,
    issuer: str,
    audience: str,
    subject: str,
    lifetime: dt.timedelta,
    now: dt.datetime,
    auth_time: dt.datetime,
    nonce: str | None,
    claims: Mapping[str, Any],
) -> str:
    """An OpenID Connect id_token (OIDC Core §2): exactly `iss`, `sub`, `aud`, `exp`, `iat`, `auth_time`,
    `nonce` (when the request had one) and the identity `claims` given, signed ES256 with the active key.
    Unlike hub tokens it carries no `scope` and no `jti`: it is a statement to one client, not a key."""
    _require_aware(now)
    _require_aware(auth_time)
    if lifetime <= dt.timedelta(0):
        raise ValueError("a token needs a positive lifetime")
    protocol = {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"}
    if clash := protocol & claims.keys():
        raise ValueError(f"identity claims may not replace {sorted(clash)}")
    issued_at = math.floor(now.timestamp())
    payload: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "exp": issued_at + math.floor(lifetime.total_seconds()),
        "iat": issued_at,
        "auth_time": math.floor(auth_time.timestamp()),
        **({"nonce": nonce} if nonce is not None else {}),
        **claims,
    }
    return _signed(keyset, payload, ID_TOKEN_TYPE)


def _signed(keyset: KeySet, claims: Mapping[str, Any], token_type: str | None) -> str:
    key = keyset.active
    headers = {"kid": key.kid, **({"typ": token_type} if token_type else {})}
    return jwt.encode(
        dict(claims), CryptographyECKey(key.private_key, ALGORITHM), algorithm=ALGORITHM, headers=headers
    )


def unverified_audience(token: str) -> str | None:
    """The single `aud` a token names, read before verification (to choose the audience to verify it
    for); None when the token is malformed or names none or several. Never trust it without
    `verify_token`."""
    try:
        _pinned_header(token)
        claims = _json_object(_base64url_decode(token.split(".")[1]), "malformed claims")
    except InvalidToken:
        return None
    audience = claims.get("aud")
    return audience if isinstance(audience, str) and audience else None


def verify_token(
    token: str,
    keyset: KeySet,
    *,
    issuer: str,
    audience: str = HUB_AUDIENCE,
    now: dt.datetime,
    expected_type: str | None = None,
) -> dict[str, Any]:
    """The claims of `token` once its signature, issuer, audience and times check out at `now` (and its
    header's `typ` is `expected_type`, when given).

    Raises `InvalidToken` (or its `UnknownSigningKey`) for anything else, with a reason safe to show.
    """
    _require_aware(now)
    header = _pinned_header(token)
    if expected_type is not None and header.get("typ") != expected_type:
        raise InvalidToken("wrong token type")
    key = keyset.get(header["kid"])
    if key is None:
        raise UnknownSigningKey("unknown signing key")
    claims = _signed_claims(token, key)
    _check_claims(claims, issuer=issuer, audience=audience, now=now)
    return claims


#: Tokens whose signature checked out, with the key object that checked it (least recently used out).
_SIGNED: collections.OrderedDict[str, tuple[object, dict[str, Any]]] = collections.OrderedDict()
#: How many: a token is ~1 kB, and a client sends the same one for its lifetime (15 minutes for a partner).
SIGNED_TOKENS_KEPT: Final = 2048


def _signed_claims(token: str, key: SigningKeyMaterial) -> dict[str, Any]:
    """The claims of a token whose signature `key` verifies (InvalidToken otherwise). A signature check
    (ECDSA, ~3% of a small request) gives the same answer for the same token and key every time, so it is
    made once per token while kept, for as long as the keyset holds the very key object that made it:
    a key retired, or the keyset read again, checks again. Everything else (times, issuer, audience) is
    checked on every use by the caller."""
    kept = _SIGNED.get(token)
    if kept is not None and kept[0] is key:
        _SIGNED.move_to_end(token)
        return dict(kept[1])
    try:
        payload = jws.verify(token, CryptographyECKey(key.public_key, ALGORITHM), algorithms=[ALGORITHM])
    except JOSEError:
        raise InvalidToken("bad signature") from None
    claims = _json_object(payload, "malformed claims")
    _SIGNED[token] = (key, claims)
    while len(_SIGNED) > SIGNED_TOKENS_KEPT:
        _SIGNED.popitem(last=False)
    return dict(claims)


def viewer_from_claims(claims: Mapping[str, Any]) -> Viewer:
    """The viewer that verified claims name: `sub` is "<kind>:<id>", `scope` space-separated."""
    subject = claims.get("sub")
    if not isinstance(subject, str):
        raise InvalidToken("missing subject")
    kind_name, _, subject_id = subject.partition(":")
    try:
        kind = ViewerKind(kind_name)
    except ValueError:
        raise InvalidToken("unknown subject kind") from None
    if not subject_id:
        raise InvalidToken("missing subject id")
    if kind is ViewerKind.ANONYMOUS:
        raise InvalidToken("unknown subject kind")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise InvalidToken("malformed scope")
    expires = claims.get("exp")
    token_id = claims.get("jti")
    return Viewer(
        kind=kind,
        subject_id=subject_id,
        scopes=frozenset(scope.split()),
        expires_at=dt.datetime.fromtimestamp(expires, dt.UTC) if _is_number(expires) else None,
        token_id=token_id if isinstance(token_id, str) else None,
    )


def _pinned_header(token: str) -> dict[str, Any]:
    # Read the header ourselves so that only ES256 with a key of ours ever reaches the library: this is
    # what refuses `alg: none` and HS256 forgeries keyed with our public key, whatever the library does.
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("malformed token")
    parts = token.split(".")
    if len(parts) != _JWS_PARTS or not all(parts):
        raise InvalidToken("malformed token")
    header = _json_object(_base64url_decode(parts[0]), "malformed header")
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("algorithm not allowed")
    if "crit" in header:
        raise InvalidToken("unsupported critical header")
    if not isinstance(header.get("kid"), str):
        raise InvalidToken("missing key id")
    for part in parts[1:]:
        _base64url_decode(part)
    return header


def _check_claims(claims: Mapping[str, Any], *, issuer: str, audience: str, now: dt.datetime) -> None:
    leeway = CLOCK_LEEWAY.total_seconds()
    at = now.timestamp()
    expires = _numeric_claim(claims, "exp", required=True)
    if expires is not None and at >= expires + leeway:
        raise InvalidToken("token expired")
    not_before = _numeric_claim(claims, "nbf", required=False)
    if not_before is not None and at < not_before - leeway:
        raise InvalidToken("token not yet valid")
    issued_at = _numeric_claim(claims, "iat", required=False)
    if issued_at is not None and at < issued_at - leeway:
        raise InvalidToken("token issued in the future")
    if claims.get("iss") != issuer:
        raise InvalidToken("wrong issuer")
    audiences = claims.get("aud")
    if isinstance(audiences, str):
        audiences = [audiences]
    if not isinstance(audiences, list) or audience not in audiences:
        raise InvalidToken("wrong audience")
    for name in ("sub", "jti"):
        value = claims.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidToken(f"missing {name}")
    if not isinstance(claims.get("scope", ""), str):
        raise InvalidToken("malformed scope")


def _numeric_claim(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not _is_number(value):
        raise InvalidToken(f"missing or malformed {name}")
    return float(value)


def _is_number(value: object) -> TypeGuard[float]:
    # bool is an int in Python but never a NumericDate; NaN, infinity and huge integers from JSON would
    # defeat the comparisons or overflow a datetime.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and abs(value) <= _LATEST_NUMERIC_DATE


def _base64url_decode(segment: str) -> bytes:
    # The alphabet and length checks leave nothing the decoder could reject.
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise InvalidToken("malformed token")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_object(data: bytes, reason: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidToken(reason) from None
    if not isinstance(value, dict):
        raise InvalidToken(reason)
    return value


def _require_aware(now: dt.datetime) -> None:
    # A naive datetime would be read in the machine's local zone and shift every expiry by hours.
    if now.tzinfo is None:
        raise ValueError("`now` must carry a time zone")
