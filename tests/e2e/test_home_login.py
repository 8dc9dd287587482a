"""Home login end to end over HTTP: the coordinator switches it on and prints a group's activation codes,
a parent activates two children with one e-mail address and a PIN each, each child signs in at /thuis with
its own PIN, a forgotten username and PIN come by mail from a real local SMTP server (aiosmtpd), and what
must not work does not: a code used twice or expired, a PIN guessed, a school that switched it off."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import urllib.parse
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from server import create_app
from tests.e2e.test_staff_mail import Mailbox, _free_port, smtp_server
from tests.e2e.test_staff_roles import CODE, COORDINATOR, NOW, OTHER_CODE, PASSWORD, Hub, _school
from tests.e2e.web import form_csrf_token, graphql, session_csrf_token, sign_in_staff

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from settings import Settings

PUBLIC_URL = "https://leerpoort.test"
PARENT = "Ouder@Thuis.example"
SET_HOME_LOGIN = "mutation($c: String!, $e: Boolean!) { setHomeLogin(schoolCode: $c, enabled: $e) }"
GROUPS = """query($c: String!) { school(code: $c) { homeLogin groups(first: 10) { edges { node {
    id name students(first: 50) { edges { node { firstName lastName } } } } } } } }"""
_CODE = re.compile(r'<strong class="code">([A-Z0-9-]+)</strong>')
_USERNAME = re.compile(r"gebruikersnaam <strong>([a-z0-9]+)</strong>")


@contextlib.asynccontextmanager
async def _hub(
    settings: Settings, now: dt.datetime = NOW, **changes: Any
) -> AsyncIterator[tuple[Hub, Mailbox]]:
    """The hub on a clock set from outside, sending mail to a local SMTP server."""
    mailbox, port = Mailbox(), _free_port()
    at = settings.model_copy(
        update={
            "now_override": now,
            "smtp_url": SecretStr(f"smtp://127.0.0.1:{port}"),
            "public_url": PUBLIC_URL,
            "mail_poll_seconds": 0.05,
            **changes,
        }
    )
    app = create_app(at)
    async with (
        smtp_server(mailbox, port),
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield Hub(client, at), mailbox


def _browser(hub: Hub) -> httpx.AsyncClient:
    """Another browser (its own cookies) on the same hub."""
    return httpx.AsyncClient(transport=hub.client._transport, base_url="http://leerpoort.test")


async def _groups(hub: Hub, token: str) -> dict[str, Any]:
    school = (await hub.graphql(GROUPS, {"c": CODE}, token))["data"]["school"]
    return {edge["node"]["name"]: edge["node"] for edge in school["groups"]["edges"]}


async def _print_codes(hub: Hub, group_id: str) -> list[str]:
    """The coordinator signs in on /login and prints the group's codes; the codes in the page's order."""
    async with _browser(hub) as coordinator:
        await sign_in_staff(coordinator, f"{CODE.lower()}-{COORDINATOR}", PASSWORD)
        page = await coordinator.get(f"/thuis/codes/{group_id}")
        assert page.status_code == 200, page.text
        return _CODE.findall(page.text)


async def _post_form(client: httpx.AsyncClient, path: str, fields: dict[str, str]) -> httpx.Response:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return await client.post(
        path.split("?", maxsplit=1)[0], data={"csrf_token": form_csrf_token(page.text), **fields}
    )


async def _activate(client: httpx.AsyncClient, code: str, pin: str, email: str = PARENT) -> httpx.Response:
    return await _post_form(
        client, "/thuis/activeren", {"code": code, "email": email, "pincode": pin, "pincode2": pin}
    )


async def _sign_in(client: httpx.AsyncClient, username: str, pin: str) -> httpx.Response:
    return await _post_form(client, "/thuis", {"gebruikersnaam": username, "pincode": pin, "next": "/"})


async def _set_up(hub: Hub) -> tuple[str, list[str], list[str]]:
    """Home login on, group 1a's codes printed; the coordinator's token, the codes and the first names."""
    coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
    assert (await hub.graphql(SET_HOME_LOGIN, {"c": CODE, "e": True}, coordinator))["data"]["setHomeLogin"]
    group = (await _groups(hub, coordinator))["Groep 1a"]
    codes = await _print_codes(hub, group["id"])
    names = sorted(edge["node"]["firstName"] for edge in group["students"]["edges"])
    assert len(codes) == len(names) == 6
    return coordinator, codes, names


async def test_a_parent_links_two_children_to_one_address_and_each_signs_in_with_its_pin(
    settings: Settings,
) -> None:
    await _school(settings)
    async with _hub(settings) as (hub, mailbox), _browser(hub) as parent:
        coordinator, codes, names = await _set_up(hub)
        assert (await _groups(hub, coordinator))["Groep 1a"] is not None
        first = await _activate(parent, codes[0], "24680")
        assert first.status_code == 200, first.text
        second = await _activate(parent, codes[1], "13597")
        usernames = [_USERNAME.search(first.text), _USERNAME.search(second.text)]
        assert all(usernames), second.text
        one, two = (found.group(1) for found in usernames if found)
        assert one != two
        # The same printed code works once.
        again = await _activate(parent, codes[0], "24680")
        assert again.status_code == 400
        assert "al gebruikt" in again.text
        # Each child signs in with its own PIN, and is a student in the session.
        for username, pin in ((one, "24680"), (two, "13597")):
            async with _browser(hub) as child:
                signed_in = await _sign_in(child, username, pin)
                assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/")
                viewer = (await graphql(child, "{ viewer { kind } }")).json()
                assert viewer["data"]["viewer"]["kind"] == "STUDENT"
        async with _browser(hub) as wrong:
            assert (await _sign_in(wrong, two, "24680")).status_code == 401
        # Forgotten: one mail to the parent with both usernames and a link per child to choose a new PIN.
        asked = await _post_form(parent, "/thuis/vergeten", {"email": PARENT})
        assert asked.status_code == 200
        (message,) = await mailbox.wait_for(1)
        assert message["To"] == PARENT.lower()
        text = str(message.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
        assert one in text
        assert two in text
        assert names[0] in text or names[1] in text
        links = re.findall(rf"{re.escape(PUBLIC_URL)}/thuis/pincode\?token=[\w%-]+", text)
        assert len(links) == 4  # both children, in Dutch and in English
        link = next(found for found in links if found in text.split(one)[1].split("\n")[1])
        path = urllib.parse.urlsplit(link)
        changed = await _post_form(
            parent,
            f"/thuis/pincode?{path.query}",
            {"token": urllib.parse.parse_qs(path.query)["token"][0], "pincode": "97531", "pincode2": "97531"},
        )
        assert changed.status_code == 200
        assert "is veranderd" in changed.text
        async with _browser(hub) as child:
            assert (await _sign_in(child, one, "24680")).status_code == 401
            assert (await _sign_in(child, one, "97531")).status_code == 303
        # The link works once.
        used = await parent.get(f"/thuis/pincode?{path.query}")
        assert used.status_code == 404


async def test_a_school_that_switches_home_login_off_ends_home_sign_ins_at_once(settings: Settings) -> None:
    await _school(settings)
    async with _hub(settings) as (hub, _), _browser(hub) as parent, _browser(hub) as child:
        coordinator, codes, _ = await _set_up(hub)
        activated = await _activate(parent, codes[2], "86420")
        found = _USERNAME.search(activated.text)
        assert found
        assert (await _sign_in(child, found.group(1), "86420")).status_code == 303
        csrf = await session_csrf_token(child)
        assert (await graphql(child, "{ viewer { kind } }", csrf=csrf)).status_code == 200
        assert not (await hub.graphql(SET_HOME_LOGIN, {"c": CODE, "e": False}, coordinator))["data"][
            "setHomeLogin"
        ]
        # The open session ends on its next request, and a new sign-in is refused.
        ended = await graphql(child, "{ viewer { kind } }", csrf=csrf)
        assert ended.status_code == 401
        async with _browser(hub) as again:
            assert (await _sign_in(again, found.group(1), "86420")).status_code == 401
        # Printing codes is refused while it is off; unused codes do not activate either.
        group = (await _groups(hub, coordinator))["Groep 1a"]
        async with _browser(hub) as browser:
            await sign_in_staff(browser, f"{CODE.lower()}-{COORDINATOR}", PASSWORD)
            assert (await browser.get(f"/thuis/codes/{group['id']}")).status_code == 409
        assert (await _activate(parent, codes[3], "86420")).status_code == 400


async def test_bad_codes_weak_pins_and_guessing_are_refused_and_nothing_changes(settings: Settings) -> None:
    await _school(settings)
    await _school(settings, OTHER_CODE)
    async with _hub(settings, credential_failures_per_subject=3) as (hub, _), _browser(hub) as parent:
        coordinator, codes, _ = await _set_up(hub)
        for pin, says in (("1234", "5 tot 8 cijfers"), ("55555", "hetzelfde cijfer"), ("34567", "reeks")):
            weak = await _activate(parent, codes[0], pin)
            assert weak.status_code == 400
            assert says in weak.text
        mismatch = await _post_form(
            parent,
            "/thuis/activeren",
            {"code": codes[0], "email": PARENT, "pincode": "24680", "pincode2": "24681"},
        )
        assert "niet gelijk" in mismatch.text
        assert (await _activate(parent, "AAAA-BBBB-CCCC", "24680")).status_code == 400
        assert (await _activate(parent, codes[0], "24680", email="geen-adres")).status_code == 400
        # After all that the code still works (nothing was used up), in any case and spacing.
        ok = await _activate(parent, codes[0].lower().replace("-", " "), "24680")
        found = _USERNAME.search(ok.text)
        assert found, ok.text
        # Guessing the PIN is rate-limited per username: after 3 failures even the right PIN waits.
        async with _browser(hub) as guesser:
            for guess in ("11112", "11113", "11114"):
                assert (await _sign_in(guesser, found.group(1), guess)).status_code == 401
            limited = await _sign_in(guesser, found.group(1), "24680")
            assert limited.status_code == 429
            assert "Retry-After" in limited.headers
        # A form without its CSRF token is refused.
        forged = await parent.post("/thuis", data={"gebruikersnaam": found.group(1), "pincode": "24680"})
        assert forged.status_code == 403
        # Another school's coordinator does not print this school's codes.
        group = (await _groups(hub, coordinator))["Groep 1a"]
        async with _browser(hub) as other:
            await sign_in_staff(other, f"{OTHER_CODE.lower()}-{COORDINATOR}", PASSWORD)
            assert (await other.get(f"/thuis/codes/{group['id']}")).status_code == 403
        other_token = await hub.sign_in(f"{OTHER_CODE.lower()}-{COORDINATOR}")
        refused = await hub.graphql(SET_HOME_LOGIN, {"c": CODE, "e": False}, other_token)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_activation_code_expires(settings: Settings) -> None:
    await _school(settings)
    async with _hub(settings) as (hub, _):
        _, codes, _ = await _set_up(hub)
    async with _hub(settings, NOW + dt.timedelta(days=31)) as (hub, _), _browser(hub) as parent:
        expired = await _activate(parent, codes[0], "24680")
        assert expired.status_code == 400
        assert "verlopen" in expired.text
