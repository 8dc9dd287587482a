"""Sending the queued mail: the server's background task and `python server.py mail send-queued`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from datasources.access import mail_delivery, mail_queue
from datasources.store.database import create_engine

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings

logger = logging.getLogger("leerpoort.mail")


def destination(settings: Settings) -> str:
    """Where the hub's mail goes, as the start-up message says it (never a password)."""
    server = mail_delivery.configured_server(settings)
    if server is None:
        return f"no SMTP server set (LEERPOORT_SMTP_URL): mail is written to {mail_delivery.outbox(settings)}"
    return f"mail goes out through {server.shown()}"


def _stop_if_cancelled() -> None:
    """Raise `CancelledError` when this task was asked to stop. A cancellation that lands inside an SMTP
    exchange can come out of the client library as one of its own errors, or be swallowed whole (Python
    3.11's `asyncio.wait_for` loses a cancellation that races the result); caught as a failed delivery or
    not noticed at all, it would leave the server's sender running, and the application's shutdown
    waiting on it, forever. So the sender looks at its own cancellation after every step too."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def send_queued(engine: AsyncEngine, settings: Settings) -> dict[str, int]:
    """Send every queued message that is due, one by one; a failure is kept for a later retry (its
    error's class only, as a server's answer may quote the address). Returns the counts."""
    sent = failed = 0
    for mail in await mail_queue.claim_due(engine, now=settings.now()):
        try:
            await mail_delivery.deliver(settings, mail.recipient, mail.message)
        except Exception as error:
            _stop_if_cancelled()
            failed += 1
            await mail_queue.mark_failed(engine, mail, type(error).__name__, now=settings.now())
            logger.warning("sending mail %s failed: %s", mail.mail_id, type(error).__name__)
            continue
        sent += 1
        _stop_if_cancelled()
        await mail_queue.mark_sent(engine, mail.mail_id, now=settings.now())
    return {"sent": sent, "failed": failed}


async def send_periodically(engine: AsyncEngine, settings: Settings) -> None:
    """The server's mail sender: every `LEERPOORT_MAIL_POLL_SECONDS`, send what is due."""
    while True:
        try:
            await send_queued(engine, settings)
        except Exception as error:
            _stop_if_cancelled()
            logger.warning("sending queued mail failed: %s", type(error).__name__)
        _stop_if_cancelled()
        await asyncio.sleep(settings.mail_poll_seconds)


async def queue_report(engine: AsyncEngine) -> dict[str, Any]:
    """How the queue stands, for the command's output."""
    state = await mail_queue.queue_state(engine)
    return {"waiting": state.waiting, "sent": state.sent, "given_up": state.given_up}


async def send_queued_command(settings: Settings) -> dict[str, Any]:
    """`python server.py mail send-queued`: send what is due now; the counts, and how the queue stands."""
    engine = create_engine(settings.database_url)
    try:
        counts = await send_queued(engine, settings)
        return {**counts, "queue": await queue_report(engine), "destination": destination(settings)}
    finally:
        await engine.dispose()
