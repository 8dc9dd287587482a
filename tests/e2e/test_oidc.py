"""Single sign-on over real HTTP against the hub served by uvicorn: the hub as an OpenID Connect provider.

An independent client library (Authlib's `AsyncOAuth2Client` over httpx, PKCE S256) runs the code flow
through discovery, and joserfc (Authlib's JOSE library; `authlib.jose` is deprecated in favour of it)
verifies the id_token against the hub's JWKS. The browser is a second httpx client that signs in on
`/login` and keeps its cookies; redirects to the partner's (loopback) addresses are caught, never followed.
The partner is told exactly the listed claims, `sub` is the pseudonym the graph shows it, two partners
get different `sub` for the same child, a teacher of group 5 launches group 5's product (third-party
initiated login) and the partner's code flow reaches its redirect URI with a code, a teacher of group 4
is refused with the reason. Bad input: each a clear error, nothing changed. Both engines.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.parse
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import jwt as pyjwt
import pytest
from authlib.deprecate import AuthlibDeprecationWarning
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import KeySet
from jwt.algorithms import ECAlgorithm
from sqlalchemy import insert, select, update

from auth.categories import DataCategory
from auth.credentials import hash_secret
from auth.identifiers import PartnerIdentifiers, global_id
from auth.policy import operator_scope
from auth.viewer import Viewer, ViewerKind
from datasources.access import consent_lifecycle, license_admin, school_networks
from datasources.access.network_assertions import store_key_set
from datasources.access.signing_keys import load_keyset
from datasources.access.student_logins import save_student_login
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from datasources.store.calendar import school_year_of
from datasources.store.tables import (
    BOARDS,
    DISCLOSURES,
    OIDC_CLIENTS,
    OIDC_CODES,
    PARTNERS,
    SCHOOLS,
    STAFF_ACCOUNTS,
    STAFF_MEMBERS,
    STUDENTS,
)
from resolvers import admin
from resolvers.accounts import register_partner
from tests.e2e.conftest import operator_token_at, process_environment
from tests.e2e.web import form_csrf_token, session_csrf_token, sign_in_staff, sign_in_student, student_fields

with warnings.catch_warnings():
    # Authlib 1.9 warns that it prefers the `httpx2` package name over httpx; the client is the same.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

STARTUP_TIMEOUT_SECONDS = 30.0
PASSWORD = "tulp fiets regen kompas"
CHILD_PASSWORD = "zon-maan-ster-42"
ELS, PIET = "els.kok@school.example", "piet.mol@school.example"
ANNA_ECK = "https://ketenid.nl/201703/" + "a1" * 32
LAUNCH_URL = "https://rekenroute.example/start"
_OPERATOR = operator_scope(Viewer(ViewerKind.OPERATOR, "helpdesk"))
#: The protocol claims of every id_token.
PROTOCOL = {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Client:
    """A partner's registered OpenID Connect client: its credentials and loopback URIs."""

    partner_id: int
    client_id: str
    client_secret: str
    redirect_uri: str
    login_uri: str


@dataclass(frozen=True)
class Hub:
    """The running hub, the school and what the test set up in it."""

    base_url: str
    code: str
    school_id: int
    instelling_ref: str
    rekenroute: Client
    taalpad: Client
    product_id: int
    unconsented_product_id: int
    operator_token: str


@pytest.fixture
def server(world: SeedSummary, settings: Settings, tmp_path: Path) -> Iterator[str]:
    """`uvicorn server:create_app --factory` on the seeded database, its issuer its own address."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "uvicorn", "server:create_app", "--factory"]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter running this suite, fixed arguments
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            # The test client stands in for a reverse proxy: X-Forwarded-For names where a person is.
            env=process_environment(
                settings, LEERPOORT_ISSUER=base_url, LEERPOORT_TRUSTED_PROXIES="127.0.0.1"
            ),
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{base_url}/health").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not become healthy:\n{log.read_text()}")
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _school_file(code: str, year: str) -> SchoolFile:
    """Anna (with an ECK-iD) and Bram in group 5, Cas in group 4; Els Kok teaches 5, Piet Mol 4."""
    groups = (
        ImportedGroup("L4", "Groep 4", "4", composite=False),
        ImportedGroup("L5", "Groep 5", "5", False),
    )
    pupils = (
        ImportedStudent("S1", ANNA_ECK, "Anna", None, "Visser", "A", dt.date(2018, 3, 1), "5", "L5", ()),
        ImportedStudent("S2", None, "Bram", "de", "Jong", "B", dt.date(2018, 4, 1), "5", "L5", ()),
        ImportedStudent("S3", None, "Cas", None, "Bakker", "C", dt.date(2019, 5, 1), "4", "L4", ()),
    )
    staff = (
        ImportedStaff("M1", None, "Els", None, "Kok", ELS, ("LRK",), ("L5",)),
        ImportedStaff("M2", None, "Piet", None, "Mol", PIET, ("LRK",), ("L4",)),
    )
    return SchoolFile(code[:4], code[4:], year, None, groups, pupils, staff, source="test")


async def _graphql(
    base_url: str, query: str, variables: dict[str, Any] | None = None, *, token: str
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = response.json()
    return body


async def _partner_token(base_url: str, client: Client) -> str:
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, client.client_secret),
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


REGISTER = """mutation($p: ID!, $r: [String!]!, $l: String) {
    registerOidcClient(partnerId: $p, redirectUris: $r, loginInitiationUri: $l) {
    name oidcClient { redirectUris loginInitiationUri } } }"""


async def _partner(
    engine: AsyncEngine, settings: Settings, name: str, categories: list[DataCategory], *, eck_chain: bool
) -> tuple[int, str, str]:
    credentials = await register_partner(
        engine, name=name, kind="PUBLISHER", categories=categories, eck_chain=eck_chain, now=settings.now()
    )
    return credentials.partner_id, credentials.client_id, credentials.client_secret


@pytest.fixture
async def hub(server: str, engine: AsyncEngine, settings: Settings) -> Hub:
    """The school (of a board that signed the DPA) with its people, two consented partners with their
    clients registered (one by the operator, one by itself), a product licensed to group 5, and a
    product of a third partner that has no consent."""
    now = settings.now()
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(SCHOOLS.c.id, SCHOOLS.c.code, SCHOOLS.c.instelling_ref)
                .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
                .where(BOARDS.c.dpa_signed_at.is_not(None), SCHOOLS.c.active.is_(True))
                .order_by(SCHOOLS.c.id)
                .limit(1)
            )
        ).one()
    school_id, code, reference = row
    report = await admin.import_file(
        settings, lambda: _school_file(code, school_year_of(now.date())), dry_run=False, confirm=True
    )
    assert not report.errors, report.errors
    async with engine.begin() as connection:
        # The teachers activated their accounts (the mail round trip is tests/e2e/test_staff_mail.py's).
        for email in (ELS, PIET):
            await connection.execute(
                insert(STAFF_ACCOUNTS).values(
                    email=email,
                    password_hash=hash_secret(PASSWORD),
                    active=True,
                    created_by="test",
                    created_at=now,
                )
            )
            await connection.execute(
                update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.email == email).values(active=True)
            )
        anna = (
            await connection.execute(
                select(STUDENTS.c.id).where(
                    STUDENTS.c.school_id == school_id, STUDENTS.c.first_name == "Anna"
                )
            )
        ).scalar_one()
    await save_student_login(
        engine,
        student_id=anna,
        school_id=school_id,
        username="anna",
        password_hash=hash_secret(CHILD_PASSWORD),
        picture_hash=None,
        picture_sealed=None,
        now=now,
        by="test",
    )
    basic = [DataCategory.STUDENT_BASIC, DataCategory.STAFF_BASIC]
    rekenroute_grants = [DataCategory.GROUP_BASIC, *basic, DataCategory.STUDENT_NAME, DataCategory.LICENSE]
    a_id, a_client, a_secret = await _partner(
        engine, settings, "Rekenroute BV", rekenroute_grants, eck_chain=True
    )
    b_id, b_client, b_secret = await _partner(engine, settings, "Taalpad", basic, eck_chain=False)
    c_id, _c_client, _c_secret = await _partner(
        engine, settings, "Zonder Toestemming", basic, eck_chain=False
    )
    for partner_id, granted in ((a_id, rekenroute_grants), (b_id, basic)):
        await consent_lifecycle.grant(
            engine,
            _OPERATOR,
            school_id=school_id,
            partner_id=partner_id,
            categories=[DataCategory.SCHOOL_BASIC, *granted],
            now=now,
        )
    product_ids = []
    for partner_id, name in ((a_id, "Rekenroute"), (c_id, "Zonder")):
        product = await license_admin.create_product(
            engine, _OPERATOR, partner_id, name=name, allowed_at_home=False, launch_url=LAUNCH_URL
        )
        license_ = await license_admin.create_license(
            engine,
            _OPERATOR,
            school_id=school_id,
            product_id=product.id,
            partner_id=partner_id,
            seats=None,
            valid_from=now.date() - dt.timedelta(days=30),
            valid_until=None,
            now=now,
        )
        await license_admin.couple(
            engine, _OPERATOR, license_.id, partner_id=partner_id, group_ids=[], year_levels=["5"], now=now
        )
        product_ids.append(product.id)
    served = settings.model_copy(update={"issuer": server})
    operator = operator_token_at(await load_keyset(engine, now=now), served, now)
    # Loopback addresses only: nothing listens there, the test catches the redirects.
    clients = []
    for partner_id, client_id, secret in ((a_id, a_client, a_secret), (b_id, b_client, b_secret)):
        port = _free_port()
        clients.append(
            Client(
                partner_id,
                client_id,
                secret,
                f"http://127.0.0.1:{port}/callback",
                f"http://127.0.0.1:{port}/oidc/login?tenant=school",
            )
        )
    rekenroute, taalpad = clients
    # The operator registers Rekenroute's client; Taalpad registers its own, as its own id shows it.
    shown = await _graphql(
        server,
        REGISTER,
        {
            "p": global_id("Partner", str(a_id)),
            "r": [rekenroute.redirect_uri],
            "l": rekenroute.login_uri,
        },
        token=operator,
    )
    assert "errors" not in shown, shown
    assert shown["data"]["registerOidcClient"]["oidcClient"] == {
        "redirectUris": [rekenroute.redirect_uri],
        "loginInitiationUri": rekenroute.login_uri,
    }
    own = PartnerIdentifiers(b_id, settings.pseudonym_key.get_secret_value().encode()).show("Partner", b_id)
    taalpad_token = await _partner_token(server, taalpad)
    registered = await _graphql(
        server, REGISTER, {"p": global_id("Partner", own), "r": [taalpad.redirect_uri]}, token=taalpad_token
    )
    assert "errors" not in registered, registered
    assert registered["data"]["registerOidcClient"]["oidcClient"]["redirectUris"] == [taalpad.redirect_uri]
    return Hub(
        server, code, school_id, reference, rekenroute, taalpad, product_ids[0], product_ids[1], operator
    )


# --- the code flow, as a partner's library runs it ---------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """What a completed code flow gave the partner."""

    claims: dict[str, Any]
    userinfo: dict[str, Any]
    token: dict[str, Any]


def _relying_party(client: Client) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=client.client_id,
        client_secret=client.client_secret,
        scope="openid",
        redirect_uri=client.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        trust_env=False,
    )


async def _code_flow(hub: Hub, client: Client, browser: httpx.AsyncClient, **extra: str) -> SignIn:
    """Discovery, authorize in the browser's session (the redirect to the partner caught), the token
    exchange and the userinfo call by Authlib, and the id_token verified by joserfc with the JWKS."""
    async with _relying_party(client) as relying_party:
        metadata = (
            await relying_party.request(
                "GET", f"{hub.base_url}/.well-known/openid-configuration", withhold_token=True
            )
        ).json()
        assert metadata["issuer"] == hub.base_url
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        url, state = relying_party.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
        )
        answer = await browser.get(url)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(client.redirect_uri + "?"), location
        returned = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        assert returned["state"] == state
        assert set(returned) == {"code", "state"}, returned
        token = await relying_party.fetch_token(
            metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
        keys = KeySet.import_key_set(
            (await relying_party.request("GET", metadata["jwks_uri"], withhold_token=True)).json()
        )
        verified = jwt.decode(token["id_token"], keys, algorithms=["ES256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": hub.base_url},
            aud={"essential": True, "value": client.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(verified.claims)
        assert verified.header["alg"] == "ES256"
        userinfo = (await relying_party.get(metadata["userinfo_endpoint"])).json()
    return SignIn(dict(verified.claims), userinfo, dict(token))


def _browser(hub: Hub) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=hub.base_url, trust_env=False, follow_redirects=False)


STUDENTS_OF_GROUPS = """query($c: String!) { school(code: $c) { groups { edges { node { id name
    students { edges { node { pseudonym firstName } } } staff { edges { node { pseudonym } } } } } } } }"""
STUDENTS_ONLY = """query($c: String!) { school(code: $c) { students { edges { node { pseudonym } } } } }"""


async def _disclosures(engine: AsyncEngine, partner_id: int) -> list[tuple[str, list[str]]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(DISCLOSURES.c.operation_name, DISCLOSURES.c.categories)
            .where(DISCLOSURES.c.partner_id == partner_id, DISCLOSURES.c.operation_name.like("OpenID%"))
            .order_by(DISCLOSURES.c.id)
        )
        return [(row[0], sorted(row[1])) for row in rows]


async def test_an_openid_connect_library_signs_a_child_in_with_exactly_the_listed_claims(
    hub: Hub, engine: AsyncEngine
) -> None:
    async with _browser(hub) as browser:
        await sign_in_student(browser, hub.code, "anna", password=CHILD_PASSWORD)
        rekenroute = await _code_flow(hub, hub.rekenroute, browser)
        taalpad = await _code_flow(hub, hub.taalpad, browser)

    # Rekenroute: in the ECK chain, granted names and groups: every identity claim it may have.
    claims = rekenroute.claims
    assert set(claims) == PROTOCOL | {
        "instelling_ref", "role", "context", "groups", "eck_id", "given_name", "family_name", "initials",
    }  # fmt: skip
    assert claims["instelling_ref"] == hub.instelling_ref
    assert (claims["role"], claims["context"], claims["eck_id"]) == ("student", "SCHOOL", ANNA_ECK)
    assert (claims["given_name"], claims["family_name"], claims["initials"]) == ("Anna", "Visser", "A")
    # `sub` and `groups` are what the graph shows this partner: Anna's pseudonym and group 5's id.
    token = await _partner_token(hub.base_url, hub.rekenroute)
    graph = await _graphql(hub.base_url, STUDENTS_OF_GROUPS, {"c": hub.code}, token=token)
    groups = {edge["node"]["name"]: edge["node"] for edge in graph["data"]["school"]["groups"]["edges"]}
    [anna] = [s["node"] for s in groups["Groep 5"]["students"]["edges"] if s["node"]["firstName"] == "Anna"]
    assert claims["sub"] == anna["pseudonym"]
    assert claims["groups"] == [groups["Groep 5"]["id"]]
    assert rekenroute.userinfo == {name: claims[name] for name in (set(claims) - PROTOCOL) | {"sub"}}
    assert rekenroute.token["token_type"] == "Bearer"

    # Taalpad: basic categories only, not in the ECK chain: no names, no ECK-iD, no groups.
    assert set(taalpad.claims) == PROTOCOL | {"instelling_ref", "role", "context"}
    assert taalpad.claims["sub"] != claims["sub"]
    token = await _partner_token(hub.base_url, hub.taalpad)
    students = await _graphql(hub.base_url, STUDENTS_ONLY, {"c": hub.code}, token=token)
    assert taalpad.claims["sub"] in {
        edge["node"]["pseudonym"] for edge in students["data"]["school"]["students"]["edges"]
    }
    assert taalpad.userinfo == {"sub": taalpad.claims["sub"], "instelling_ref": hub.instelling_ref,
                                "role": "student", "context": "SCHOOL"}  # fmt: skip

    # Every sign-in (and every userinfo answer) is in the school's audit, with the categories disclosed.
    sign_in = ["GROUP_BASIC", "SCHOOL_BASIC", "STUDENT_BASIC", "STUDENT_NAME"]
    assert await _disclosures(engine, hub.rekenroute.partner_id) == [
        ("OpenID Connect sign-in", sign_in),
        ("OpenID Connect userinfo", sign_in),
    ]
    assert await _disclosures(engine, hub.taalpad.partner_id) == [
        ("OpenID Connect sign-in", ["SCHOOL_BASIC", "STUDENT_BASIC"]),
        ("OpenID Connect userinfo", ["SCHOOL_BASIC", "STUDENT_BASIC"]),
    ]


SCHOOL_RANGE = "192.0.2.0/24"
AT_SCHOOL = {"X-Forwarded-For": "192.0.2.10"}
AT_HOME = {"X-Forwarded-For": "198.51.100.7"}


def _browser_at(hub: Hub, where: dict[str, str]) -> httpx.AsyncClient:
    """A browser behind the hub's proxy at school (a registered range) or at home."""
    return httpx.AsyncClient(base_url=hub.base_url, trust_env=False, follow_redirects=False, headers=where)


async def test_the_school_network_decides_school_or_home_and_a_home_launch_of_a_school_product_is_refused(
    hub: Hub, engine: AsyncEngine, settings: Settings
) -> None:
    await school_networks.add_network(engine, hub.school_id, SCHOOL_RANGE, now=settings.now())
    async with _browser_at(hub, AT_SCHOOL) as at_school, _browser_at(hub, AT_HOME) as at_home:
        await sign_in_student(at_school, hub.code, "anna", password=CHILD_PASSWORD)
        await sign_in_student(at_home, hub.code, "anna", password=CHILD_PASSWORD)
        school_sign_in = await _code_flow(hub, hub.taalpad, at_school)
        home_sign_in = await _code_flow(hub, hub.taalpad, at_home)
        assert (school_sign_in.claims["context"], school_sign_in.userinfo["context"]) == ("SCHOOL", "SCHOOL")
        assert (home_sign_in.claims["context"], home_sign_in.userinfo["context"]) == ("HOME", "HOME")
        assert school_sign_in.claims["sub"] == home_sign_in.claims["sub"]
        # Rekenroute is licensed to Anna's group but not allowed at home.
        from_school = await at_school.get(f"/launch/{_product(hub.product_id)}")
        assert from_school.status_code == 302, from_school.text
        assert from_school.headers["location"].startswith(hub.rekenroute.login_uri.split("?")[0])
        from_home = await at_home.get(f"/launch/{_product(hub.product_id)}")
        assert from_home.status_code == 403
        assert "Niet toegestaan thuis" in from_home.text
        # The start page judges where the person is now, as /launch does: Anna's session from school,
        # taken home, shows no tile of the school-only product.
        tile = f"/launch/{_product(hub.product_id)}"
        assert tile in (await at_school.get("/")).text
        at_school.headers.update(AT_HOME)
        assert tile not in (await at_school.get("/")).text
        assert (await at_school.get(tile)).status_code == 403
    # A forwarded header from a client that is not a trusted proxy counts for nothing: tested in
    # tests/auth/test_networks.py and tests/e2e/test_school_networks.py.


def _product(product_id: int) -> str:
    """A product's id as a signed-in teacher sees it (`Product.id`, the hub's own ids)."""
    return global_id("Product", str(product_id))


async def test_a_teacher_of_group_5_launches_the_product_and_a_teacher_of_group_4_is_refused(
    hub: Hub, engine: AsyncEngine
) -> None:
    async with _browser(hub) as browser:
        # Not signed in: to the sign-in page, which comes back to the launch.
        answer = await browser.get(f"/launch/{_product(hub.product_id)}")
        assert answer.status_code == 302
        assert answer.headers["location"] == "/login?" + urllib.parse.urlencode(
            {"next": f"/launch/{_product(hub.product_id)}"}
        )
        await sign_in_staff(browser, ELS, PASSWORD)
        answer = await browser.get(f"/launch/{_product(hub.product_id)}")
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        login_uri = urllib.parse.urlsplit(hub.rekenroute.login_uri)
        assert location.startswith(f"{login_uri.scheme}://{login_uri.netloc}{login_uri.path}?")
        initiation = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        assert initiation.keys() == {"tenant", "iss", "login_hint", "target_link_uri"}
        assert (initiation["iss"], initiation["target_link_uri"]) == (hub.base_url, LAUNCH_URL)
        # The partner starts its code flow at the issuer it was given, with the hint; it gets a code.
        signed_in = await _code_flow(hub, hub.rekenroute, browser, login_hint=initiation["login_hint"])
    claims = signed_in.claims
    assert set(claims) == PROTOCOL | {"instelling_ref", "role", "context", "groups"}
    assert claims["sub"] == initiation["login_hint"]
    assert (claims["role"], claims["context"]) == ("teacher", "SCHOOL")
    token = await _partner_token(hub.base_url, hub.rekenroute)
    graph = await _graphql(hub.base_url, STUDENTS_OF_GROUPS, {"c": hub.code}, token=token)
    groups = {edge["node"]["name"]: edge["node"] for edge in graph["data"]["school"]["groups"]["edges"]}
    assert claims["groups"] == [groups["Groep 5"]["id"]]
    assert [edge["node"]["pseudonym"] for edge in groups["Groep 5"]["staff"]["edges"]] == [claims["sub"]]
    audited = await _disclosures(engine, hub.rekenroute.partner_id)
    # The launch told the pseudonym only (login_hint); the sign-in the role and groups with it.
    assert audited == [
        ("OpenID Connect launch", ["SCHOOL_BASIC", "STAFF_BASIC"]),
        ("OpenID Connect sign-in", ["GROUP_BASIC", "SCHOOL_BASIC", "STAFF_BASIC"]),
        ("OpenID Connect userinfo", ["GROUP_BASIC", "SCHOOL_BASIC", "STAFF_BASIC"]),
    ]

    async with _browser(hub) as browser:
        await sign_in_staff(browser, PIET, PASSWORD)
        refused = await browser.get(f"/launch/{_product(hub.product_id)}")
        assert refused.status_code == 403
        assert "location" not in refused.headers
        assert "Geen licentie gekoppeld aan jouw groep" in refused.text
        assert 'lang="nl"' in refused.text


async def test_launches_that_may_not_go_ahead_are_refused_with_the_reason(
    hub: Hub, engine: AsyncEngine, settings: Settings
) -> None:
    before = await _disclosures(engine, hub.rekenroute.partner_id)
    async with _browser(hub) as browser:
        await sign_in_staff(browser, ELS, PASSWORD)
        # A product of a partner the school never consented to.
        refused = await browser.get(f"/launch/{_product(hub.unconsented_product_id)}")
        assert refused.status_code == 403
        assert "Geen toestemming van de school" in refused.text
        # A product id as a partner sees it (sealed for that partner) names nothing here; nor does junk.
        sealed = PartnerIdentifiers(hub.rekenroute.partner_id, b"sandbox-pseudonym-key-not-for-production")
        for shown in (global_id("Product", sealed.show("Product", hub.product_id)), "bm9wZQ", "x" * 300):
            missing = await browser.get(f"/launch/{shown}")
            assert missing.status_code == 404
            assert "Dit product bestaat niet" in missing.text
        # A consented and licensed product whose partner registered no login-initiation URI.
        now = dt.datetime.now(dt.UTC)
        product = await license_admin.create_product(
            engine,
            _OPERATOR,
            hub.taalpad.partner_id,
            name="Taalpad",
            allowed_at_home=False,
            launch_url=LAUNCH_URL,
        )
        license_ = await license_admin.create_license(
            engine, _OPERATOR, school_id=hub.school_id, product_id=product.id,
            partner_id=hub.taalpad.partner_id, seats=None, valid_from=now.date(), valid_until=None, now=now,
        )  # fmt: skip
        await license_admin.couple(
            engine,
            _OPERATOR,
            license_.id,
            partner_id=hub.taalpad.partner_id,
            group_ids=[],
            year_levels=["5"],
            now=now,
        )
        refused = await browser.get(f"/launch/{_product(product.id)}")
        assert refused.status_code == 403
        assert "nog niet aangesloten" in refused.text
        # Consent revoked: the product that launched before is refused now.
        await consent_lifecycle.revoke(
            engine,
            _OPERATOR,
            school_id=hub.school_id,
            partner_id=hub.rekenroute.partner_id,
            now=dt.datetime.now(dt.UTC),
        )
        refused = await browser.get(f"/launch/{_product(hub.product_id)}")
        assert refused.status_code == 403
        assert "Geen toestemming van de school" in refused.text
    # A coordinator's account that is no staff member of the school: nobody to sign in as.
    await admin.add_school_coordinator(settings, hub.code, "ict@school.example", PASSWORD)
    async with _browser(hub) as browser:
        await sign_in_staff(browser, "ict@school.example", PASSWORD)
        refused = await browser.get(f"/launch/{_product(hub.product_id)}")
        assert refused.status_code == 403
        assert "op geen school ingeschreven" in refused.text
    assert await _disclosures(engine, hub.rekenroute.partner_id) == before


# --- bad input -------------------------------------------------------------------------------------------


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _authorize_url(hub: Hub, client: Client, **overrides: str | None) -> str:
    parameters: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": _challenge("v" * 50),
        "code_challenge_method": "S256",
    }
    parameters.update(overrides)
    query = urllib.parse.urlencode({name: value for name, value in parameters.items() if value is not None})
    return f"{hub.base_url}/oauth/authorize?{query}"


async def _code(browser: httpx.AsyncClient, hub: Hub, client: Client, verifier: str) -> str:
    answer = await browser.get(_authorize_url(hub, client, code_challenge=_challenge(verifier)))
    assert answer.status_code == 302, answer.text
    returned = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.headers["location"]).query))
    return returned["code"]


async def _exchange(
    hub: Hub, client: Client, code: str, verifier: str, *, redirect_uri: str | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=hub.base_url, trust_env=False) as http:
        return await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri or client.redirect_uri,
                "code_verifier": verifier,
            },
            auth=(client.client_id, client.client_secret),
        )


def _error(answer: httpx.Response) -> tuple[int, str, str]:
    body = answer.json()
    return answer.status_code, body["error"], body["error_description"]


async def _codes(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(OIDC_CODES).order_by(OIDC_CODES.c.id))
        return [tuple(row) for row in rows]


async def test_a_request_for_an_unregistered_client_or_redirect_uri_is_never_redirected(
    hub: Hub, engine: AsyncEngine
) -> None:
    async with _browser(hub) as browser:
        await sign_in_student(browser, hub.code, "anna", password=CHILD_PASSWORD)
        for url, says in (
            (_authorize_url(hub, hub.rekenroute, redirect_uri="http://127.0.0.1:9/evil"), "terugkeeradres"),
            (_authorize_url(hub, hub.rekenroute, redirect_uri=hub.taalpad.redirect_uri), "terugkeeradres"),
            (_authorize_url(hub, hub.rekenroute, redirect_uri=None), "terugkeeradres"),
            (_authorize_url(hub, hub.rekenroute, client_id="unknown-client"), "niet aangemeld"),
            (_authorize_url(hub, hub.rekenroute, client_id=None), "toepassing"),
        ):
            answer = await browser.get(url)
            assert answer.status_code == 400, url
            assert "location" not in answer.headers
            assert says in answer.text
            assert 'lang="nl"' in answer.text
    assert await _codes(engine) == []


async def test_authorize_errors_go_back_to_the_registered_redirect_uri_and_issue_no_code(
    hub: Hub, engine: AsyncEngine
) -> None:
    async with _browser(hub) as browser:
        # Not signed in: to the sign-in page with the whole request as `next`.
        url = _authorize_url(hub, hub.rekenroute)
        answer = await browser.get(url)
        assert answer.status_code == 302
        assert answer.headers["location"] == "/login?" + urllib.parse.urlencode(
            {"next": url.removeprefix(hub.base_url)}
        )
        # Not signed in and `prompt=none`: login_required, back at the client.
        answer = await browser.get(_authorize_url(hub, hub.rekenroute, prompt="none"))
        returned = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.headers["location"]).query))
        assert (returned["error"], returned["state"]) == ("login_required", "st-1")
        await sign_in_student(browser, hub.code, "anna", password=CHILD_PASSWORD)
        for overrides, error in (
            ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
            ({"code_challenge_method": "plain"}, "invalid_request"),
            ({"code_challenge_method": None}, "invalid_request"),
            ({"code_challenge": "too-short"}, "invalid_request"),
            ({"scope": "profile"}, "invalid_scope"),
            ({"response_type": "token"}, "unsupported_response_type"),
        ):
            answer = await browser.get(_authorize_url(hub, hub.rekenroute, **overrides))
            assert answer.status_code == 302
            location = answer.headers["location"]
            assert location.startswith(hub.rekenroute.redirect_uri + "?")
            returned = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
            assert (returned["error"], returned["state"]) == (error, "st-1"), overrides
            assert "code" not in returned
    assert await _codes(engine) == []


async def test_the_token_endpoint_refuses_bad_codes_and_changes_nothing(
    hub: Hub, engine: AsyncEngine, settings: Settings
) -> None:
    verifier = secrets.token_urlsafe(48)
    async with _browser(hub) as browser:
        await sign_in_student(browser, hub.code, "anna", password=CHILD_PASSWORD)
        code = await _code(browser, hub, hub.rekenroute, verifier)
        stored = await _codes(engine)
        # A wrong verifier, a missing one, another redirect URI, another client: refused, code untouched.
        assert _error(await _exchange(hub, hub.rekenroute, code, "w" * 50))[:2] == (400, "invalid_grant")
        assert _error(await _exchange(hub, hub.rekenroute, code, ""))[:2] == (400, "invalid_request")
        assert _error(
            await _exchange(hub, hub.rekenroute, code, verifier, redirect_uri=hub.taalpad.redirect_uri)
        )[:2] == (400, "invalid_grant")
        assert _error(
            await _exchange(hub, hub.taalpad, code, verifier, redirect_uri=hub.rekenroute.redirect_uri)
        )[:2] == (400, "invalid_grant")
        wrong_secret = Client(
            hub.rekenroute.partner_id, hub.rekenroute.client_id, "wrong", hub.rekenroute.redirect_uri, ""
        )
        assert _error(await _exchange(hub, wrong_secret, code, verifier))[:2] == (401, "invalid_client")
        assert await _codes(engine) == stored
        # The right exchange still works.
        granted = await _exchange(hub, hub.rekenroute, code, verifier)
        assert granted.status_code == 200, granted.text
        access_token, id_token = granted.json()["access_token"], granted.json()["id_token"]
        async with httpx.AsyncClient(base_url=hub.base_url, trust_env=False) as http:
            bearer = {"Authorization": f"Bearer {access_token}"}
            assert (await http.get("/oauth/userinfo", headers=bearer)).status_code == 200
            # The access token opens the userinfo endpoint only: /graphql refuses it, and an id_token
            # is no access token.
            graph = await http.post("/graphql", json={"query": "{ viewer { kind } }"}, headers=bearer)
            assert graph.status_code == 401
            # Nor is the partner's own client-credentials token (the hub's audience).
            hub_token = await _partner_token(hub.base_url, hub.rekenroute)
            partner_token = await http.get(
                "/oauth/userinfo", headers={"Authorization": f"Bearer {hub_token}"}
            )
            assert partner_token.status_code == 401
            id_as_access = await http.get("/oauth/userinfo", headers={"Authorization": f"Bearer {id_token}"})
            assert id_as_access.status_code == 401
            assert 'error="invalid_token"' in id_as_access.headers["www-authenticate"]
            # The code again: refused, and the access token issued from it stops working (RFC 6749 §4.1.2).
            status, error, description = _error(await _exchange(hub, hub.rekenroute, code, verifier))
            assert (status, error) == (400, "invalid_grant")
            assert "used already" in description
            assert (await http.get("/oauth/userinfo", headers=bearer)).status_code == 401

        # An expired code (60 seconds): refused.
        late = await _code(browser, hub, hub.rekenroute, verifier)
        async with engine.begin() as connection:
            await connection.execute(
                update(OIDC_CODES)
                .where(OIDC_CODES.c.used_at.is_(None))
                .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
        status, error, description = _error(await _exchange(hub, hub.rekenroute, late, verifier))
        assert (status, error, description) == (400, "invalid_grant", "the code expired")

        # Signed out between authorize and token: refused (the code is bound to the session).
        ended = await _code(browser, hub, hub.rekenroute, verifier)
        csrf = await session_csrf_token(browser)
        assert (await browser.post("/logout", data={"csrf_token": csrf})).status_code == 303
        status, error, description = _error(await _exchange(hub, hub.rekenroute, ended, verifier))
        assert (status, error) == (400, "invalid_grant")
        assert "signed out" in description
        await sign_in_student(browser, hub.code, "anna", password=CHILD_PASSWORD)

        # Consent revoked between authorize and token: refused.
        revoked = await _code(browser, hub, hub.taalpad, verifier)
        await consent_lifecycle.revoke(
            engine,
            _OPERATOR,
            school_id=hub.school_id,
            partner_id=hub.taalpad.partner_id,
            now=dt.datetime.now(dt.UTC),
        )
        status, error, description = _error(await _exchange(hub, hub.taalpad, revoked, verifier))
        assert (status, error) == (400, "invalid_grant")
        assert "not consented" in description
        # And the authorize request of a partner without consent goes back with access_denied.
        answer = await browser.get(_authorize_url(hub, hub.taalpad, code_challenge=_challenge(verifier)))
        returned = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.headers["location"]).query))
        assert returned["error"] == "access_denied"
    assert not (await _disclosures(engine, hub.taalpad.partner_id))


async def test_client_registrations_refuse_unsafe_addresses_and_other_partners(
    hub: Hub, engine: AsyncEngine
) -> None:
    async with engine.connect() as connection:
        before = (await connection.execute(select(OIDC_CLIENTS).order_by(OIDC_CLIENTS.c.partner_id))).all()
    partner = global_id("Partner", str(hub.rekenroute.partner_id))
    for uris, login in (
        (["http://rekenroute.example/callback"], None),
        (["https://rekenroute.example/callback#fragment"], None),
        (["https://user:pw@rekenroute.example/callback"], None),
        (["javascript:alert(1)"], None),
        ([], None),
        ([hub.rekenroute.redirect_uri], "http://rekenroute.example/login"),
    ):
        answer = await _graphql(
            hub.base_url, REGISTER, {"p": partner, "r": uris, "l": login}, token=hub.operator_token
        )
        assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (uris, login)
    # Taalpad may not register Rekenroute's client (it cannot even name it: ids are sealed per partner).
    taalpad = await _partner_token(hub.base_url, hub.taalpad)
    answer = await _graphql(
        hub.base_url, REGISTER, {"p": partner, "r": ["https://evil.example/cb"]}, token=taalpad
    )
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with engine.connect() as connection:
        after = (await connection.execute(select(OIDC_CLIENTS).order_by(OIDC_CLIENTS.c.partner_id))).all()
    assert after == before


async def test_discovery_describes_the_provider(hub: Hub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url, trust_env=False) as http:
        metadata = (await http.get("/.well-known/openid-configuration")).json()
    assert metadata["issuer"] == hub.base_url
    assert metadata["authorization_endpoint"] == f"{hub.base_url}/oauth/authorize"
    assert metadata["token_endpoint"] == f"{hub.base_url}/oauth/token"
    assert metadata["userinfo_endpoint"] == f"{hub.base_url}/oauth/userinfo"
    assert metadata["jwks_uri"] == f"{hub.base_url}/.well-known/jwks.json"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["subject_types_supported"] == ["pairwise"]
    assert metadata["id_token_signing_alg_values_supported"] == ["ES256"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
    assert "openid" in metadata["scopes_supported"]
    assert {"sub", "instelling_ref", "role", "context", "groups", "eck_id"} <= set(
        metadata["claims_supported"]
    )


async def _userinfo(hub: Hub, access_token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=hub.base_url, trust_env=False) as client:
        return await client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"})


async def test_userinfo_stops_answering_when_the_user_signs_out_or_the_account_is_disabled(
    hub: Hub, engine: AsyncEngine
) -> None:
    async with _browser(hub) as child:
        await sign_in_student(child, hub.code, "anna", password=CHILD_PASSWORD)
        signed_in = await _code_flow(hub, hub.taalpad, child)
        child_token = signed_in.token["access_token"]
        assert (await _userinfo(hub, child_token)).json()["sub"] == signed_in.claims["sub"]
        csrf = await session_csrf_token(child)
        assert (await child.post("/logout", data={"csrf_token": csrf})).status_code == 303
    signed_out = await _userinfo(hub, child_token)
    assert signed_out.status_code == 401
    assert "signed out" in signed_out.headers["www-authenticate"] + signed_out.text

    async with _browser(hub) as teacher:
        await sign_in_staff(teacher, ELS, PASSWORD)
        teacher_token = (await _code_flow(hub, hub.taalpad, teacher)).token["access_token"]
        assert (await _userinfo(hub, teacher_token)).status_code == 200
        async with engine.begin() as connection:  # the coordinator disables her account
            await connection.execute(
                update(STAFF_ACCOUNTS).where(STAFF_ACCOUNTS.c.email == ELS).values(active=False)
            )
        assert (await _userinfo(hub, teacher_token)).status_code == 401


#: Piet Mol's address when he has no account of his own and only signs in through a network provider.
PIET_BY_NETWORK = "piet.netwerk@school.example"


async def _network_provider_of_piet(hub: Hub, engine: AsyncEngine, settings: Settings) -> tuple[int, str]:
    """Piet without an account (a new address); a network provider with consent at the school and its
    registered key; its partner id and a fresh assertion for Piet."""
    async with engine.begin() as connection:
        await connection.execute(
            update(STAFF_MEMBERS)
            .where(STAFF_MEMBERS.c.email == PIET)
            .values(email=PIET_BY_NETWORK, active=False)
        )
    provider_id, provider_client, _secret = await _partner(
        engine, settings, "Schoolnetwerk", [DataCategory.STAFF_BASIC], eck_chain=False
    )
    async with engine.begin() as connection:
        await connection.execute(
            update(PARTNERS).where(PARTNERS.c.id == provider_id).values(kind="NETWORK_PROVIDER")
        )
    await consent_lifecycle.grant(
        engine,
        _OPERATOR,
        school_id=hub.school_id,
        partner_id=provider_id,
        categories=[DataCategory.SCHOOL_BASIC, DataCategory.STAFF_BASIC],
        now=settings.now(),
    )
    key = ec.generate_private_key(ec.SECP256R1())
    public = {**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": "netwerk-1", "alg": "ES256"}
    await store_key_set(
        engine, provider_id, keys=[public], jwks_url=None, fetched_at=None, now=settings.now(), by="test"
    )
    issued = int(settings.now().timestamp())
    claims = {
        "iss": provider_client,
        "aud": hub.base_url,
        "iat": issued,
        "exp": issued + 120,
        "jti": secrets.token_urlsafe(12),
        "email": PIET_BY_NETWORK,
    }
    return provider_id, pyjwt.encode(claims, key, algorithm="ES256", headers={"kid": "netwerk-1"})


async def test_a_teacher_signed_in_by_a_network_provider_signs_on_to_a_product_and_stays_inactive(
    hub: Hub, engine: AsyncEngine, settings: Settings
) -> None:
    _provider_id, assertion = await _network_provider_of_piet(hub, engine, settings)
    piet = PIET_BY_NETWORK
    async with _browser(hub) as browser:
        posted = await browser.post("/login/assertion", data={"assertion": assertion})
        assert posted.status_code == 303, posted.text
        # The whole code flow, the token exchange included: the session an assertion started holds him.
        signed_in = await _code_flow(hub, hub.taalpad, browser)

    assert signed_in.claims["role"] == "teacher"
    assert signed_in.userinfo["sub"] == signed_in.claims["sub"]
    async with engine.connect() as connection:
        account = (
            await connection.execute(
                select(STAFF_ACCOUNTS.c.active, STAFF_ACCOUNTS.c.assertion_only).where(
                    STAFF_ACCOUNTS.c.email == piet
                )
            )
        ).one()
        member_active = await connection.scalar(
            select(STAFF_MEMBERS.c.active).where(STAFF_MEMBERS.c.email == piet)
        )
    assert (tuple(account), member_active) == ((False, True), False)


def _query(location: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


async def test_prompt_login_and_max_age_ask_a_signed_in_person_to_sign_in_again_first(
    hub: Hub, engine: AsyncEngine
) -> None:
    # A shared classroom computer: Anna's session is still open when the product asks who is there.
    async with _browser(hub) as browser:
        await sign_in_student(browser, hub.code, "anna", password=CHILD_PASSWORD)
        verifier = "w" * 50
        before = await _codes(engine)
        for asked in ({"prompt": "login"}, {"max_age": "0"}):
            answer = await browser.get(
                _authorize_url(hub, hub.taalpad, code_challenge=_challenge(verifier), **asked)
            )
            assert answer.status_code == 302
            login = urllib.parse.urlsplit(answer.headers["location"])
            assert login.path == "/login"
            assert await _codes(engine) == before  # no code for the old session
        form = await browser.get(answer.headers["location"])
        # The form, not "you are signed in", with the school filled in for the students' form.
        assert form.status_code == 200
        assert "Meld je opnieuw aan om verder te gaan" in form.text
        assert 'name="gebruikersnaam"' in form.text
        back = _query(answer.headers["location"])["next"]
        assert "max_age" not in _query(back)
        assert "login_after" in _query(back)
        # The old session does not pass the way back either: only a sign-in after the request does.
        assert (await browser.get(hub.base_url + back)).headers["location"].startswith("/login?")
        signed_in_at = time.time()
        signed_in = await browser.post(
            "/login",
            data={
                "csrf_token": form_csrf_token(form.text),
                **student_fields(hub.code, "anna", password=CHILD_PASSWORD),
                "next": back,
            },
        )
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, back)
        issued = await browser.get(hub.base_url + back)
        location = issued.headers["location"]
        assert location.startswith(hub.taalpad.redirect_uri + "?"), location
        token = await _exchange(hub, hub.taalpad, _query(location)["code"], verifier)
        assert token.status_code == 200, token.text
        claims = jwt.decode(token.json()["id_token"], KeySet.import_key_set(await _jwks(hub))).claims
        assert claims["auth_time"] >= int(signed_in_at) - 1

        # A recent enough sign-in passes max_age; prompt=none never shows a form, it says login_required.
        recent = await browser.get(_authorize_url(hub, hub.taalpad, max_age="3600"))
        assert set(_query(recent.headers["location"])) == {"code", "state"}
        for asked, error in (
            ({"prompt": "none", "max_age": "0"}, "login_required"),
            ({"prompt": "none login"}, "invalid_request"),
            ({"max_age": "-1"}, "invalid_request"),
        ):
            refused = await browser.get(_authorize_url(hub, hub.taalpad, **asked))
            assert _query(refused.headers["location"])["error"] == error, asked


async def _jwks(hub: Hub) -> Any:
    """The hub's JWKS document, as JSON (joserfc's KeySet reads it)."""
    async with httpx.AsyncClient(base_url=hub.base_url, trust_env=False) as client:
        return (await client.get("/.well-known/jwks.json")).json()


async def test_a_revoked_network_provider_ends_the_sign_ons_its_sessions_gave(
    hub: Hub, engine: AsyncEngine, settings: Settings
) -> None:
    # Found by the security review: the product's token outlived the provider's consent.
    provider_id, assertion = await _network_provider_of_piet(hub, engine, settings)
    async with _browser(hub) as browser:
        assert (await browser.post("/login/assertion", data={"assertion": assertion})).status_code == 303
        token = (await _code_flow(hub, hub.taalpad, browser)).token["access_token"]
        pending = await browser.get(_authorize_url(hub, hub.taalpad, code_challenge=_challenge("p" * 50)))
        code = _query(pending.headers["location"])["code"]
        assert (await _userinfo(hub, token)).status_code == 200

        await consent_lifecycle.revoke(
            engine, _OPERATOR, school_id=hub.school_id, partner_id=provider_id, now=settings.now()
        )

        # Piet is in the hub only through that provider: the product's token and a code issued before
        # the revoke open nothing any more.
        assert (await _userinfo(hub, token)).status_code == 401
        exchanged = await _exchange(hub, hub.taalpad, code, "p" * 50)
        assert _error(exchanged)[:2] == (400, "invalid_grant")
