"""Credential attempts: which counters an attempt is counted under, and whether it may be checked at all.

Every check of a secret (a coordinator's password at `signIn`, a partner's or a LAS client's secret at
`/oauth/token`) is counted under two keys: its subject (the account's e-mail address, or the client id, as
given) and the network address it came from. A key that has reached its limit of failures within the
window refuses the attempt *before* the secret is checked, so guessing stops at the limit even when the
next guess would be right, and the refusal is the same whether or not the account exists. The attempt
may be checked again once enough of the counted failures have left the window: that wait is the answer's
`Retry-After`.

Pure code, like the rest of `auth`: the counters themselves live in the database
(`datasources.access.attempts`), so that every worker process sees the same counts.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping, Sequence

#: Separates these keys from every other use of the hub's key.
_DOMAIN: Final = b"leerpoort credential attempts\x00"


@dataclass(frozen=True, slots=True)
class AttemptLimit:
    """A counter an attempt is counted under (an opaque key) and how many failures it allows."""

    key: str
    failures: int


def attempt_key(secret: bytes, kind: str, value: str) -> str:
    """The stored key of a counter: a keyed hash, so the table holds no e-mail or network address (an
    unkeyed hash of an IPv4 address is reversed by trying all four billion)."""
    message = _DOMAIN + kind.encode() + b"\x00" + value.strip().lower().encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def attempt_limits(
    secret: bytes,
    *,
    subject_kind: str,
    subject: str,
    address: str,
    subject_failures: int,
    address_failures: int,
) -> tuple[AttemptLimit, AttemptLimit]:
    """The two counters of one attempt: its subject's (an "account" or a "client") and its address's."""
    return (
        AttemptLimit(attempt_key(secret, subject_kind, subject), subject_failures),
        AttemptLimit(attempt_key(secret, "address", address), address_failures),
    )


def retry_after(
    failures: Mapping[str, Sequence[dt.datetime]],
    limits: Sequence[AttemptLimit],
    *,
    window: dt.timedelta,
    now: dt.datetime,
) -> int | None:
    """None when an attempt may be checked; otherwise the whole seconds (at least 1) until it may.

    `failures` are the times of the other failed (or still unfinished) attempts counted under each key
    within the window ending at `now`. The attempt may be checked while every key has fewer than its
    limit; a key at or over its limit frees up when its oldest failures leave the window, as many as
    bring it below the limit.
    """
    wait = 0.0
    for limit in limits:
        times = sorted(failures.get(limit.key, ()))
        if len(times) < limit.failures:
            continue
        # The failure that must leave the window: after it, `limit.failures - 1` remain.
        freeing = times[len(times) - limit.failures]
        wait = max(wait, (freeing + window - now).total_seconds(), 1.0)
    return math.ceil(wait) if wait else None
