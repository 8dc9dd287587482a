"""Hub tokens: what verifies, what is refused, and that partners' own libraries accept them."""

from __future__ import annotations

import ast
import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auth.key_material import KeySet, SigningKeyMaterial, generate_signing_key, jwks
from auth.tokens import (
    CLOCK_LEEWAY,
    MAX_TOKEN_BYTES,
    OPERATOR_TOKEN_LIFETIME,
    PARTNER_TOKEN_LIFETIME,
    InvalidToken,
    UnknownSigningKey,
    mint_token,
    verify_token,
    viewer_from_claims,
)
from auth.viewer import ViewerKind

ISSUER = "https://hub.test"
NOW = dt.datetime(2025, 3, 3, 8, 30, tzinfo=dt.UTC)
NOT_UTF8 = b"\xff\xfe"


@pytest.fixture(scope="module")
def key() -> SigningKeyMaterial:
    """One signing key for the module: generating keys is the slow part of these tests."""
    return generate_signing_key(NOW - dt.timedelta(days=1))


@pytest.fixture
def keyset(key: SigningKeyMaterial) -> KeySet:
    """A key set holding only `key`."""
    return KeySet((key,))


def _mint(keyset: KeySet, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "issuer": ISSUER,
        "subject": "partner:uitgeverij-noord",
        "scopes": ["student.basic", "group.basic"],
        "lifetime": PARTNER_TOKEN_LIFETIME,
        "now": NOW,
    }
    arguments.update(overrides)
    return mint_token(keyset, **arguments)


def _verify(token: str, keyset: KeySet, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {"issuer": ISSUER, "now": NOW}
    arguments.update(overrides)
    return verify_token(token, keyset, **arguments)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64_json(value: object) -> str:
    return _b64(json.dumps(value).encode())


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "leerpoort",
        "sub": "operator:helpdesk",
        "scope": "",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + dt.timedelta(minutes=5)).timestamp()),
        "jti": "forged",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _hs256(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{_b64_json(header)}.{_b64_json(claims)}"
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _es256(key: SigningKeyMaterial, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
    # Signed by PyJWT with our real key: lets a test send claims that `mint_token` would never produce.
    return pyjwt.encode(claims, key.private_key, algorithm="ES256", headers=headers or {"kid": key.kid})


def test_minted_token_verifies_and_names_the_partner_with_its_scopes(keyset: KeySet) -> None:
    claims = _verify(_mint(keyset), keyset)
    viewer = viewer_from_claims(claims)

    assert claims["iss"] == ISSUER
    assert claims["aud"] == "leerpoort"
    assert viewer.kind is ViewerKind.PARTNER
    assert viewer.subject_id == "uitgeverij-noord"
    assert viewer.scopes == {"student.basic", "group.basic"}
    assert viewer.expires_at == NOW + PARTNER_TOKEN_LIFETIME
    assert viewer.token_id == claims["jti"]


def test_minted_token_header_names_es256_and_the_active_key(keyset: KeySet, key: SigningKeyMaterial) -> None:
    header = pyjwt.get_unverified_header(_mint(keyset))

    assert header["alg"] == "ES256"
    assert header["kid"] == key.kid


def test_every_token_gets_its_own_id(keyset: KeySet) -> None:
    first, second = (_verify(_mint(keyset), keyset) for _ in range(2))

    assert first["jti"] != second["jti"]


def test_launch_token_verifies_only_for_the_partner_it_was_minted_for(keyset: KeySet) -> None:
    token = _mint(keyset, audience="client-abc", extra_claims={"instelling_ref": "ref-1"})

    assert _verify(token, keyset, audience="client-abc")["instelling_ref"] == "ref-1"
    with pytest.raises(InvalidToken, match="wrong audience"):
        _verify(token, keyset)


def test_a_token_stays_valid_through_its_lifetime_and_the_clock_leeway(keyset: KeySet) -> None:
    token = _mint(keyset, subject="operator:helpdesk", lifetime=OPERATOR_TOKEN_LIFETIME)
    last_moment = NOW + OPERATOR_TOKEN_LIFETIME + CLOCK_LEEWAY - dt.timedelta(seconds=1)

    assert viewer_from_claims(_verify(token, keyset, now=last_moment)).kind is ViewerKind.OPERATOR


def test_expired_token_is_refused(keyset: KeySet) -> None:
    token = _mint(keyset)

    with pytest.raises(InvalidToken, match="token expired"):
        _verify(token, keyset, now=NOW + PARTNER_TOKEN_LIFETIME + CLOCK_LEEWAY)


def test_token_not_yet_valid_is_refused(keyset: KeySet) -> None:
    token = _mint(keyset, extra_claims={"nbf": int((NOW + dt.timedelta(minutes=5)).timestamp())})

    with pytest.raises(InvalidToken, match="not yet valid"):
        _verify(token, keyset)
    assert _verify(token, keyset, now=NOW + dt.timedelta(minutes=5))["sub"] == "partner:uitgeverij-noord"


def test_token_issued_in_the_future_is_refused(keyset: KeySet) -> None:
    token = _mint(keyset, now=NOW + dt.timedelta(minutes=2))

    with pytest.raises(InvalidToken, match="issued in the future"):
        _verify(token, keyset)


def test_token_for_another_audience_is_refused(keyset: KeySet) -> None:
    with pytest.raises(InvalidToken, match="wrong audience"):
        _verify(_mint(keyset, audience="someone-else"), keyset)


def test_token_from_another_issuer_is_refused(keyset: KeySet) -> None:
    with pytest.raises(InvalidToken, match="wrong issuer"):
        _verify(_mint(keyset, issuer="https://evil.test"), keyset)


def test_token_signed_by_a_key_the_hub_does_not_hold_is_refused(keyset: KeySet) -> None:
    stranger = KeySet((generate_signing_key(NOW),))

    with pytest.raises(UnknownSigningKey, match="unknown signing key"):
        _verify(_mint(stranger), keyset)


def test_token_with_a_known_kid_but_a_strangers_signature_is_refused(
    keyset: KeySet, key: SigningKeyMaterial
) -> None:
    stranger = generate_signing_key(NOW)
    forged = pyjwt.encode(_claims(), stranger.private_key, algorithm="ES256", headers={"kid": key.kid})

    with pytest.raises(InvalidToken, match="bad signature"):
        _verify(forged, keyset)


def test_tampered_payload_is_refused(keyset: KeySet) -> None:
    header, _, signature = _mint(keyset).split(".")
    promoted = _b64_json(_claims(sub="operator:helpdesk"))

    with pytest.raises(InvalidToken, match="bad signature"):
        _verify(f"{header}.{promoted}.{signature}", keyset)


@pytest.mark.parametrize("signature", ["", "c2ln"], ids=["empty signature", "some signature"])
def test_unsigned_token_with_alg_none_is_refused(
    keyset: KeySet, key: SigningKeyMaterial, signature: str
) -> None:
    token = f"{_b64_json({'alg': 'none', 'kid': key.kid})}.{_b64_json(_claims())}.{signature}"

    with pytest.raises(InvalidToken):
        _verify(token, keyset)


def _public_pem(key: SigningKeyMaterial) -> bytes:
    return key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _public_der(key: SigningKeyMaterial) -> bytes:
    return key.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(_public_pem, id="public key PEM"),
        pytest.param(_public_der, id="public key DER"),
        pytest.param(lambda key: json.dumps(key.public_jwk).encode(), id="public JWK"),
        pytest.param(lambda key: b"", id="empty key"),
    ],
)
def test_hs256_forgery_keyed_with_public_material_is_refused(
    keyset: KeySet, key: SigningKeyMaterial, secret: Any
) -> None:
    forged = _hs256(secret(key), {"alg": "HS256", "typ": "JWT", "kid": key.kid}, _claims())

    with pytest.raises(InvalidToken, match="algorithm not allowed"):
        _verify(forged, keyset)


def test_token_without_a_kid_is_refused(keyset: KeySet, key: SigningKeyMaterial) -> None:
    token = _es256(key, _claims(), headers={"typ": "JWT"})

    with pytest.raises(InvalidToken, match="missing key id"):
        _verify(token, keyset)


def test_token_with_a_critical_header_extension_is_refused(keyset: KeySet, key: SigningKeyMaterial) -> None:
    token = _es256(key, _claims(), headers={"kid": key.kid, "crit": ["exp"]})

    with pytest.raises(InvalidToken, match="critical header"):
        _verify(token, keyset)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        pytest.param(_claims(exp=None), "exp", id="no exp"),
        pytest.param(_claims(exp="2099-01-01"), "exp", id="exp as text"),
        pytest.param(_claims(exp=True), "exp", id="exp as boolean"),
        pytest.param(_claims(exp=10**30), "exp", id="exp beyond any date"),
        pytest.param(_claims(sub=None), "sub", id="no sub"),
        pytest.param(_claims(jti=None), "jti", id="no jti"),
        pytest.param(_claims(jti=""), "jti", id="empty jti"),
        pytest.param(_claims(aud=None), "audience", id="no aud"),
        pytest.param(_claims(iss=None), "issuer", id="no iss"),
        pytest.param(_claims(scope=["student.basic"]), "scope", id="scope as a list"),
    ],
)
def test_validly_signed_token_with_missing_or_malformed_claims_is_refused(
    keyset: KeySet, key: SigningKeyMaterial, claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidToken, match=reason):
        _verify(_es256(key, claims), keyset)


def test_audience_list_that_names_the_hub_is_accepted(keyset: KeySet, key: SigningKeyMaterial) -> None:
    claims = _verify(_es256(key, _claims(aud=["other", "leerpoort"])), keyset)

    assert claims["aud"] == ["other", "leerpoort"]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("not a token", id="words"),
        pytest.param("a.b", id="two parts"),
        pytest.param("a.b.c.d", id="four parts"),
        pytest.param("!!!.e30.c2ln", id="header not base64url"),
        pytest.param("eyJhbGciOiJFUzI1NiJ9=.e30.c2ln", id="padded header"),
        pytest.param(f"{_b64(b'not json')}.e30.c2ln", id="header not JSON"),
        pytest.param(f"{_b64(NOT_UTF8)}.e30.c2ln", id="header not UTF-8"),
        pytest.param(f"{_b64_json(['ES256'])}.e30.c2ln", id="header not an object"),
        pytest.param("e" * (MAX_TOKEN_BYTES + 1), id="huge"),
    ],
)
def test_garbage_is_refused_as_an_invalid_token(keyset: KeySet, token: str) -> None:
    with pytest.raises(InvalidToken, match="malformed"):
        _verify(token, keyset)


def test_validly_signed_payload_that_is_not_a_claims_object_is_refused(
    keyset: KeySet, key: SigningKeyMaterial
) -> None:
    token = pyjwt.PyJWS().encode(b"[1, 2]", key.private_key, algorithm="ES256", headers={"kid": key.kid})

    with pytest.raises(InvalidToken, match="malformed claims"):
        _verify(token, keyset)


def test_huge_token_is_refused_before_it_is_parsed(keyset: KeySet, key: SigningKeyMaterial) -> None:
    token = _es256(key, _claims(padding="x" * MAX_TOKEN_BYTES))

    with pytest.raises(InvalidToken, match="malformed token"):
        _verify(token, keyset)


def test_refusal_reasons_never_quote_the_token(keyset: KeySet) -> None:
    token = _mint(keyset)

    with pytest.raises(InvalidToken) as refused:
        _verify(token, keyset, now=NOW + dt.timedelta(days=1))
    assert all(part not in str(refused.value) for part in token.split("."))


@pytest.mark.parametrize(
    ("subject", "kind", "subject_id"),
    [
        ("operator:helpdesk", ViewerKind.OPERATOR, "helpdesk"),
        ("las:parnassys-1", ViewerKind.LAS, "parnassys-1"),
        ("staff:42", ViewerKind.STAFF, "42"),
        ("student:7", ViewerKind.STUDENT, "7"),
        ("partner:urn:client:9", ViewerKind.PARTNER, "urn:client:9"),
    ],
)
def test_subject_names_the_viewer_kind_and_id(subject: str, kind: ViewerKind, subject_id: str) -> None:
    viewer = viewer_from_claims(_claims(sub=subject))

    assert (viewer.kind, viewer.subject_id, viewer.subject) == (kind, subject_id, subject)


@pytest.mark.parametrize("subject", ["parent:1", "helpdesk", "staff:", ":1"])
def test_subject_of_an_unknown_kind_or_without_id_is_refused(subject: str) -> None:
    with pytest.raises(InvalidToken, match="subject"):
        viewer_from_claims(_claims(sub=subject))


def test_minting_refuses_extra_claims_that_would_replace_the_registered_ones(keyset: KeySet) -> None:
    with pytest.raises(ValueError, match="sub"):
        _mint(keyset, extra_claims={"sub": "operator:helpdesk"})


def test_minting_refuses_a_scope_with_spaces(keyset: KeySet) -> None:
    with pytest.raises(ValueError, match="scope"):
        _mint(keyset, scopes=["student.basic student.name"])


def test_pyjwt_verifies_hub_tokens_with_the_published_jwks(keyset: KeySet, key: SigningKeyMaterial) -> None:
    token = _mint(keyset)
    published = json.loads(json.dumps(jwks(keyset)))
    jwk = next(entry for entry in published["keys"] if entry["kid"] == key.kid)

    claims = pyjwt.decode(
        token,
        pyjwt.PyJWK(jwk).key,
        algorithms=["ES256"],
        audience="leerpoort",
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["sub"] == "partner:uitgeverij-noord"


def test_jwks_publishes_the_public_key_and_nothing_private(keyset: KeySet, key: SigningKeyMaterial) -> None:
    (published,) = jwks(keyset)["keys"]

    assert published == {
        "kty": "EC",
        "crv": "P-256",
        "x": published["x"],
        "y": published["y"],
        "kid": key.kid,
        "use": "sig",
        "alg": "ES256",
    }
    assert pyjwt.PyJWK(published).key.public_numbers() == key.public_key.public_numbers()


def test_key_material_never_shows_its_private_key_in_a_repr(key: SigningKeyMaterial) -> None:
    assert "PRIVATE" not in repr(key)
    assert "PRIVATE" not in repr(KeySet((key,)))


def test_a_key_set_signs_with_its_newest_unretired_key(key: SigningKeyMaterial) -> None:
    newer = generate_signing_key(NOW)
    retired_newest = generate_signing_key(NOW + dt.timedelta(hours=1))
    retired = SigningKeyMaterial(
        kid=retired_newest.kid,
        private_pem=retired_newest.private_pem,
        created_at=retired_newest.created_at,
        retired_at=NOW + dt.timedelta(hours=2),
    )
    keyset = KeySet((key, retired, newer))

    assert keyset.active.kid == newer.kid
    assert pyjwt.get_unverified_header(_mint(keyset))["kid"] == newer.kid
    assert [entry["kid"] for entry in jwks(keyset)["keys"]] == [newer.kid, retired.kid, key.kid]


def test_only_the_token_modules_import_the_jose_library() -> None:
    # Hub tokens, and network providers' sign-in assertions: both pin the algorithm before decoding.
    root = Path(__file__).resolve().parents[2]
    sources = [
        path
        for room in ("auth", "datasources", "resolvers", "schema")
        for path in (root / room).rglob("*.py")
    ] + [path for path in (root / "server.py", root / "settings.py") if path.exists()]
    importers = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name == "jose" or name.startswith("jose.") for name in names):
                importers.add(path.relative_to(root).as_posix())

    assert importers == {"auth/tokens.py", "auth/assertions.py"}


def test_a_stored_key_on_another_curve_is_refused_when_loaded() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

    with pytest.raises(ValueError, match="not a P-256 key"):
        SigningKeyMaterial(kid="p384", private_pem=p384.decode(), created_at=NOW)


def test_a_key_set_needs_a_key_to_sign_with_and_each_kid_once(key: SigningKeyMaterial) -> None:
    retired = SigningKeyMaterial(
        kid=key.kid, private_pem=key.private_pem, created_at=key.created_at, retired_at=NOW
    )

    with pytest.raises(ValueError, match="unretired"):
        KeySet((retired,))
    with pytest.raises(ValueError, match="each kid once"):
        KeySet((key, retired))


def test_minting_and_verifying_refuse_a_clock_without_a_zone(keyset: KeySet) -> None:
    naive = NOW.replace(tzinfo=None)

    with pytest.raises(ValueError, match="time zone"):
        _mint(keyset, now=naive)
    with pytest.raises(ValueError, match="time zone"):
        _verify(_mint(keyset), keyset, now=naive)


def test_minting_refuses_a_lifetime_that_is_not_positive(keyset: KeySet) -> None:
    with pytest.raises(ValueError, match="positive lifetime"):
        _mint(keyset, lifetime=dt.timedelta(0))


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        pytest.param({"scope": "a"}, "missing subject", id="no sub"),
        pytest.param({"sub": "staff:1", "scope": 3}, "malformed scope", id="scope as a number"),
    ],
)
def test_claims_without_a_usable_subject_or_scope_name_no_viewer(claims: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        viewer_from_claims(claims)


# --- a signature checked once per token and key ---------------------------------------------------------


def test_a_token_checked_before_is_still_refused_once_it_expired(keyset: KeySet) -> None:
    token = _mint(keyset)
    assert _verify(token, keyset)["sub"] == "partner:uitgeverij-noord"

    with pytest.raises(InvalidToken):
        _verify(token, keyset, now=NOW + PARTNER_TOKEN_LIFETIME + CLOCK_LEEWAY + dt.timedelta(seconds=1))
    with pytest.raises(InvalidToken):
        _verify(token, keyset, issuer="https://another.test")


def test_a_token_checked_before_is_checked_again_against_another_key_of_the_same_kid(
    keyset: KeySet, key: SigningKeyMaterial
) -> None:
    # A keyset read again holds new key objects; one that reuses the kid with another key pair must not
    # accept a token the old pair signed on the strength of the earlier check.
    token = _mint(keyset)
    _verify(token, keyset)
    impostor = dataclasses.replace(generate_signing_key(NOW), kid=key.kid)

    with pytest.raises(InvalidToken, match="bad signature"):
        _verify(token, KeySet((impostor,)))
    with pytest.raises(UnknownSigningKey):
        _verify(token, KeySet((generate_signing_key(NOW),)))


def test_the_claims_of_a_token_checked_before_are_a_copy_each_time(keyset: KeySet) -> None:
    token = _mint(keyset)
    first = _verify(token, keyset)
    first["sub"] = "operator:someone"

    assert _verify(token, keyset)["sub"] == "partner:uitgeverij-noord"
