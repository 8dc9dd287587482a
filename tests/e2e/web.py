"""Signing in on the hub's pages from a test, as a browser does: fetch `/login`, read the form's CSRF
token, post the form, follow nothing (the test checks the 303). The httpx client keeps the cookies, so
the next requests run in the session. `graphql` calls `/graphql` with the session and its CSRF header,
as a page's script would."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

_CSRF_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def form_csrf_token(page: str) -> str:
    """The CSRF token of the (first) form of a page."""
    found = _CSRF_FIELD.search(page)
    assert found, "the page has no form with a CSRF token"
    return html.unescape(found.group(1))


async def sign_in_form(client: httpx.AsyncClient, fields: dict[str, str]) -> httpx.Response:
    """Post the sign-in form with `fields` (and the CSRF token the page gave), as a browser does."""
    page = await client.get("/login")
    assert page.status_code == 200, page.text
    return await client.post("/login", data={"csrf_token": form_csrf_token(page.text), **fields})


async def sign_in_staff(client: httpx.AsyncClient, email: str, password: str) -> None:
    """Sign a staff member in on `/login`; the client keeps the session cookie."""
    response = await sign_in_form(
        client, {"soort": "medewerker", "email": email, "wachtwoord": password, "next": "/"}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"


def student_fields(
    school_code: str, username: str, *, password: str | None = None, picture_code: list[int] | None = None
) -> dict[str, str]:
    """The student sign-in form's fields for a password or a picture code."""
    fields = {"soort": "leerling", "school": school_code, "gebruikersnaam": username, "next": "/"}
    if password is not None:
        fields["wachtwoord"] = password
    for position, number in enumerate(picture_code or (), start=1):
        fields[f"plaatje{position}"] = str(number)
    return fields


async def sign_in_student(
    client: httpx.AsyncClient,
    school_code: str,
    username: str,
    *,
    password: str | None = None,
    picture_code: list[int] | None = None,
) -> None:
    """Sign a student in on `/login` with a password or a picture code; the client keeps the session."""
    response = await sign_in_form(
        client, student_fields(school_code, username, password=password, picture_code=picture_code)
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"


async def session_csrf_token(client: httpx.AsyncClient) -> str:
    """The signed-in session's CSRF token, as its pages show it (`<meta name="csrf-token">`)."""
    page = await client.get("/login")
    found = _CSRF_META.search(page.text)
    assert page.status_code == 200
    assert found, "not signed in"
    return html.unescape(found.group(1))


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, *, csrf: str | None = None
) -> httpx.Response:
    """`POST /graphql` in the client's session, with the session's CSRF token in `X-CSRF-Token`."""
    token = csrf if csrf is not None else await session_csrf_token(client)
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers={"X-CSRF-Token": token}
    )
