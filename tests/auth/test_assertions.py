"""Network providers' assertion keys and assertions (auth.assertions) without a hub: what a key must be
to be registered, and every way an assertion fails its header, signature or claims."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from auth.assertions import AssertionRefused, InvalidKeys, parse_keys, parse_keys_json, verify_assertion

NOW = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
HUB = "https://leerpoort.test"
PROVIDER = "netwerk-abc"
KEY = ec.generate_private_key(ec.SECP256R1())


def _jwk(key: Any, kid: str = "k1", **extra: Any) -> dict[str, Any]:
    algorithm = (
        ECAlgorithm
        if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey)
        else RSAAlgorithm
    )
    return {**json.loads(algorithm.to_jwk(key)), "kid": kid, **extra}


def _assertion(key: Any = KEY, kid: str = "k1", algorithm: str = "ES256", **claims: Any) -> str:
    at = int(NOW.timestamp())
    body = {
        "iss": PROVIDER,
        "aud": HUB,
        "iat": at,
        "exp": at + 60,
        "jti": "j1",
        "email": "a@b.example",
        **claims,
    }
    return jwt.encode(
        {k: v for k, v in body.items() if v is not None}, key, algorithm=algorithm, headers={"kid": kid}
    )


def _verify(token: str, keys: Any = None) -> Any:
    registered = parse_keys(keys or _jwk(KEY.public_key()))
    return verify_assertion(token, registered, issuer=PROVIDER, audience=HUB, now=NOW)


def test_a_valid_assertion_gives_its_jti_expiry_and_person() -> None:
    claims = _verify(_assertion(instelling_ref="ref-1"))
    assert (claims.jti, claims.email, claims.eck_id, claims.instelling_ref) == (
        "j1",
        "a@b.example",
        None,
        "ref-1",
    )
    assert claims.expires_at == NOW + dt.timedelta(seconds=60)


@pytest.mark.parametrize(
    "document",
    [
        _jwk(KEY),  # the private key
        {"kty": "oct", "k": "c2VjcmV0", "kid": "s"},
        _jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(), d="AQAB"),
        # A key too short to trust: generated here only to be refused.
        _jwk(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()),  # noqa: S505
        _jwk(ec.generate_private_key(ec.SECP384R1()).public_key()),
        _jwk(KEY.public_key(), alg="RS256"),
        _jwk(KEY.public_key(), use="enc"),
        {**_jwk(KEY.public_key()), "kid": ""},
        {"keys": [_jwk(KEY.public_key()), _jwk(KEY.public_key())]},  # the same kid twice
        {"keys": []},
        {**_jwk(KEY.public_key()), "x": "not base64!"},
        [],
    ],
)
def test_only_public_es256_and_rs256_keys_with_a_kid_are_registered(document: Any) -> None:
    with pytest.raises(InvalidKeys):
        parse_keys(document)


def test_a_jwks_document_of_ec_and_rsa_keys_is_read_with_public_members_only() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    keys = parse_keys_json(json.dumps({"keys": [_jwk(KEY.public_key()), _jwk(rsa_key, "r1")]}))
    assert [(key.kid, key.algorithm) for key in keys] == [("k1", "ES256"), ("r1", "RS256")]
    assert set(keys[0].jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    with pytest.raises(InvalidKeys):
        parse_keys_json("{")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (_assertion(kid="other"), "unknown_key"),
        (_assertion(key=ec.generate_private_key(ec.SECP256R1())), "signature"),
        (_assertion(iss="someone-else"), "issuer"),
        (_assertion(aud="https://elsewhere.example"), "audience"),
        (_assertion(aud=["https://elsewhere.example", HUB]), None),
        (_assertion(exp=int(NOW.timestamp()) - 31, iat=int(NOW.timestamp()) - 100), "expired"),
        (
            _assertion(exp=int(NOW.timestamp()) - 29, iat=int(NOW.timestamp()) - 100),
            None,
        ),  # within the leeway
        (_assertion(exp=int(NOW.timestamp()) + 301, iat=int(NOW.timestamp())), "lifetime"),
        (_assertion(iat=int(NOW.timestamp()) + 31, exp=int(NOW.timestamp()) + 90), "not_yet_valid"),
        (_assertion(nbf=int(NOW.timestamp()) + 60), "not_yet_valid"),
        (_assertion(iat=None), "claims"),
        (_assertion(exp=None), "claims"),
        (_assertion(exp=True), "claims"),
        (_assertion(jti=None), "claims"),
        (_assertion(email=None), "claims"),
        (_assertion(eck_id="https://ketenid.nl/x"), "claims"),  # both an e-mail address and an ECK-iD
        (_assertion(email=42), "claims"),
        ("a.b", "malformed"),
        ("x" * 9000, "malformed"),
        ("e30.e30.c2ln", "algorithm"),
    ],
)
def test_an_assertion_is_refused_for_its_reason(token: str, reason: str | None) -> None:
    if reason is None:
        assert _verify(token).jti == "j1"
        return
    with pytest.raises(AssertionRefused) as refused:
        _verify(token)
    assert refused.value.reason == reason


def test_an_rs256_assertion_verifies_with_its_rsa_key_only() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = {"keys": [_jwk(private.public_key(), "r1"), _jwk(KEY.public_key())]}
    assert _verify(_assertion(key=private, kid="r1", algorithm="RS256"), keys).jti == "j1"
    with pytest.raises(AssertionRefused) as refused:  # an ES256 header for the RSA key's kid
        _verify(_assertion(key=KEY, kid="r1"), keys)
    assert refused.value.reason == "algorithm"
