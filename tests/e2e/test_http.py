"""GraphQL over HTTP as a client meets it: real tokens, the real application, a seeded database.

Every test goes through `POST /graphql` (or the other routes) with httpx, on SQLite and on PostgreSQL,
and looks only at what a client sees: status codes, headers and JSON bodies.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from auth.key_material import KeySet, generate_signing_key
from auth.tokens import OPERATOR_TOKEN_LIFETIME, mint_token
from datasources.access.signing_keys import load_keyset
from datasources.store.tables import STUDENTS
from server import create_app
from settings import Settings
from tests.e2e.conftest import SEED_SCHOOLS, SEED_STUDENTS_PER_SCHOOL, operator_token_at

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.usefixtures("world")

JSONObject = dict[str, Any]
GRAPHQL_RESPONSE = "application/graphql-response+json"
#: What a leaked stack trace or source location looks like in a response body.
_INTERNALS = re.compile(r"Traceback|File \"|\.py\b|/site-packages/|/work/")
#: More pages than any connection of the seeded world can have: a paging loop that runs past this is stuck.
_MAX_PAGES = 50


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _assert_no_internals(response: httpx.Response) -> None:
    assert not _INTERNALS.search(response.text), response.text


async def _post(
    client: httpx.AsyncClient,
    query: str,
    variables: JSONObject | None = None,
    *,
    token: str | None,
    accept: str | None = None,
) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    if accept is not None:
        headers["Accept"] = accept
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    _assert_no_internals(response)
    return response


async def _data(
    client: httpx.AsyncClient, token: str, query: str, variables: JSONObject | None = None
) -> Any:
    """The `data` of a request that must succeed without errors."""
    response = await _post(client, query, variables, token=token)
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body["errors"]
    return body["data"]


async def _errors(
    client: httpx.AsyncClient, token: str, query: str, variables: JSONObject | None = None
) -> JSONObject:
    """The body of a request that must fail with GraphQL errors."""
    response = await _post(client, query, variables, token=token)
    body: JSONObject = response.json()
    assert body.get("errors"), body
    return body


def _codes(body: JSONObject) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]


Fetch = Callable[[str | None], Awaitable[JSONObject]]


async def _every_page(fetch: Fetch) -> list[JSONObject]:
    """The nodes of all pages of a connection, checking that each endCursor continues the walk."""
    nodes: list[JSONObject] = []
    after: str | None = None
    for _ in range(_MAX_PAGES):
        page = await fetch(after)
        edges, info = page["edges"], page["pageInfo"]
        nodes += [edge["node"] for edge in edges]
        if not info["hasNextPage"]:
            return nodes
        assert edges, "a page that promises more items must not be empty"
        assert info["endCursor"] == edges[-1]["cursor"]
        after = info["endCursor"]
    pytest.fail(f"the connection still had a next page after {_MAX_PAGES} pages")


# --- paging -----------------------------------------------------------------------------------------------

SCHOOLS_PAGE = """
query($after: String) {
  schools(first: 2, after: $after) {
    edges { cursor node { id code } }
    pageInfo { hasNextPage endCursor }
  }
}"""
GROUPS_PAGE = """
query($id: ID!, $after: String) {
  node(id: $id) {
    ... on School {
      groups(first: 3, after: $after) {
        edges { cursor node { id composite } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}"""
STUDENTS_PAGE = """
query($id: ID!, $after: String) {
  node(id: $id) {
    ... on Group {
      students(first: 2, after: $after) {
        edges { cursor node { id lastName } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}"""


async def test_operator_paging_schools_groups_and_students_meets_every_student_exactly_once(
    app_client: httpx.AsyncClient, operator_token: str, engine: AsyncEngine
) -> None:
    async def schools_page(after: str | None) -> JSONObject:
        data = await _data(app_client, operator_token, SCHOOLS_PAGE, {"after": after})
        page: JSONObject = data["schools"]
        return page

    def child_pages(query: str, parent_id: str, field: str) -> Fetch:
        async def fetch(after: str | None) -> JSONObject:
            data = await _data(app_client, operator_token, query, {"id": parent_id, "after": after})
            page: JSONObject = data["node"][field]
            return page

        return fetch

    schools = await _every_page(schools_page)
    in_main_groups: list[str] = []
    in_composite_groups: list[str] = []
    for school in schools:
        for group in await _every_page(child_pages(GROUPS_PAGE, school["id"], "groups")):
            students = await _every_page(child_pages(STUDENTS_PAGE, group["id"], "students"))
            assert all(student["lastName"] for student in students)
            (in_composite_groups if group["composite"] else in_main_groups).extend(
                student["id"] for student in students
            )

    async with engine.connect() as connection:
        stored = (await connection.execute(select(func.count()).select_from(STUDENTS))).scalar_one()
    assert len(schools) == SEED_SCHOOLS
    assert stored == SEED_SCHOOLS * SEED_STUDENTS_PER_SCHOOL
    # Every student sits in exactly one main group; composite groups add no one new.
    assert len(in_main_groups) == stored
    assert len(set(in_main_groups)) == stored
    assert set(in_composite_groups) <= set(in_main_groups)


PAGE_INFO_QUERY = """
query($first: Int, $after: String) {
  schools(first: $first, after: $after) {
    edges { cursor node { code } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


async def test_page_info_says_where_a_page_stands_and_end_cursor_continues_after_it(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    async def page(first: int, after: str | None = None) -> JSONObject:
        data = await _data(app_client, operator_token, PAGE_INFO_QUERY, {"first": first, "after": after})
        result: JSONObject = data["schools"]
        return result

    everything = await page(100)
    all_codes = [edge["node"]["code"] for edge in everything["edges"]]
    assert len(all_codes) == SEED_SCHOOLS
    assert everything["pageInfo"]["hasNextPage"] is False

    first = await page(2)
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][1]["cursor"],
    }
    last = await page(2, first["pageInfo"]["endCursor"])
    assert [edge["node"]["code"] for edge in first["edges"] + last["edges"]] == all_codes
    assert last["pageInfo"]["hasNextPage"] is False
    assert last["pageInfo"]["hasPreviousPage"] is True
    assert last["pageInfo"]["endCursor"] == last["edges"][-1]["cursor"]

    # A page that ends exactly at the last item says so; asking after it gives an empty last page.
    exact = await page(SEED_SCHOOLS)
    assert exact["pageInfo"]["hasNextPage"] is False
    beyond = await page(5, exact["pageInfo"]["endCursor"])
    assert beyond["edges"] == []
    assert beyond["pageInfo"]["hasNextPage"] is False
    assert beyond["pageInfo"]["endCursor"] is None


async def test_a_page_size_outside_one_to_a_thousand_is_bad_user_input_without_data(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    for first in (0, -1, 1001):
        body = await _errors(app_client, operator_token, PAGE_INFO_QUERY, {"first": first})
        assert _codes(body) == ["BAD_USER_INPUT"], first
        assert body.get("data") is None, first


async def test_a_refused_nested_page_size_shows_nothing_of_the_parent(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    query = '{ school(code: "16AH00") { name students(first: 1001) { edges { node { lastName } } } } }'
    body = await _errors(app_client, operator_token, query)
    assert _codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] == {"school": None}


MALFORMED_CURSORS = {
    "garbage": "not a cursor!",
    "empty": "",
    "not-a-number": _b64("c1:abc"),
    "negative": _b64("c1:-1"),
    "a-global-id": _b64("School:1"),
    "trailing-junk": _b64("c1:1") + "!!",
}


async def test_a_malformed_after_cursor_is_bad_user_input_without_data(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    for name, after in MALFORMED_CURSORS.items():
        body = await _errors(app_client, operator_token, PAGE_INFO_QUERY, {"first": 2, "after": after})
        assert _codes(body) == ["BAD_USER_INPUT"], name
        assert body.get("data") is None, name


async def test_a_cursor_past_the_largest_key_is_bad_user_input(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    after = _b64("c1:9999999999999999999")
    body = await _errors(app_client, operator_token, PAGE_INFO_QUERY, {"first": 2, "after": after})
    assert _codes(body) == ["BAD_USER_INPUT"]


# --- node(id:) ----------------------------------------------------------------------------------------------

OBJECTS_QUERY = """
{
  schools(first: 1) { edges { node {
    id code
    board { id number }
    groups(first: 1) { edges { node { id name students(first: 1) { edges { node { id lastName } } } } } }
    staff(first: 1) { edges { node { id email } } }
    licenses(first: 1) { edges { node { id product { id name partner { id name } } } } }
  } } }
}"""
NODE_TYPES = ("School", "Group", "Student", "StaffMember", "Board", "License", "Product", "Partner")
NODE_QUERY = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Board { number }
    ... on School { code }
    ... on Group { groupName: name }
    ... on Student { lastName }
    ... on StaffMember { email }
    ... on License { product { name } }
    ... on Product { productName: name }
    ... on Partner { partnerName: name }
  }
}"""


def _first(connection: JSONObject) -> JSONObject:
    node: JSONObject = connection["edges"][0]["node"]
    return node


async def _one_of_each(client: httpx.AsyncClient, token: str) -> dict[str, JSONObject]:
    """One object of every node type, as the operator sees it, keyed by type name."""
    school = _first((await _data(client, token, OBJECTS_QUERY))["schools"])
    group = _first(school["groups"])
    license_ = _first(school["licenses"])
    partner = license_["product"]["partner"]
    return {
        "School": {"id": school["id"], "code": school["code"]},
        "Board": school["board"],
        "Group": {"id": group["id"], "groupName": group["name"]},
        "Student": _first(group["students"]),
        "StaffMember": _first(school["staff"]),
        "License": {"id": license_["id"], "product": {"name": license_["product"]["name"]}},
        "Product": {"id": license_["product"]["id"], "productName": license_["product"]["name"]},
        "Partner": {"id": partner["id"], "partnerName": partner["name"]},
    }


async def test_node_resolves_the_id_of_each_kind_of_object_back_to_that_object(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    objects = await _one_of_each(app_client, operator_token)
    assert set(objects) == set(NODE_TYPES)
    for type_name, shown in objects.items():
        data = await _data(app_client, operator_token, NODE_QUERY, {"id": shown["id"]})
        assert data["node"] == {"__typename": type_name, **shown}


#: Ids the hub never issued are the client's mistake; ids of objects that do not exist (or that the
#: viewer may not see, which must look the same) are NOT_FOUND. Either way `node` is null.
FOREIGN_IDS = {
    "unknown-student": (_b64("Student:999999"), "NOT_FOUND"),
    "unknown-school": (_b64("School:0"), "NOT_FOUND"),
    "non-numeric": (_b64("Student:abc"), "NOT_FOUND"),
    "negative": (_b64("School:-1"), "NOT_FOUND"),
    "extra-part": (_b64("School:1:2"), "NOT_FOUND"),
    "non-ascii-digit": (_b64("School:\u0661"), "NOT_FOUND"),
    "not-a-node-type": (_b64("PageInfo:1"), "BAD_USER_INPUT"),
    "receipt-is-not-a-node": (_b64("ConsentReceipt:1"), "BAD_USER_INPUT"),
    "viewer-is-not-a-node": (_b64("Viewer:1"), "BAD_USER_INPUT"),
    "no-separator": (_b64("School"), "BAD_USER_INPUT"),
    "garbage": ("garbage!!", "BAD_USER_INPUT"),
    "empty": ("", "BAD_USER_INPUT"),
}


async def _missing_node(client: httpx.AsyncClient, token: str, global_id: str) -> list[str]:
    """The error codes of a `node` lookup that must come back null."""
    body = await _errors(client, token, NODE_QUERY, {"id": global_id})
    assert body["data"] == {"node": None}
    return _codes(body)


async def test_node_of_an_id_the_hub_did_not_issue_or_that_names_nothing_is_null(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    for name, (global_id, code) in FOREIGN_IDS.items():
        assert await _missing_node(app_client, operator_token, global_id) == [code], name


async def test_node_of_an_id_with_a_leading_zero_is_null(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    assert await _missing_node(app_client, operator_token, _b64("School:01")) == ["NOT_FOUND"]


async def test_node_of_a_student_id_dressed_up_as_another_type_is_null(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    student = (await _one_of_each(app_client, operator_token))["Student"]
    _, number = base64.urlsafe_b64decode(student["id"] + "==").decode().split(":")
    for other_type in ("Viewer", "Edge"):
        codes = await _missing_node(app_client, operator_token, _b64(f"{other_type}:{number}"))
        assert codes == ["BAD_USER_INPUT"]
    # A real school id under the student's number names another object or nothing, never the student.
    body = await _post(app_client, NODE_QUERY, {"id": _b64(f"School:{number}")}, token=operator_token)
    node = body.json()["data"]["node"]
    assert node is None or node["__typename"] == "School"


# --- federation _entities -----------------------------------------------------------------------------------

ENTITIES_QUERY = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on School { id code name }
    ... on Student { id lastName }
  }
}"""


async def test_entities_resolve_schools_by_code_and_by_id(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    schools = (await _data(app_client, operator_token, "{ schools { edges { node { id code name } } } }"))[
        "schools"
    ]["edges"]
    first, second = schools[0]["node"], schools[1]["node"]
    representations = [
        {"__typename": "School", "code": first["code"]},
        {"__typename": "School", "id": second["id"]},
    ]
    data = await _data(app_client, operator_token, ENTITIES_QUERY, {"representations": representations})
    assert data["_entities"] == [{"__typename": "School", **first}, {"__typename": "School", **second}]


async def test_entities_keep_the_order_of_the_representations_and_null_the_unknown_ones(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    student = (await _one_of_each(app_client, operator_token))["Student"]
    representations = [
        {"__typename": "School", "code": "99ZZ99"},
        {"__typename": "Student", "id": student["id"]},
        {"__typename": "Student", "id": _b64("Student:999999")},
        {"__typename": "School", "id": student["id"]},
    ]
    data = await _data(app_client, operator_token, ENTITIES_QUERY, {"representations": representations})
    assert data["_entities"] == [None, {"__typename": "Student", **student}, None, None]


NOT_ENTITIES = {
    "unknown-type": {"__typename": "Nonexistent", "id": "1"},
    "page-info": {"__typename": "PageInfo", "hasNextPage": True},
    "consent-receipt": {"__typename": "ConsentReceipt", "id": "1", "grantedBy": "attacker", "categories": []},
    "viewer": {"__typename": "Viewer", "kind": "OPERATOR", "subject": "x", "scopes": []},
    "query": {"__typename": "Query"},
    "interface": {"__typename": "Node", "id": _b64("School:1")},
    "no-typename": {"id": _b64("School:1")},
}
TYPENAME_QUERY = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"


async def test_entities_of_types_that_are_not_entities_are_null_not_built_from_the_input(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    for name, representation in NOT_ENTITIES.items():
        data = await _data(app_client, operator_token, TYPENAME_QUERY, {"r": [representation]})
        assert data == {"_entities": [None]}, name


async def test_an_entity_representation_with_a_field_named_info_is_null(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    representation = {"__typename": "School", "info": "x"}
    data = await _data(app_client, operator_token, TYPENAME_QUERY, {"r": [representation]})
    assert data == {"_entities": [None]}


# --- authentication -----------------------------------------------------------------------------------------

TokenFactory = Callable[[KeySet, Settings], str]


def _segment(value: JSONObject) -> str:
    return _b64(json.dumps(value, separators=(",", ":")))


def _claims(settings: Settings) -> JSONObject:
    now = int(settings.now().timestamp())
    return {
        "iss": settings.issuer,
        "aud": "leerpoort",
        "sub": "operator:helpdesk",
        "scope": "operator",
        "iat": now,
        "exp": now + 3600,
        "jti": "forged",
    }


def _expired(keyset: KeySet, settings: Settings) -> str:
    issued = settings.now() - OPERATOR_TOKEN_LIFETIME - dt.timedelta(hours=1)
    return operator_token_at(keyset, settings, issued)


def _foreign_keys(_keyset: KeySet, settings: Settings) -> str:
    foreign = KeySet((generate_signing_key(settings.now()),))
    return operator_token_at(foreign, settings, settings.now())


def _alg_none(keyset: KeySet, settings: Settings) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": keyset.active.kid}
    return f"{_segment(header)}.{_segment(_claims(settings))}."


def _hs256_with_public_key(keyset: KeySet, settings: Settings) -> str:
    # The classic confusion attack: an HMAC "signed" with the published public key.
    header = {"alg": "HS256", "typ": "JWT", "kid": keyset.active.kid}
    signing_input = f"{_segment(header)}.{_segment(_claims(settings))}"
    public_pem = keyset.active.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


def _wrong_audience(keyset: KeySet, settings: Settings) -> str:
    return mint_token(
        keyset,
        issuer=settings.issuer,
        subject="operator:helpdesk",
        scopes=["operator"],
        lifetime=OPERATOR_TOKEN_LIFETIME,
        now=settings.now(),
        audience="some-partner-client",
    )


def _wrong_issuer(keyset: KeySet, settings: Settings) -> str:
    return mint_token(
        keyset,
        issuer="https://elsewhere.example",
        subject="operator:helpdesk",
        scopes=["operator"],
        lifetime=OPERATOR_TOKEN_LIFETIME,
        now=settings.now(),
    )


def _tampered(keyset: KeySet, settings: Settings) -> str:
    header, _, signature = operator_token_at(keyset, settings, settings.now()).split(".")
    claims = {**_claims(settings), "sub": "operator:someone-else"}
    return f"{header}.{_segment(claims)}.{signature}"


REFUSED_TOKENS: dict[str, TokenFactory | None] = {
    "no-token": None,
    "garbage": lambda _keys, _settings: "garbage",
    "expired": _expired,
    "other-key-set": _foreign_keys,
    "alg-none": _alg_none,
    "hs256-with-public-key": _hs256_with_public_key,
    "wrong-audience": _wrong_audience,
    "wrong-issuer": _wrong_issuer,
    "tampered-claims": _tampered,
}


async def test_a_missing_or_invalid_token_is_401_unauthenticated_without_data(
    app_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    keyset = await load_keyset(engine, now=settings.now())
    for name, make_token in REFUSED_TOKENS.items():
        token = None if make_token is None else make_token(keyset, settings)
        response = await _post(app_client, "{ schools { edges { node { name } } } }", token=token)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        body = response.json()
        assert "data" not in body, name
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", name


async def test_a_basic_authorization_header_is_401_unauthenticated(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    response = await app_client.post(
        "/graphql",
        json={"query": "{ viewer { kind } }"},
        headers={"Authorization": "Basic " + base64.b64encode(b"operator:helpdesk").decode()},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_operator_token_is_accepted_and_names_the_helpdesk(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    data = await _data(app_client, operator_token, "{ viewer { kind subject scopes } }")
    assert data == {"viewer": {"kind": "OPERATOR", "subject": "operator:helpdesk", "scopes": ["operator"]}}


# --- GraphQL over HTTP ------------------------------------------------------------------------------------


async def test_an_invalid_query_asked_as_graphql_response_json_is_400_in_that_media_type(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    response = await _post(app_client, "{ nope }", token=operator_token, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert "data" not in body
    assert _codes(body) == ["BAD_USER_INPUT"]


async def test_an_invalid_query_asked_as_plain_json_is_200_with_errors(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    response = await _post(app_client, "{ nope }", token=operator_token, accept="application/json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert _codes(response.json()) == ["BAD_USER_INPUT"]


async def test_a_valid_query_asked_as_graphql_response_json_is_200_in_that_media_type(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    response = await _post(app_client, "{ viewer { kind } }", token=operator_token, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json() == {"data": {"viewer": {"kind": "OPERATOR"}}}


MALFORMED_BODIES = {
    "broken-json": b"{not json",
    "not-utf8": b"\xff\xfe\x00",
    "array": b"[]",
    "no-query": b'{"variables": {}}',
    "variables-not-an-object": b'{"query": "{ viewer { kind } }", "variables": [1]}',
}


async def test_a_malformed_request_body_is_400_bad_user_input(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    headers = {"Authorization": f"Bearer {operator_token}", "Content-Type": "application/json"}
    for name, content in MALFORMED_BODIES.items():
        response = await app_client.post("/graphql", content=content, headers=headers)
        _assert_no_internals(response)
        assert response.status_code == 400, name
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", name
        assert "data" not in body, name


async def test_a_variable_of_the_wrong_type_is_bad_user_input(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    body = await _errors(app_client, operator_token, PAGE_INFO_QUERY, {"first": "ten"})
    assert _codes(body) == ["BAD_USER_INPUT"]


async def test_an_unknown_operation_name_is_bad_user_input(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    response = await app_client.post(
        "/graphql",
        json={"query": "query A { viewer { kind } }", "operationName": "B"},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert response.status_code in {200, 400}
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_several_operations_without_an_operation_name_are_bad_user_input(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    query = "query A { viewer { kind } } query B { viewer { subject } }"
    response = await _post(app_client, query, token=operator_token, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert _codes(response.json()) == ["BAD_USER_INPUT"]


async def test_error_responses_show_no_traceback_and_no_source_path(
    app_client: httpx.AsyncClient, operator_token: str, engine: AsyncEngine, settings: Settings
) -> None:
    keyset = await load_keyset(engine, now=settings.now())
    cases: list[tuple[str | None, str]] = [
        (operator_token, "{ nope }"),
        (operator_token, "{ schools(first: 0) { edges { cursor } } }"),
        (operator_token, '{ schools(after: "x") { edges { cursor } } }'),
        (operator_token, '{ school(code: "not a code") { name } }'),
        (
            operator_token,
            '{ _entities(representations: [{__typename: "School", code: "no"}]) { __typename } }',
        ),
        (operator_token, "{ schools(first: 1.5) { edges { cursor } } }"),
        (
            operator_token,
            '{ schools { edges { node { groups(schoolYear: "1999") { edges { cursor } } } } } }',
        ),
        (operator_token, "{" * 200),
        (_expired(keyset, settings), "{ viewer { kind } }"),
        ("a.b.c", "{ viewer { kind } }"),
    ]
    for token, query in cases:
        response = await _post(app_client, query, token=token)
        body = response.json()
        assert body["errors"], query
        assert all(error["extensions"]["code"] for error in body["errors"])


# --- other routes -------------------------------------------------------------------------------------------


async def test_health_is_200_with_the_database_ready(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/health")
    assert response.status_code == 200
    assert response.json()["database"] == "ready"


async def test_jwks_publishes_the_key_that_signed_the_operator_token(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    response = await app_client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    kid = pyjwt.get_unverified_header(operator_token)["kid"]
    keys = {key["kid"]: key for key in response.json()["keys"]}
    assert keys[kid]["kty"] == "EC"
    assert keys[kid]["alg"] == "ES256"
    assert "d" not in keys[kid], "the private part of the key must never be published"
    # A partner verifies our tokens with nothing but the published key.
    public_key = pyjwt.PyJWK(keys[kid]).key
    claims = pyjwt.decode(operator_token, public_key, algorithms=["ES256"], audience="leerpoort")
    assert claims["sub"] == "operator:helpdesk"


async def test_the_explorer_is_served_in_the_sandbox(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_the_explorer_is_refused_in_production(settings: Settings) -> None:
    production = Settings(
        DATABASE_URL=settings.database_url,
        LEERPOORT_DATA_DIR=settings.data_dir,
        LEERPOORT_MODE="production",
        LEERPOORT_PSEUDONYM_KEY="a-real-secret-for-the-e2e-production-test",
    )
    app = create_app(production)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        response = await client.get("/graphql", headers={"Accept": "text/html"})
        health = await client.get("/health")
    assert response.status_code == 404
    assert "graphiql" not in response.text.lower()
    assert health.status_code == 200
