"""Sign-in through a network provider over HTTP: the provider registers its key with its own partner
token, its portal posts a signed assertion to /login/assertion through the browser, and the teacher is
signed in (a STAFF session) yet stays inactive in the hub; and every assertion that must not sign anyone
in is refused with its reason, changing nothing."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import hmac
import http.server
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import func, insert, select, update

from datasources.access.jwks_fetch import check_jwks_url
from datasources.access.signing_keys import load_keyset
from datasources.store.tables import (
    ASSERTION_KEY_SETS,
    DISCLOSURES,
    PARTNERS,
    SCHOOLS,
    STAFF_ACCOUNTS,
    STAFF_MEMBERS,
    STUDENTS,
    USED_ASSERTIONS,
    WEB_SESSIONS,
)
from resolvers import admin
from resolvers.network_assertions import SIGN_IN_OPERATION
from tests.e2e.conftest import operator_token_at
from tests.e2e.local_http import serving
from tests.e2e.test_feed import client_token
from tests.e2e.test_imports import school_file
from tests.e2e.test_staff_roles import CODE, COORDINATOR, NOW, OTHER_CODE, YEAR, Hub, _school, hub_at
from tests.e2e.web import graphql, session_csrf_token, sign_in_form

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.school_files.model import SchoolFile
    from settings import Settings

TEACHER = "els@school.example"
CREATE_PARTNER = """mutation($n: String!, $k: PartnerKind!) { createPartner(name: $n, kind: $k,
    declaredCategories: [STAFF_BASIC, STUDENT_BASIC]) { partner { id } clientId clientSecret } }"""
GRANT = """mutation($c: String!, $p: ID!) { grantConsent(schoolCode: $c, partnerId: $p,
    categories: [STAFF_BASIC, STUDENT_BASIC]) { categories } }"""
DPA = """mutation { recordDpaSignature(boardNumber: "99999", signedBy: "J. de Wit",
    chamberOfCommerceNumber: "12345678", version: "2026") { number } }"""
REGISTER = """mutation($p: ID, $j: String, $u: String) { registerAssertionKeys(partnerId: $p, jwks: $j,
    jwksUrl: $u) { partnerId jwksUrl keys { kid alg kty } } }"""
READ_KEYS = "query($p: ID) { assertionKeys(partnerId: $p) { keys { kid alg kty } jwksUrl } }"
STAFF_ACTIVE = (
    "query($c: String!) { school(code: $c) { staff(first: 50) { edges { node { email active } } } } }"
)


@dataclass
class Provider:
    """A partner with its credentials, a token of its own, and a signing key it generated."""

    partner_id: str
    client_id: str
    token: str
    key: ec.EllipticCurvePrivateKey
    kid: str

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK of its key, with its kid."""
        return {**json.loads(ECAlgorithm.to_jwk(self.key.public_key())), "kid": self.kid}

    def sign(self, hub: Hub, **claims: Any) -> str:
        """An assertion for the hub, valid for two minutes from the hub's now, with `claims` on top."""
        issued = int(hub.settings.now().timestamp())
        body = {
            "iss": self.client_id,
            "aud": hub.settings.issuer,
            "iat": issued,
            "exp": issued + 120,
            "jti": secrets.token_urlsafe(12),
            **claims,
        }
        return jwt.encode(
            {name: value for name, value in body.items() if value is not None},
            self.key,
            algorithm="ES256",
            headers={"kid": self.kid},
        )


@dataclass
class World:
    """The hub with two schools (CODE and OTHER_CODE on one board with a signed DPA), their operator
    and coordinator tokens, and the partners: network providers with consent at CODE (`provider`,
    `second`), one without any (`stranger`), and a publisher with consent at CODE."""

    hub: Hub
    operator: str
    coordinator: str
    provider: Provider
    second: Provider
    stranger: Provider
    publisher: Provider


def hs256_token(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """An HS256 JWT keyed with `secret` (made by hand: PyJWT rightly refuses a public key as HMAC secret)."""
    encode = jwt.utils.base64url_encode
    signing_input = b".".join(
        encode(json.dumps(part).encode()) for part in ({"alg": "HS256", "typ": "JWT", "kid": kid}, claims)
    )
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + encode(signature)).decode()


def _ok(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _partner(hub: Hub, operator: str, name: str, kind: str) -> Provider:
    created = _ok(await hub.graphql(CREATE_PARTNER, {"n": name, "k": kind}, operator))["createPartner"]
    token = await client_token(hub.client, created["clientId"], created["clientSecret"])
    key = ec.generate_private_key(ec.SECP256R1())
    return Provider(created["partner"]["id"], created["clientId"], token, key, f"{name.lower()}-1")


@contextlib.asynccontextmanager
async def _world(settings: Settings, engine: AsyncEngine) -> AsyncIterator[World]:
    await _school(settings, CODE)
    await _school(settings, OTHER_CODE)
    async with hub_at(settings, NOW) as hub:
        operator = operator_token_at(await load_keyset(engine, now=NOW), hub.settings, NOW)
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        _ok(await hub.graphql(DPA, {}, operator))
        provider = await _partner(hub, operator, "Netwerk", "NETWORK_PROVIDER")
        second = await _partner(hub, operator, "Tweede", "NETWORK_PROVIDER")
        stranger = await _partner(hub, operator, "Vreemd", "NETWORK_PROVIDER")
        publisher = await _partner(hub, operator, "Uitgever", "PUBLISHER")
        for partner in (provider, second, publisher):
            _ok(await hub.graphql(GRANT, {"c": CODE, "p": partner.partner_id}, coordinator))
        for partner in (provider, second, stranger):
            registered = await hub.graphql(REGISTER, {"j": json.dumps(partner.public_jwk())}, partner.token)
            assert _ok(registered)["registerAssertionKeys"]["keys"] == [
                {"kid": partner.kid, "alg": "ES256", "kty": "EC"}
            ]
        yield World(hub, operator, coordinator, provider, second, stranger, publisher)


def _browser(hub: Hub) -> httpx.AsyncClient:
    """Another browser (its own cookies) on the same hub."""
    return httpx.AsyncClient(transport=hub.client._transport, base_url="http://leerpoort.test")


@contextlib.asynccontextmanager
async def _posted(
    hub: Hub, assertion: str, **fields: str
) -> AsyncIterator[tuple[httpx.Response, httpx.AsyncClient]]:
    """A new browser posts the assertion (as the provider's portal makes it do); it keeps the cookies."""
    async with _browser(hub) as browser:
        response = await browser.post("/login/assertion", data={"assertion": assertion, **fields})
        yield response, browser


async def _post(hub: Hub, assertion: str) -> httpx.Response:
    """The answer to a new browser posting the assertion."""
    async with _posted(hub, assertion) as (response, _browser_used):
        return response


async def _instelling_ref(engine: AsyncEngine, code: str) -> str:
    async with engine.connect() as connection:
        return str(await connection.scalar(select(SCHOOLS.c.instelling_ref).where(SCHOOLS.c.code == code)))


async def _counts(engine: AsyncEngine) -> tuple[int, ...]:
    counts = []
    async with engine.connect() as connection:
        for table in (WEB_SESSIONS, STAFF_ACCOUNTS, USED_ASSERTIONS):
            counts.append(int(await connection.scalar(select(func.count()).select_from(table)) or 0))
    return tuple(counts)


async def _teacher_state(engine: AsyncEngine) -> tuple[list[bool], list[tuple[bool, bool]]]:
    async with engine.connect() as connection:
        members = (
            await connection.scalars(select(STAFF_MEMBERS.c.active).where(STAFF_MEMBERS.c.email == TEACHER))
        ).all()
        accounts = (
            await connection.execute(
                select(STAFF_ACCOUNTS.c.active, STAFF_ACCOUNTS.c.assertion_only).where(
                    STAFF_ACCOUNTS.c.email == TEACHER
                )
            )
        ).all()
    return list(members), [(bool(row.active), bool(row.assertion_only)) for row in accounts]


async def test_a_network_providers_assertion_signs_a_teacher_in_and_the_teacher_stays_inactive(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _world(settings, engine) as world:
        hub = world.hub
        read = _ok(await hub.graphql(READ_KEYS, {}, world.provider.token))["assertionKeys"]
        assert read == {"keys": [{"kid": world.provider.kid, "alg": "ES256", "kty": "EC"}], "jwksUrl": None}

        async with _posted(hub, world.provider.sign(hub, email=TEACHER), next="/login") as (
            response,
            browser,
        ):
            assert response.status_code == 303, response.text
            assert response.headers["location"] == "/login"
            viewer = (await graphql(browser, "{ viewer { kind subject scopes } }")).json()["data"]["viewer"]
            assert viewer["kind"] == "STAFF"
            assert viewer["scopes"] == ["staff"]
            async with engine.connect() as connection:
                account_id = await connection.scalar(
                    select(STAFF_ACCOUNTS.c.id).where(STAFF_ACCOUNTS.c.email == TEACHER)
                )
            assert viewer["subject"] == f"staff:{account_id}"

        # The teacher is still inactive: in the graph, in the store, and password sign-in fails.
        staff = _ok(await hub.graphql(STAFF_ACTIVE, {"c": CODE}, world.coordinator))["school"]["staff"][
            "edges"
        ]
        assert [edge["node"]["active"] for edge in staff if edge["node"]["email"] == TEACHER] == [False]
        assert await _teacher_state(engine) == ([False, False], [(False, True)])
        async with _browser(hub) as other:
            for password in ("", "!assertion-only", "a-long-coordinator-password"):
                refused = await sign_in_form(
                    other, {"soort": "medewerker", "email": TEACHER, "wachtwoord": password, "next": "/"}
                )
                assert refused.status_code == 401
        sign_in = "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { token } }"
        token = await hub.client.post(
            "/graphql", json={"query": sign_in, "variables": {"e": TEACHER, "p": "x"}}
        )
        assert token.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

        # A second assertion uses the same account; the import removing her disables it and ends the session.
        async with _posted(hub, world.provider.sign(hub, email=TEACHER.upper())) as (response, browser):
            assert response.status_code == 303, response.text
            csrf = await session_csrf_token(browser)
            assert (await graphql(browser, "{ viewer { kind } }", csrf=csrf)).json()["data"]["viewer"][
                "kind"
            ] == "STAFF"
            async with engine.begin() as connection:  # what an import that removes her does to the account
                await connection.execute(
                    update(STAFF_ACCOUNTS)
                    .where(STAFF_ACCOUNTS.c.email == TEACHER)
                    .values(assertion_only=False)
                )
            ended = await graphql(browser, "{ viewer { kind } }", csrf=csrf)
            assert ended.status_code == 401, ended.text
        async with _posted(hub, world.provider.sign(hub, email=TEACHER)) as (response, browser):
            assert response.status_code == 403
            assert "uitgeschakeld" in response.text


async def test_a_student_signs_in_by_eck_id_narrowed_to_the_school(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _world(settings, engine) as world:
        hub = world.hub
        async with engine.begin() as connection:
            student_id = await connection.scalar(select(func.min(STUDENTS.c.id)))
            await connection.execute(
                update(STUDENTS)
                .where(STUDENTS.c.id == student_id)
                .values(eck_id="https://ketenid.nl/201703/abc")
            )
        ref = await _instelling_ref(engine, CODE)
        assertion = world.provider.sign(hub, eck_id="https://ketenid.nl/201703/abc", instelling_ref=ref)
        async with _posted(hub, assertion) as (response, browser):
            assert (response.status_code, response.headers["location"]) == (303, "/")
            viewer = (await graphql(browser, "{ viewer { kind subject } }")).json()["data"]["viewer"]
            assert viewer == {"kind": "STUDENT", "subject": f"student:{student_id}"}


async def test_assertions_that_must_not_sign_anyone_in_are_refused_with_their_reason(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _world(settings, engine) as world:
        hub, provider = world.hub, world.provider
        other_ref = await _instelling_ref(engine, OTHER_CODE)
        async with engine.begin() as connection:  # the teacher works at CODE only, from now on
            other_school = select(SCHOOLS.c.id).where(SCHOOLS.c.code == OTHER_CODE).scalar_subquery()
            await connection.execute(
                update(STAFF_MEMBERS)
                .where(STAFF_MEMBERS.c.school_id == other_school)
                .values(email="piet@other.example")
            )
        replayed = provider.sign(hub, email=TEACHER)
        first = await _post(hub, replayed)
        assert first.status_code == 303
        before, teacher = await _counts(engine), await _teacher_state(engine)
        now = int(hub.settings.now().timestamp())
        header = jwt.utils.base64url_encode(
            json.dumps({"alg": "none", "kid": provider.kid}).encode()
        ).decode()
        payload = jwt.utils.base64url_encode(
            json.dumps(
                {
                    "iss": provider.client_id,
                    "aud": hub.settings.issuer,
                    "iat": now,
                    "exp": now + 60,
                    "jti": "none-1",
                    "email": TEACHER,
                }
            ).encode()
        ).decode()
        public_as_secret = json.dumps(provider.public_jwk()).encode()
        claims = {"iss": provider.client_id, "aud": hub.settings.issuer, "iat": now, "exp": now + 60}
        hs256 = hs256_token({**claims, "jti": "hs-1", "email": TEACHER}, public_as_secret, provider.kid)
        unregistered = Provider(
            provider.partner_id, provider.client_id, "", ec.generate_private_key(ec.SECP256R1()), "nope"
        )
        others_key = Provider(
            provider.partner_id, provider.client_id, "", world.second.key, world.second.kid
        )  # another provider's registered key, under its kid
        others_key_own_kid = Provider(
            provider.partner_id, provider.client_id, "", world.second.key, provider.kid
        )
        cases: list[tuple[str, str, int, str]] = [
            ("no consent", world.stranger.sign(hub, email=TEACHER), 403, "geen toestemming"),
            ("unregistered key", unregistered.sign(hub, email=TEACHER), 401, "sleutel die we niet kennen"),
            (
                "another provider's key",
                others_key.sign(hub, email=TEACHER),
                401,
                "sleutel die we niet kennen",
            ),
            (
                "another provider's key, own kid",
                others_key_own_kid.sign(hub, email=TEACHER),
                401,
                "handtekening",
            ),
            ("alg none", f"{header}.{payload}.", 400, "geen geldig"),
            ("alg none, signed", f"{header}.{payload}.c2ln", 401, "toegestane methode"),
            ("HS256 with the public key", hs256, 401, "toegestane methode"),
            ("expired", provider.sign(hub, email=TEACHER, iat=now - 400, exp=now - 100), 401, "verlopen"),
            ("lifetime too long", provider.sign(hub, email=TEACHER, exp=now + 3600), 401, "te lang geldig"),
            (
                "wrong audience",
                provider.sign(hub, email=TEACHER, aud="https://elders.example"),
                401,
                "niet voor",
            ),
            ("replayed", replayed, 401, "al gebruikt"),
            (
                "another school",
                provider.sign(hub, email=TEACHER, instelling_ref=other_ref),
                403,
                "niet bij de school",
            ),
            ("unknown person", provider.sign(hub, email="nobody@school.example"), 401, "kennen je niet"),
            ("a publisher", world.publisher.sign(hub, email=TEACHER), 403, "netwerkaanbieder"),
            ("malformed", "not-a-jwt", 400, "geen geldig"),
            ("no person", provider.sign(hub), 400, "mist gegevens"),
            (
                "iat in the future",
                provider.sign(hub, email=TEACHER, iat=now + 600, exp=now + 700),
                401,
                "nog niet",
            ),
        ]
        for name, assertion, status, reason in cases:
            response = await _post(hub, assertion)
            assert (name, response.status_code) == (name, status), response.text
            assert reason in response.text, (name, response.text)
            assert "leerpoort_session" not in response.headers.get("set-cookie", ""), name
        async with _browser(hub) as browser:
            oversized = await browser.post("/login/assertion", data={"assertion": "a" * 20_000})
            assert oversized.status_code == 400
            assert "te groot" in oversized.text
            not_a_form = await browser.post("/login/assertion", json={"assertion": replayed})
            assert not_a_form.status_code == 400
        assert await _counts(engine) == before
        assert await _teacher_state(engine) == teacher


async def test_only_a_network_provider_registers_its_own_public_keys(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _world(settings, engine) as world:
        hub, provider = world.hub, world.provider
        jwk = json.dumps(provider.public_jwk())
        refusals = [
            (world.publisher.token, {"j": jwk}, "FORBIDDEN"),
            (world.second.token, {"j": jwk, "p": provider.partner_id}, "FORBIDDEN"),
            (world.coordinator, {"j": jwk, "p": provider.partner_id}, "FORBIDDEN"),
            (world.operator, {"j": jwk, "p": world.publisher.partner_id}, "FORBIDDEN"),
            (
                provider.token,
                {"j": json.dumps({**json.loads(ECAlgorithm.to_jwk(provider.key)), "kid": "p"})},
                "BAD_USER_INPUT",
            ),
            (
                provider.token,
                {"j": json.dumps({"kty": "oct", "k": "c2VjcmV0", "kid": "s"})},
                "BAD_USER_INPUT",
            ),
            (provider.token, {"j": json.dumps({**provider.public_jwk(), "kid": None})}, "BAD_USER_INPUT"),
            (provider.token, {"j": "{not json"}, "BAD_USER_INPUT"),
            (provider.token, {}, "BAD_USER_INPUT"),
            (provider.token, {"j": jwk, "u": "https://keys.example/jwks.json"}, "BAD_USER_INPUT"),
        ]
        for token, variables, code in refusals:
            refused = await hub.graphql(REGISTER, variables, token)
            assert refused["errors"][0]["extensions"]["code"] == code, (variables, refused)
        # Nothing changed: the provider's one key is still the one it registered.
        read = _ok(await hub.graphql(READ_KEYS, {}, provider.token))["assertionKeys"]
        assert read["keys"] == [{"kid": provider.kid, "alg": "ES256", "kty": "EC"}]
        # The operator registers an RSA JWKS for it, and reads it back (kids, never key material).
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        rsa_jwk = {**json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "rsa-1"}
        jwks = json.dumps({"keys": [provider.public_jwk(), rsa_jwk]})
        registered = _ok(await hub.graphql(REGISTER, {"j": jwks, "p": provider.partner_id}, world.operator))
        assert [key["kid"] for key in registered["registerAssertionKeys"]["keys"]] == [provider.kid, "rsa-1"]
        read = _ok(await hub.graphql(READ_KEYS, {"p": provider.partner_id}, world.operator))["assertionKeys"]
        assert read["keys"][1] == {"kid": "rsa-1", "alg": "RS256", "kty": "RSA"}
        issued = int(hub.settings.now().timestamp())
        assertion = jwt.encode(
            {"iss": provider.client_id, "aud": hub.settings.issuer, "iat": issued, "exp": issued + 60,
             "jti": "rsa-jti", "email": TEACHER}, rsa_key, algorithm="RS256", headers={"kid": "rsa-1"},
        )  # fmt: skip
        response = await _post(hub, assertion)
        assert response.status_code == 303, response.text


@contextlib.contextmanager
def _jwks_server(documents: list[dict[str, Any]]) -> Iterator[str]:
    """A local HTTP server answering the last of `documents` as its JWKS (a test may append to it)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(documents[-1]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as port:
        yield f"http://127.0.0.1:{port}/jwks.json"


async def test_a_jwks_url_is_fetched_cached_and_refetched_on_an_unknown_kid(
    settings: Settings, engine: AsyncEngine
) -> None:
    # The test's JWKS server is on loopback, which only an allow-listed host may be.
    local = settings.model_copy(update={"jwks_allowed_hosts": "127.0.0.1"})
    async with _world(local, engine) as world:
        hub, provider = world.hub, world.provider
        documents = [{"keys": [provider.public_jwk()]}]
        with _jwks_server(documents) as url:
            registered = _ok(await hub.graphql(REGISTER, {"u": url}, provider.token))["registerAssertionKeys"]
            assert registered["jwksUrl"] == url
            assert [key["kid"] for key in registered["keys"]] == [provider.kid]
            # The provider rotates: a new key appears at the URL; within the minute the cache is kept.
            rotated = Provider(
                provider.partner_id,
                provider.client_id,
                "",
                ec.generate_private_key(ec.SECP256R1()),
                "rotated",
            )
            documents.append({"keys": [provider.public_jwk(), rotated.public_jwk()]})
            response = await _post(hub, rotated.sign(hub, email=TEACHER))
            assert response.status_code == 401
            # A minute later (the fetch is dated by the wall clock), the unknown kid fetches the URL again.
            async with engine.begin() as connection:
                await connection.execute(
                    update(ASSERTION_KEY_SETS).values(
                        fetched_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
                    )
                )
            response = await _post(hub, rotated.sign(hub, email=TEACHER))
            assert response.status_code == 303, response.text


async def test_two_browsers_posting_the_same_assertion_at_once_sign_in_once(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _world(settings, engine) as world:
        assertion = world.provider.sign(world.hub, email=TEACHER)
        answers = await asyncio.gather(*(_post(world.hub, assertion) for _ in range(4)))
        assert sorted(answer.status_code for answer in answers) == [303, 401, 401, 401]
        async with engine.connect() as connection:
            sessions = await connection.scalar(select(func.count()).select_from(WEB_SESSIONS))
        assert sessions == 1


async def test_an_import_that_removes_the_teacher_everywhere_disables_her_assertion_account(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _world(settings, engine) as world:
        hub = world.hub
        async with _posted(hub, world.provider.sign(hub, email=TEACHER)) as (response, browser):
            assert response.status_code == 303, response.text
            csrf = await session_csrf_token(browser)
            at = hub.settings
            without_her = dataclasses.replace(school_file(CODE, YEAR), staff=())
            for code in (CODE, OTHER_CODE):
                file = dataclasses.replace(without_her, brin=code[:4], location_code=code[4:])
                report = await admin.import_file(
                    at, functools.partial(_same, file), dry_run=False, confirm=True
                )
                assert not report.held
                # Still a member of the other school (not activated there either): the account stays.
                expected = [(False, True)] if code == CODE else [(False, False)]
                assert (await _teacher_state(engine))[1] == expected, code
            ended = await graphql(browser, "{ viewer { kind } }", csrf=csrf)
            assert ended.status_code == 401, ended.text
        again = await _post(hub, world.provider.sign(hub, email=TEACHER))
        assert again.status_code == 401  # nobody of that address is left: an unknown person


def _same(file: SchoolFile) -> SchoolFile:
    return file


def test_a_jwks_url_is_https_outside_the_sandbox() -> None:
    assert (
        check_jwks_url(" https://keys.example/jwks.json ", https_only=True)
        == "https://keys.example/jwks.json"
    )
    for url in ("http://keys.example/jwks.json", "https://user:pw@keys.example/", "file:///etc/passwd", ""):
        with pytest.raises(ValueError, match="JWKS URL"):
            check_jwks_url(url, https_only=True)
    assert check_jwks_url("http://127.0.0.1:9/jwks.json", https_only=False)


async def test_a_revoked_consent_ends_the_sessions_the_providers_assertions_started(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _world(settings, engine) as world:
        hub = world.hub
        async with _posted(hub, world.provider.sign(hub, email=TEACHER)) as (response, browser):
            assert response.status_code == 303, response.text
            csrf = await session_csrf_token(browser)
            revoke = "mutation($c: String!, $p: ID!) { revokeConsent(schoolCode: $c, partnerId: $p) { id } }"
            _ok(await hub.graphql(revoke, {"c": CODE, "p": world.provider.partner_id}, world.coordinator))
            ended = await graphql(browser, "{ viewer { kind } }", csrf=csrf)
            assert ended.status_code == 401, ended.text
        # The other provider, whose consent stands, still signs her in.
        async with _posted(hub, world.second.sign(hub, email=TEACHER)) as (response, browser):
            assert response.status_code == 303, response.text


async def _sign_in_audit(engine: AsyncEngine) -> list[tuple[str, str, list[str], int]]:
    """(partner client id, school code, categories, records) of the audit's assertion sign-ins."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(PARTNERS.c.client_id, SCHOOLS.c.code, DISCLOSURES.c.categories, DISCLOSURES.c.records)
            .join(PARTNERS, PARTNERS.c.id == DISCLOSURES.c.partner_id)
            .join(SCHOOLS, SCHOOLS.c.id == DISCLOSURES.c.school_id)
            .where(DISCLOSURES.c.operation_name == SIGN_IN_OPERATION)
            .order_by(DISCLOSURES.c.id)
        )
        return [(row[0], row[1], sorted(row[2]), row[3]) for row in rows]


async def test_every_assertion_sign_in_is_in_the_schools_disclosure_audit_and_a_refused_one_is_not(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _world(settings, engine) as world:
        hub = world.hub
        async with engine.begin() as connection:
            student_id = await connection.scalar(
                select(func.min(STUDENTS.c.id))
                .select_from(STUDENTS)
                .join(SCHOOLS, SCHOOLS.c.id == STUDENTS.c.school_id)
                .where(SCHOOLS.c.code == CODE)
            )
            await connection.execute(
                update(STUDENTS)
                .where(STUDENTS.c.id == student_id)
                .values(eck_id="https://ketenid.nl/201703/x")
            )
        assert (await _post(hub, world.provider.sign(hub, email=TEACHER))).status_code == 303
        assert (
            await _post(hub, world.second.sign(hub, eck_id="https://ketenid.nl/201703/x"))
        ).status_code == 303
        # Refused: no consent, a replay, an unknown person. The provider learnt nothing: nothing recorded.
        replayed = world.provider.sign(hub, email=TEACHER, jti="once")
        assert (await _post(hub, replayed)).status_code == 303
        for refused in (
            world.stranger.sign(hub, email=TEACHER),
            replayed,
            world.provider.sign(hub, email="niemand@school.example"),
        ):
            assert (await _post(hub, refused)).status_code in {401, 403}

    assert await _sign_in_audit(engine) == [
        (world.provider.client_id, CODE, ["STAFF_BASIC"], 1),
        (world.second.client_id, CODE, ["STUDENT_BASIC"], 1),
        (world.provider.client_id, CODE, ["STAFF_BASIC"], 1),
    ]


async def test_a_provider_consented_at_one_school_signs_nobody_in_as_more_than_staff_of_that_school(
    settings: Settings, engine: AsyncEngine
) -> None:
    # Found by the security review: a member row at CODE carrying the address of OTHER_CODE's coordinator
    # (an import or a hand-added member; she never activated it) let CODE's network provider open a
    # session with her coordinator rights at OTHER_CODE, a school that gave the provider no consent.
    victim = f"{OTHER_CODE.lower()}-{COORDINATOR}"
    async with _world(settings, engine) as world:
        hub = world.hub
        async with engine.begin() as connection:
            school_id = await connection.scalar(select(SCHOOLS.c.id).where(SCHOOLS.c.code == CODE))
            person_id = await connection.scalar(
                select(STAFF_MEMBERS.c.person_id).where(STAFF_MEMBERS.c.school_id == school_id).limit(1)
            )
            await connection.execute(
                insert(STAFF_MEMBERS).values(
                    person_id=person_id, school_id=school_id, las_key="planted", last_name="Planted",
                    email=victim, roles=[], las_roles=[], active=False, source="hub",
                )
            )  # fmt: skip
        async with _posted(hub, world.provider.sign(hub, email=victim)) as (response, browser):
            assert response.status_code == 303, response.text
            csrf = await session_csrf_token(browser)
            viewer = (await graphql(browser, "{ viewer { scopes } }", csrf=csrf)).json()["data"]["viewer"]
            other = (await graphql(browser, OTHER_STAFF, {"c": OTHER_CODE}, csrf=csrf)).json()
            me = (await graphql(browser, "{ me { schools { code } } }", csrf=csrf)).json()

    # The provider vouched for someone at CODE only: no coordinator scopes, nothing of OTHER_CODE.
    assert viewer["scopes"] == ["staff"]
    assert other["data"]["school"] is None
    assert OTHER_CODE not in json.dumps(me), me


OTHER_STAFF = "query($c: String!) { school(code: $c) { staff(first: 5) { edges { node { email } } } } }"
