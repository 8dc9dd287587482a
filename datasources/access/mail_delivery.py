"""Delivering one message: over SMTP to `LEERPOORT_SMTP_URL`, or into the outbox folder without one.

The URL's form: `smtp://host:port` (plain, port 25 by default), `smtp://user:pass@host:587?starttls=true`
(STARTTLS, then log in; user and password percent-encoded), or `smtps://user:pass@host:465` (TLS from the
first byte). Without the setting (the sandbox's way) each message is written to
`LEERPOORT_DATA_DIR`/outbox as an .eml file that any mail program opens.
"""

from __future__ import annotations

import email.policy
import secrets
import urllib.parse
from dataclasses import dataclass
from email.parser import Parser
from typing import TYPE_CHECKING

import aiosmtplib

from errors import PublicError

if TYPE_CHECKING:
    from pathlib import Path

    from settings import Settings


class SmtpUrlError(PublicError):
    """`LEERPOORT_SMTP_URL` is not a usable SMTP URL."""

    code = "BAD_USER_INPUT"


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to deliver: host, port, TLS mode and optional credentials."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None

    def shown(self) -> str:
        """The server as it may be printed: never the password."""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


def smtp_server(url: str) -> SmtpServer:
    """Read an SMTP URL (the forms in the module docstring)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise SmtpUrlError("LEERPOORT_SMTP_URL must look like smtp://host:port or smtps://host:port")
    query = urllib.parse.parse_qs(parts.query)
    starttls = query.get("starttls", ["false"])[-1].lower() in {"true", "1", "yes"}
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 25)
    except ValueError:
        raise SmtpUrlError("LEERPOORT_SMTP_URL has a port that is not a number") from None
    return SmtpServer(
        host=parts.hostname,
        port=port,
        implicit_tls=implicit,
        starttls=starttls and not implicit,
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
    )


def configured_server(settings: Settings) -> SmtpServer | None:
    """The SMTP server the settings name, or None when mail goes to the outbox folder."""
    if settings.smtp_url is None or not settings.smtp_url.get_secret_value().strip():
        return None
    return smtp_server(settings.smtp_url.get_secret_value().strip())


def outbox(settings: Settings) -> Path:
    """The folder that takes the messages when no SMTP server is configured."""
    return settings.data_dir / "outbox"


async def deliver(settings: Settings, recipient: str, message: str) -> None:
    """Hand one message to the SMTP server (or write it to the outbox); raises when that fails."""
    server = configured_server(settings)
    if server is None:
        folder = outbox(settings)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = settings.now().strftime("%Y%m%dT%H%M%S")
        (folder / f"{stamp}-{secrets.token_hex(4)}.eml").write_text(message, encoding="utf-8")
        return
    parsed = Parser(policy=email.policy.SMTP).parsestr(message)
    await aiosmtplib.send(
        parsed,
        recipients=[recipient],
        hostname=server.host,
        port=server.port,
        use_tls=server.implicit_tls,
        start_tls=server.starttls,
        username=server.username,
        password=server.password,
        timeout=settings.smtp_timeout_seconds,
    )
