"""Staff accounts by mail, end to end: a real local SMTP server (aiosmtpd) receives what the hub sends.

A school is imported, its coordinator invites the staff, the test reads the mail from the SMTP server,
follows the link's token and activates the account; weak passwords, used and expired links are refused
with their reasons; the LAS changing an address or removing a member closes the account; a password reset
answers the same for unknown addresses; the queue retries while the server is down, and a slow server
never slows the mutation. The hub's clock is moved with `now_override` (the sandbox's LEERPOORT_NOW).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import email
import email.policy
import re
import socket
import time
import urllib.parse
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP
from pydantic import SecretStr
from sqlalchemy import select

from datasources.school_files.model import ImportedStaff
from datasources.store.tables import OUTGOING_MAIL, SCHOOLS
from resolvers import admin
from resolvers.activation import RESET_ANSWER_SECONDS
from server import create_app
from settings import Settings
from tests.e2e.conftest import run_cli_beside_app
from tests.e2e.test_imports import school_file

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary

T0 = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)
COORDINATOR = "ict@school.example"
COORDINATOR_PASSWORD = "a-long-coordinator-password"
TEACHER = "els.kok@school.example"
GOOD_PASSWORD = "tulp fiets regen kompas"
PUBLIC_URL = "https://leerpoort.school.example"

SEND = "mutation($code: String!, $ids: [ID!]) { sendActivationMails(schoolCode: $code, staffIds: $ids) }"
ACTIVATE = """mutation($t: String!, $p: String!) { activateAccount(token: $t, password: $p) { token } }"""
RESET_REQUEST = "mutation($e: String!) { requestPasswordReset(email: $e) }"
RESET = """mutation($t: String!, $p: String!) { resetPassword(token: $t, password: $p) { token } }"""
SIGN_IN = "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { token } }"


# --- the local SMTP server ----------------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd's handler: keeps every message it accepts; `delay` makes it a slow server."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.delay = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    async def wait_for(self, count: int, within: float = 10.0) -> list[EmailMessage]:
        """The first `count` messages, once they arrived."""
        deadline = time.monotonic() + within
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"expected {count} messages, got {len(self.messages)}"
            await asyncio.sleep(0.02)
        return self.messages[:count]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def smtp_server(mailbox: Mailbox, port: int) -> AsyncIterator[None]:
    """A real SMTP server on 127.0.0.1:`port` in the test's event loop, delivering into `mailbox`."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(mailbox, loop=loop), "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


@dataclasses.dataclass
class Hub:
    """The application over HTTP on settings whose clock the test moves, with its mail server."""

    client: httpx.AsyncClient
    settings: Settings
    mailbox: Mailbox
    code: str

    async def call(self, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def coordinator(self) -> str:
        body = await self.call(SIGN_IN, e=COORDINATOR, p=COORDINATOR_PASSWORD)
        return str(body["data"]["signIn"]["token"])

    async def invite(self) -> int:
        body = await self.call(SEND, await self.coordinator(), code=self.code)
        assert "errors" not in body, body
        return int(body["data"]["sendActivationMails"])


def _staff(address: str | None = TEACHER) -> tuple[ImportedStaff, ...]:
    return (ImportedStaff("M1", None, "Els", None, "Kok", address, ("LRK",), ("A1",)),)


async def _import(settings: Settings, code: str, staff: tuple[ImportedStaff, ...]) -> None:
    file = dataclasses.replace(school_file(code, "2026-2027"), staff=staff)
    report = await admin.import_file(settings, lambda: file, dry_run=False, confirm=True)
    assert not report.errors, report.errors


async def _first_code(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        found = await connection.execute(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id).limit(1))
        return str(found.scalar_one())


@contextlib.asynccontextmanager
async def running_hub(settings: Settings, mailbox: Mailbox, code: str) -> AsyncIterator[Hub]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield Hub(client, settings, mailbox, code)


def _mail_settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={
            "now_override": T0,
            "smtp_url": SecretStr(f"smtp://127.0.0.1:{port}"),
            "public_url": PUBLIC_URL,
            "mail_poll_seconds": 0.05,
            "smtp_timeout_seconds": 5.0,
        }
    )


@pytest.fixture
async def hub(world: SeedSummary, engine: AsyncEngine, settings: Settings) -> AsyncIterator[Hub]:
    """An imported school with a coordinator and one teacher (Els Kok), mail to a local SMTP server."""
    port = _free_port()
    at = _mail_settings(settings, port)
    code = await _first_code(engine)
    await _import(at, code, _staff())
    await admin.add_school_coordinator(at, code, COORDINATOR, COORDINATOR_PASSWORD)
    mailbox = Mailbox()
    async with smtp_server(mailbox, port), running_hub(at, mailbox, code) as running:
        yield running


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    markup = message.get_body(preferencelist=("html",))
    assert text is not None
    assert markup is not None
    return str(text.get_content()), str(markup.get_content())


def _token(message: EmailMessage, page: str) -> str:
    text, markup = _parts(message)
    link = re.search(rf"{re.escape(PUBLIC_URL)}/{page}\?token=[\w%-]+", text)
    assert link is not None, text
    assert link.group(0) in markup  # the same link in the HTML part
    return urllib.parse.parse_qs(urllib.parse.urlsplit(link.group(0)).query)["token"][0]


def _reason(body: dict[str, Any]) -> str:
    assert body["data"] is None, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    return str(error["extensions"]["reason"])


# --- the tests ----------------------------------------------------------------------------------------


async def test_a_teacher_activates_the_account_through_the_mail_and_signs_in(hub: Hub) -> None:
    assert await hub.invite() == 1
    (message,) = await hub.mailbox.wait_for(1)
    assert message["To"] == TEACHER
    assert message["Subject"].startswith("Activeer uw Leerpoort-account")
    text, markup = _parts(message)
    assert "Beste Els Kok" in text
    assert "Dear Els Kok" in text
    assert "spam" in text
    assert "spam" in markup
    token = _token(message, "activeren")

    # Not active before: the teacher cannot sign in.
    refused = await hub.call(SIGN_IN, e=TEACHER, p=GOOD_PASSWORD)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    activated = await hub.call(ACTIVATE, t=token, p=GOOD_PASSWORD)
    assert "errors" not in activated, activated
    assert activated["data"]["activateAccount"]["token"]
    signed_in = await hub.call(SIGN_IN, e=TEACHER, p=GOOD_PASSWORD)
    assert "errors" not in signed_in, signed_in

    # The link works once; and nobody inactive with an address is left to invite.
    assert _reason(await hub.call(ACTIVATE, t=token, p="een ander lang wachtzin")) == "LINK_USED"
    assert await hub.invite() == 0


async def test_weak_passwords_are_refused_with_their_reason_and_the_link_keeps_working(hub: Hub) -> None:
    await hub.invite()
    token = _token((await hub.mailbox.wait_for(1))[0], "activeren")
    for password, reason in (
        ("kort", "TOO_SHORT"),
        ("Welkom2026!!", "TOO_COMMON"),
        ("w4chtw00rd123", "TOO_COMMON"),
        ("123456789012", "TOO_COMMON"),
        ("els.kok op school 2026", "CONTAINS_PERSONAL_DATA"),
    ):
        body = await hub.call(ACTIVATE, t=token, p=password)
        assert _reason(body) == reason, password
        assert "passphrase" in body["errors"][0]["message"]
    assert "errors" not in await hub.call(ACTIVATE, t=token, p=GOOD_PASSWORD)


async def test_an_expired_or_unknown_link_is_refused(hub: Hub) -> None:
    await hub.invite()
    token = _token((await hub.mailbox.wait_for(1))[0], "activeren")
    assert _reason(await hub.call(ACTIVATE, t="not-a-token", p=GOOD_PASSWORD)) == "LINK_INVALID"
    hub.settings.now_override = T0 + dt.timedelta(days=7, seconds=1)
    assert _reason(await hub.call(ACTIVATE, t=token, p=GOOD_PASSWORD)) == "LINK_EXPIRED"


async def test_a_new_address_in_the_las_closes_the_account_and_its_open_links(hub: Hub) -> None:
    await hub.invite()
    token = _token((await hub.mailbox.wait_for(1))[0], "activeren")
    assert "errors" not in await hub.call(ACTIVATE, t=token, p=GOOD_PASSWORD)
    teacher = (await hub.call(SIGN_IN, e=TEACHER, p=GOOD_PASSWORD))["data"]["signIn"]["token"]

    await _import(hub.settings, hub.code, _staff("e.kok@school.example"))
    refused = await hub.call(SIGN_IN, e=TEACHER, p=GOOD_PASSWORD)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # The token from before the change stops working too.
    response = await hub.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {teacher}"}
    )
    assert response.status_code == 401

    # The member is inactive again: a new invitation goes to the new address; the old link never works.
    assert await hub.invite() == 1
    (_, second) = await hub.mailbox.wait_for(2)
    assert second["To"] == "e.kok@school.example"
    new_token = _token(second, "activeren")
    await _import(hub.settings, hub.code, _staff("els@elders.example"))
    assert _reason(await hub.call(ACTIVATE, t=new_token, p=GOOD_PASSWORD)) == "LINK_INVALID"


async def test_a_member_removed_by_an_import_has_no_access(hub: Hub) -> None:
    await hub.invite()
    token = _token((await hub.mailbox.wait_for(1))[0], "activeren")
    assert "errors" not in await hub.call(ACTIVATE, t=token, p=GOOD_PASSWORD)
    await _import(hub.settings, hub.code, ())
    refused = await hub.call(SIGN_IN, e=TEACHER, p=GOOD_PASSWORD)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await hub.call(RESET_REQUEST, e=TEACHER) == {"data": {"requestPasswordReset": True}}
    await asyncio.sleep(0.3)
    assert len(hub.mailbox.messages) == 1  # no reset mail for a closed account


async def test_a_password_reset_answers_the_same_for_an_unknown_address(hub: Hub) -> None:
    await hub.invite()
    token = _token((await hub.mailbox.wait_for(1))[0], "activeren")
    assert "errors" not in await hub.call(ACTIVATE, t=token, p=GOOD_PASSWORD)

    answers = {}
    for address in (TEACHER, "nobody@school.example"):
        started = time.monotonic()
        answers[address] = await hub.call(RESET_REQUEST, e=address)
        assert time.monotonic() - started >= RESET_ANSWER_SECONDS
    assert answers[TEACHER] == answers["nobody@school.example"] == {"data": {"requestPasswordReset": True}}

    (_, reset) = await hub.mailbox.wait_for(2)
    assert reset["To"] == TEACHER
    assert reset["Subject"].startswith("Nieuw wachtwoord voor Leerpoort")
    reset_token = _token(reset, "wachtwoord")
    assert _reason(await hub.call(RESET, t=reset_token, p="kort")) == "TOO_SHORT"
    new_password = "regen boven de polder vandaag"
    assert "errors" not in await hub.call(RESET, t=reset_token, p=new_password)
    assert "errors" not in await hub.call(SIGN_IN, e=TEACHER, p=new_password)
    assert _reason(await hub.call(RESET, t=reset_token, p=new_password)) == "LINK_USED"
    await asyncio.sleep(0.2)
    assert len(hub.mailbox.messages) == 2  # nothing went to the unknown address


async def test_reset_requests_are_rate_limited(hub: Hub) -> None:
    limited = hub.settings.model_copy(update={"credential_failures_per_subject": 2})
    async with running_hub(limited, hub.mailbox, hub.code) as strict:
        for _ in range(2):
            assert (await strict.call(RESET_REQUEST, e="nobody@school.example"))["data"]
        response = await strict.client.post(
            "/graphql", json={"query": RESET_REQUEST, "variables": {"e": "nobody@school.example"}}
        )
        assert response.status_code == 429
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_the_queue_retries_while_the_server_is_down_and_delivers_when_it_is_back(
    world: SeedSummary, engine: AsyncEngine, settings: Settings
) -> None:
    port = _free_port()
    at = _mail_settings(settings, port)
    code = await _first_code(engine)
    await _import(at, code, _staff())
    await admin.add_school_coordinator(at, code, COORDINATOR, COORDINATOR_PASSWORD)
    mailbox = Mailbox()
    async with running_hub(at, mailbox, code) as hub:
        assert await hub.invite() == 1  # queued, although no server listens
        await _wait_until(engine, lambda row: row.attempts >= 1)
        async with engine.connect() as connection:
            row = (await connection.execute(select(OUTGOING_MAIL))).one()
        assert row.sent_at is None
        assert row.last_error is not None
        assert "@" not in row.last_error  # the error's class only

        async with smtp_server(mailbox, port):
            at.now_override = T0 + dt.timedelta(minutes=1)  # past the first retry's wait
            (message,) = await mailbox.wait_for(1)
            assert message["To"] == TEACHER
            await _wait_until(engine, lambda row: row.sent_at is not None)
        async with engine.connect() as connection:
            row = (await connection.execute(select(OUTGOING_MAIL))).one()
        assert row.message == ""  # the link does not stay in the database


async def test_a_slow_mail_server_does_not_slow_the_mutation(hub: Hub) -> None:
    hub.mailbox.delay = 3.0
    started = time.monotonic()
    assert await hub.invite() == 1
    assert time.monotonic() - started < 1.5
    (message,) = await hub.mailbox.wait_for(1, within=15)
    assert message["To"] == TEACHER


async def test_without_an_smtp_server_mail_goes_to_the_outbox_folder(
    world: SeedSummary, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    # The server's own sender waits out the test (a long poll interval): the command sends.
    at = settings.model_copy(update={"now_override": T0, "mail_poll_seconds": 600.0})
    code = await _first_code(engine)
    await _import(at, code, _staff())
    await admin.add_school_coordinator(at, code, COORDINATOR, COORDINATOR_PASSWORD)
    app = create_app(at)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        token = (
            await client.post(
                "/graphql",
                json={"query": SIGN_IN, "variables": {"e": COORDINATOR, "p": COORDINATOR_PASSWORD}},
            )
        ).json()["data"]["signIn"]["token"]
        sent = await client.post(
            "/graphql",
            json={"query": SEND, "variables": {"code": code}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert sent.json() == {"data": {"sendActivationMails": 1}}
    result = await run_cli_beside_app("mail", "send-queued", settings=settings, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"sent": 1' in result.stdout
    outbox = list((settings.data_dir / "outbox").glob("*.eml"))
    assert len(outbox) == 1
    parsed = email.message_from_bytes(outbox[0].read_bytes(), policy=email.policy.default)
    assert parsed["Subject"].startswith("Activeer uw Leerpoort-account")


async def _wait_until(engine: AsyncEngine, check: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        async with engine.connect() as connection:
            row = (await connection.execute(select(OUTGOING_MAIL))).one_or_none()
        if row is not None and check(row):
            return
        assert time.monotonic() < deadline, row
        await asyncio.sleep(0.05)
