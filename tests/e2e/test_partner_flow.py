"""A partner's whole journey over HTTP with real tokens: register, ask, be granted, read, be revoked."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from resolvers import admin

if TYPE_CHECKING:
    import httpx

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

PASSWORD = "a-long-coordinator-password"
SIGN_IN = (
    "mutation($email: String!, $password: String!) { signIn(email: $email, password: $password) { token } }"
)


async def _graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _register(client: httpx.AsyncClient, operator_token: str, categories: list[str]) -> dict[str, Any]:
    created = await _graphql(
        client,
        """mutation($categories: [DataCategory!]!) {
            createPartner(name: "Uitgeverij Proef", kind: PUBLISHER, declaredCategories: $categories) {
                partner { id name declaredCategories } clientId clientSecret } }""",
        {"categories": categories},
        token=operator_token,
    )
    assert "errors" not in created, created
    credentials: dict[str, Any] = created["data"]["createPartner"]
    return credentials


async def _token(client: httpx.AsyncClient, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    token: str = body["access_token"]
    return token


READ = """{ schools(first: 10) { edges { node { code grantedCategories
    students(first: 50) { edges { node { id pseudonym firstName lastName dateOfBirth yearLevel } } }
    staff(first: 50) { edges { node { id } } }
    groups(first: 20) { edges { node { name } } } } } } }"""


async def test_a_partner_reads_exactly_what_a_school_granted_and_nothing_after_a_revoke(
    app_client: httpx.AsyncClient, world: SeedSummary, operator_token: str, settings: Settings
) -> None:
    credentials = await _register(
        app_client, operator_token, ["STUDENT_BASIC", "STUDENT_NAME", "STUDENT_DEMOGRAPHICS", "GROUP_BASIC"]
    )
    partner_token = await _token(app_client, credentials["clientId"], credentials["clientSecret"])
    first_school = (
        await _graphql(
            app_client, "{ schools(first: 1) { edges { node { code name } } } }", token=operator_token
        )
    )["data"]["schools"]["edges"][0]["node"]
    school_code = first_school["code"]

    before = await _graphql(app_client, READ, token=partner_token)
    assert before["data"]["schools"]["edges"] == []

    asked = await _graphql(
        app_client,
        """mutation($code: String!) { requestConsent(schoolCode: $code,
            categories: [STUDENT_BASIC, STUDENT_NAME, STUDENT_DEMOGRAPHICS], purpose: "Reading method") {
            status categories } }""",
        {"code": school_code},
        token=partner_token,
    )
    assert asked["data"]["requestConsent"]["status"] == "PENDING"

    await admin.add_school_coordinator(settings, school_code, "ict@school.example", PASSWORD)
    signed_in = await _graphql(app_client, SIGN_IN, {"email": "ICT@school.example", "password": PASSWORD})
    coordinator_token = signed_in["data"]["signIn"]["token"]
    pending = await _graphql(
        app_client,
        """query($code: String!) { school(code: $code) { consentRequests { edges { node {
            purpose partner { id name } } } } } }""",
        {"code": school_code},
        token=coordinator_token,
    )
    request = pending["data"]["school"]["consentRequests"]["edges"][0]["node"]
    assert request["partner"]["name"] == "Uitgeverij Proef"

    granted = await _graphql(
        app_client,
        """mutation($code: String!, $partner: ID!) { grantConsent(schoolCode: $code, partnerId: $partner,
            categories: [STUDENT_BASIC, STUDENT_NAME]) { categories grantedBy policyVersion revokedAt } }""",
        {"code": school_code, "partner": request["partner"]["id"]},
        token=coordinator_token,
    )
    receipt = granted["data"]["grantConsent"]
    assert receipt["categories"] == ["SCHOOL_BASIC", "STUDENT_BASIC", "STUDENT_NAME"]
    assert receipt["revokedAt"] is None
    # The receipt names the role and the school, not the coordinator's account ("staff:2").
    assert receipt["grantedBy"] == f"ICT-coördinator, {first_school['name']}"

    during = await _graphql(app_client, READ, token=partner_token)
    schools = during["data"]["schools"]["edges"]
    assert [school["node"]["code"] for school in schools] == [school_code]
    school = schools[0]["node"]
    assert school["grantedCategories"] == ["SCHOOL_BASIC", "STUDENT_BASIC", "STUDENT_NAME"]
    students = [edge["node"] for edge in school["students"]["edges"]]
    assert len(students) == 20
    assert all(s["pseudonym"] and s["firstName"] and s["lastName"] and s["yearLevel"] for s in students)
    assert all(s["dateOfBirth"] is None for s in students)  # asked for, declared, but not granted
    assert school["staff"]["edges"] == []
    assert all(
        group["node"]["name"] is None for group in school["groups"]["edges"]
    )  # group.basic not granted

    audit = await _graphql(
        app_client,
        """query($code: String!) { school(code: $code) { disclosures { edges { node {
            records categories partner { name } } } } } }""",
        {"code": school_code},
        token=coordinator_token,
    )
    entries = [edge["node"] for edge in audit["data"]["school"]["disclosures"]["edges"]]
    assert entries
    assert entries[-1]["partner"]["name"] == "Uitgeverij Proef"
    assert entries[-1]["records"] >= 21
    assert "STUDENT_NAME" in entries[-1]["categories"]

    revoked = await _graphql(
        app_client,
        """mutation($code: String!, $partner: ID!) {
            revokeConsent(schoolCode: $code, partnerId: $partner) { revokedAt } }""",
        {"code": school_code, "partner": request["partner"]["id"]},
        token=coordinator_token,
    )
    assert revoked["data"]["revokeConsent"]["revokedAt"]
    after = await _graphql(app_client, READ, token=partner_token)
    assert after["data"]["schools"]["edges"] == []
    by_node = await _graphql(
        app_client, "query($id: ID!) { node(id: $id) { id } }", {"id": students[0]["id"]}, token=partner_token
    )
    assert by_node["data"]["node"] is None
    assert by_node["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_wrong_client_secret_gets_invalid_client(
    app_client: httpx.AsyncClient, world: SeedSummary, operator_token: str
) -> None:
    credentials = await _register(app_client, operator_token, ["STUDENT_BASIC"])
    attempts: list[tuple[dict[str, str], dict[str, str]]] = [
        (
            {
                "grant_type": "client_credentials",
                "client_id": credentials["clientId"],
                "client_secret": "wrong",
            },
            {},
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "nobody",
                "client_secret": credentials["clientSecret"],
            },
            {},
        ),
        ({"grant_type": "client_credentials"}, {}),
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic bm90LWJhc2U2NA"}),
    ]
    for data, headers in attempts:
        response = await app_client.post("/oauth/token", data=data, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
    posted = await app_client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["clientId"],
            "client_secret": credentials["clientSecret"],
        },
    )
    assert posted.status_code == 200
    assert posted.json()["access_token"]
    wrong_grant = await app_client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": credentials["clientId"],
            "client_secret": credentials["clientSecret"],
        },
    )
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"


async def test_a_coordinator_grants_only_for_its_school_and_only_declared_categories(
    app_client: httpx.AsyncClient, world: SeedSummary, operator_token: str, settings: Settings
) -> None:
    credentials = await _register(app_client, operator_token, ["STUDENT_BASIC"])
    codes = [
        edge["node"]["code"]
        for edge in (
            await _graphql(
                app_client, "{ schools(first: 2) { edges { node { code } } } }", token=operator_token
            )
        )["data"]["schools"]["edges"]
    ]
    await admin.add_school_coordinator(settings, codes[0], "ict@one.example", PASSWORD)
    signed_in = await _graphql(app_client, SIGN_IN, {"email": "ict@one.example", "password": PASSWORD})
    token = signed_in["data"]["signIn"]["token"]
    grant = """mutation($code: String!, $partner: ID!, $categories: [DataCategory!]!) {
        grantConsent(schoolCode: $code, partnerId: $partner, categories: $categories) { categories } }"""
    other_school = await _graphql(
        app_client,
        grant,
        {"code": codes[1], "partner": credentials["partner"]["id"], "categories": ["STUDENT_BASIC"]},
        token=token,
    )
    assert other_school["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    undeclared = await _graphql(
        app_client,
        grant,
        {"code": codes[0], "partner": credentials["partner"]["id"], "categories": ["STUDENT_NAME"]},
        token=token,
    )
    assert undeclared["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    wrong_password = await _graphql(app_client, SIGN_IN, {"email": "ict@one.example", "password": "nope"})
    assert wrong_password["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
