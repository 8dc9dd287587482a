"""The server's mail sender stops when the application shuts down, whatever the SMTP client does with the
cancellation (a shutdown that waits on it forever hangs the server's stop and every worker's restart)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from resolvers import mail

if TYPE_CHECKING:
    import pytest

    from settings import Settings


class _ClientError(Exception):
    """What an SMTP client library may raise when it is cancelled in the middle of an exchange."""


async def _send_that_turns_cancellation_into_an_error(*_arguments: Any, **_keywords: Any) -> dict[str, int]:
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        raise _ClientError("connection lost") from None
    return {"sent": 0, "failed": 0}


async def test_the_sender_stops_when_cancelled_even_if_the_cancellation_comes_out_as_an_error(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setattr(mail, "send_queued", _send_that_turns_cancellation_into_an_error)
    sender = asyncio.create_task(mail.send_periodically(None, settings))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)  # the sender is inside a "delivery"
    sender.cancel()
    done, _pending = await asyncio.wait({sender}, timeout=5)
    assert sender in done, "the sender kept running after it was cancelled"
    assert sender.cancelled()


async def _send_that_swallows_the_cancellation(*_arguments: Any, **_keywords: Any) -> dict[str, int]:
    # As asyncio.wait_for may do in Python 3.11 when the result races the cancellation.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(30)
    return {"sent": 1, "failed": 0}


async def test_the_sender_stops_when_cancelled_even_if_the_cancellation_is_swallowed(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setattr(mail, "send_queued", _send_that_swallows_the_cancellation)
    sender = asyncio.create_task(mail.send_periodically(None, settings))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    sender.cancel()
    done, _pending = await asyncio.wait({sender}, timeout=5)
    assert sender in done, "the sender kept running after it was cancelled"
    assert sender.cancelled()
