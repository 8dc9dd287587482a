"""The rule of the credential rate limits (pure): when an attempt may be checked, and how long to wait."""

from __future__ import annotations

import datetime as dt

from auth.attempts import AttemptLimit, attempt_key, attempt_limits, retry_after

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
WINDOW = dt.timedelta(minutes=15)
ACCOUNT = AttemptLimit("account", 3)
ADDRESS = AttemptLimit("address", 5)


def _ago(*seconds: float) -> list[dt.datetime]:
    return [NOW - dt.timedelta(seconds=second) for second in seconds]


def test_an_attempt_below_every_limit_may_be_checked() -> None:
    failures = {"account": _ago(10, 20), "address": _ago(1, 2, 3, 4)}

    assert retry_after(failures, [ACCOUNT, ADDRESS], window=WINDOW, now=NOW) is None


def test_an_attempt_at_the_limit_waits_until_the_failure_that_frees_it_leaves_the_window() -> None:
    # Three failures 100, 200 and 300 seconds ago: the oldest leaves the window in 600 seconds.
    failures = {"account": _ago(100, 200, 300)}

    assert retry_after(failures, [ACCOUNT, ADDRESS], window=WINDOW, now=NOW) == 600


def test_over_the_limit_as_many_failures_must_leave_as_bring_the_key_below_it() -> None:
    # Five failures against a limit of three: the third oldest (300 s ago) must leave, not the oldest.
    failures = {"account": _ago(100, 200, 300, 400, 500)}

    assert retry_after(failures, [ACCOUNT], window=WINDOW, now=NOW) == 600


def test_the_longest_wait_of_the_keys_at_their_limit_is_the_answer() -> None:
    failures = {"account": _ago(100, 200, 300), "address": _ago(1, 2, 3, 4, 5)}

    assert retry_after(failures, [ACCOUNT, ADDRESS], window=WINDOW, now=NOW) == 895


def test_the_wait_is_whole_seconds_and_at_least_one() -> None:
    almost_gone = {"account": _ago(899.5, 899.5, 899.9)}

    assert retry_after(almost_gone, [ACCOUNT], window=WINDOW, now=NOW) == 1


def test_keys_are_keyed_hashes_that_ignore_case_and_do_not_contain_the_value() -> None:
    secret = b"hub-key"
    account, address = attempt_limits(
        secret,
        subject_kind="account",
        subject="ICT@School.example",
        address="192.0.2.1",
        subject_failures=10,
        address_failures=30,
    )

    assert account == AttemptLimit(attempt_key(secret, "account", "ict@school.example"), 10)
    assert address.failures == 30
    assert "school" not in account.key
    assert "192" not in address.key
    assert attempt_key(b"another-key", "account", "ict@school.example") != account.key
    # The same text as a client id or an address is another counter.
    assert attempt_key(secret, "client", "ict@school.example") != account.key
