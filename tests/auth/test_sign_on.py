"""Single sign-on's rules: who may sign in to a partner, what is disclosed, PKCE; and the tokens of the
code flow (an id_token with exactly its claims, an access token of its own type).
The launch rule is auth.launches' (tests/auth/test_launches.py)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import jwt as pyjwt
import pytest

from auth.categories import DataCategory
from auth.key_material import KeySet, SigningKeyMaterial, generate_signing_key
from auth.networks import NetworkContext
from auth.policy import PartnerFacts, SchoolConsent, Scope, partner_scope
from auth.sign_on import (
    Refusal,
    disclosed_categories,
    sign_in_context,
    sign_on_refusal,
    valid_code_challenge,
    verifier_matches,
)
from auth.tokens import (
    ACCESS_TOKEN_TYPE,
    HUB_AUDIENCE,
    InvalidToken,
    mint_id_token,
    mint_token,
    unverified_audience,
    verify_token,
)
from auth.viewer import Viewer, ViewerKind

NOW = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)
ISSUER = "https://hub.test"
SCHOOL, UNSIGNED, OTHER = 1, 2, 3
VERIFIER = "a-verifier-of-enough-length_0123456789.abcdefghij~"


def _scope(granted: set[DataCategory], *, dpa_signed: bool = True, eck_chain: bool = False) -> Scope:
    facts = PartnerFacts(
        partner_id=7,
        declared=frozenset(DataCategory),
        eck_chain=eck_chain,
        consents=(
            SchoolConsent(SCHOOL, frozenset(granted), school_active=True, dpa_signed=True),
            SchoolConsent(UNSIGNED, frozenset(granted), school_active=True, dpa_signed=dpa_signed),
        ),
    )
    return partner_scope(
        Viewer(ViewerKind.PARTNER, "client"), facts, require_dpa=True, pseudonym_key=b"k" * 32
    )


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def test_a_partner_without_consent_at_the_school_may_not_sign_its_people_in() -> None:
    scope = _scope({DataCategory.STUDENT_BASIC})
    assert sign_on_refusal(scope, OTHER, "student") is Refusal.NO_CONSENT


def test_an_unsigned_dpa_refuses_the_sign_in_as_no_consent() -> None:
    scope = _scope({DataCategory.STUDENT_BASIC}, dpa_signed=False)
    assert sign_on_refusal(scope, UNSIGNED, "student") is Refusal.NO_CONSENT
    assert sign_on_refusal(scope, SCHOOL, "student") is None


def test_a_consent_without_the_persons_basic_category_is_not_enough() -> None:
    scope = _scope({DataCategory.STUDENT_BASIC, DataCategory.STUDENT_NAME})
    assert sign_on_refusal(scope, SCHOOL, "student") is None
    assert sign_on_refusal(scope, SCHOOL, "staff") is Refusal.NOT_GRANTED


def test_the_sign_in_context_is_where_the_person_was() -> None:
    assert sign_in_context(NetworkContext.SCHOOL) == "SCHOOL"
    assert sign_in_context(NetworkContext.HOME) == "HOME"


def test_the_audit_names_only_what_the_sign_in_disclosed() -> None:
    scope = _scope({DataCategory.STUDENT_BASIC, DataCategory.STUDENT_NAME, DataCategory.GROUP_BASIC})
    plain = disclosed_categories(scope, SCHOOL, "student", names=False, groups=False)
    assert plain == {DataCategory.SCHOOL_BASIC, DataCategory.STUDENT_BASIC}
    everything = disclosed_categories(scope, SCHOOL, "student", names=True, groups=True)
    assert everything == plain | {DataCategory.STUDENT_NAME, DataCategory.GROUP_BASIC}


def test_pkce_s256_accepts_the_right_verifier_only() -> None:
    challenge = _challenge(VERIFIER)
    assert valid_code_challenge(challenge)
    assert verifier_matches(VERIFIER, challenge)
    assert not verifier_matches(VERIFIER + "x", challenge)
    # The plain method (verifier == challenge) is not S256 and never matches.
    assert not verifier_matches(challenge, challenge)
    # Too short for RFC 7636, however it hashes.
    short = "abc"
    assert not verifier_matches(short, _challenge(short))
    assert not valid_code_challenge("plain-challenge")


@pytest.fixture(scope="module")
def keyset() -> KeySet:
    """One signing key."""
    key: SigningKeyMaterial = generate_signing_key(NOW - dt.timedelta(days=1))
    return KeySet((key,))


def test_an_id_token_carries_exactly_its_protocol_and_identity_claims(keyset: KeySet) -> None:
    token = mint_id_token(
        keyset,
        issuer=ISSUER,
        audience="client-a",
        subject="pseudonym",
        lifetime=dt.timedelta(minutes=5),
        now=NOW,
        auth_time=NOW - dt.timedelta(minutes=3),
        nonce="n-1",
        claims={"role": "student", "context": "SCHOOL"},
    )
    # An independent library (PyJWT) verifies it with the hub's public key.
    claims = pyjwt.decode(
        token, keyset.active.public_key, algorithms=["ES256"], audience="client-a", issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )  # fmt: skip
    assert set(claims) == {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "role", "context"}
    assert claims["auth_time"] == int((NOW - dt.timedelta(minutes=3)).timestamp())
    with pytest.raises(ValueError, match="may not replace"):
        mint_id_token(
            keyset, issuer=ISSUER, audience="a", subject="s", lifetime=dt.timedelta(minutes=1), now=NOW,
            auth_time=NOW, nonce=None, claims={"aud": "other"},
        )  # fmt: skip


def test_only_an_access_token_of_the_code_flow_passes_where_one_is_expected(keyset: KeySet) -> None:
    access = mint_token(
        keyset, issuer=ISSUER, subject="pseudonym", scopes=["openid"], lifetime=dt.timedelta(minutes=15),
        now=NOW, audience="client-a", token_type=ACCESS_TOKEN_TYPE, token_id="grant-1",
    )  # fmt: skip
    claims = verify_token(
        access, keyset, issuer=ISSUER, audience="client-a", now=NOW, expected_type=ACCESS_TOKEN_TYPE
    )
    assert claims["jti"] == "grant-1"
    assert unverified_audience(access) == "client-a"
    id_token = mint_id_token(
        keyset, issuer=ISSUER, audience="client-a", subject="pseudonym", lifetime=dt.timedelta(minutes=5),
        now=NOW, auth_time=NOW, nonce=None, claims={},
    )  # fmt: skip
    with pytest.raises(InvalidToken, match="wrong token type"):
        verify_token(
            id_token, keyset, issuer=ISSUER, audience="client-a", now=NOW, expected_type=ACCESS_TOKEN_TYPE
        )
    # The hub's own audience refuses it, so /graphql never takes a sign-in's access token.
    with pytest.raises(InvalidToken, match="wrong audience"):
        verify_token(access, keyset, issuer=ISSUER, audience=HUB_AUDIENCE, now=NOW)
    assert unverified_audience("not.a.token") is None
