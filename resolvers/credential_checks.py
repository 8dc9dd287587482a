"""Rate-limited credential checks: every check of a secret (sign-in, the token endpoint) goes through here.

`credential_check` reserves the attempt in the shared counters (`datasources.access.attempts`), asks the
pure rule (`auth.attempts`) whether it may be checked at all, and refuses it with `RateLimited` before the
secret is looked at when its account, client or address has had too many failures within the window
(so even the right password is refused until the window lets it through). The body checks the secret and
calls `passed()` when it was right; a failure stays counted. Times are the hub's (`settings.now()`,
which the sandbox's `LEERPOORT_NOW` moves), so tests pass the window by moving the clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Literal

from auth.attempts import attempt_limits, retry_after
from datasources.access import attempts
from errors import RateLimited

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings


class CredentialCheck:
    """One admitted attempt: the caller says whether the secret was right."""

    def __init__(self) -> None:
        """An attempt that has not (yet) passed."""
        self.succeeded = False

    def passed(self) -> None:
        """The secret was right: the attempt is not counted as a failure."""
        self.succeeded = True


@contextlib.asynccontextmanager
async def credential_check(
    engine: AsyncEngine,
    settings: Settings,
    *,
    subject_kind: Literal["account", "client", "student", "home"],
    subject: str,
    address: str,
) -> AsyncIterator[CredentialCheck]:
    """Admit one check of `subject`'s secret from `address`, or raise `RateLimited` (nothing checked).

    The attempt counts as a failure unless the body calls `passed()`, also when the body raises.
    """
    now = settings.now()
    window = dt.timedelta(seconds=settings.credential_window_seconds)
    limits = attempt_limits(
        settings.pseudonym_key.get_secret_value().encode(),
        subject_kind=subject_kind,
        subject=subject,
        address=address,
        subject_failures=settings.credential_failures_per_subject,
        address_failures=settings.credential_failures_per_address,
    )
    keys = [limit.key for limit in limits]
    attempt = await attempts.reserve(engine, keys, now=now, expired_before=now - window)
    failures = await attempts.recent_failures(engine, keys, since=now - window, excluding=attempt)
    wait = retry_after(failures, limits, window=window, now=now)
    if wait is not None:
        await attempts.release(engine, attempt)
        raise RateLimited(
            f"too many failed attempts for this {subject_kind} or from this address; try again in {wait}"
            " seconds",
            retry_after=wait,
        )
    check = CredentialCheck()
    try:
        yield check
    finally:
        if check.succeeded:
            await attempts.release(engine, attempt)
