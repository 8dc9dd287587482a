"""The password policy of staff accounts: length, common passwords, the person's own data."""

from __future__ import annotations

import pytest

from auth.passwords import common_passwords, password_problem


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("kort", "TOO_SHORT"),
        ("elf tekens!", "TOO_SHORT"),
        ("Welkom2026!!", "TOO_COMMON"),
        ("wachtwoord123", "TOO_COMMON"),
        ("P@ssw0rd12345", "TOO_COMMON"),
        ("qwertyuiopas", "TOO_COMMON"),
        ("aaaaaaaaaaaaaa", "TOO_COMMON"),
        ("feyenoordfeyenoord", "TOO_COMMON"),
        ("Correct Horse Battery Staple", "TOO_COMMON"),
        ("jansen.pieter!2026", "CONTAINS_PERSONAL_DATA"),
        ("pieterjansen op school", "CONTAINS_PERSONAL_DATA"),
    ],
)
def test_weak_passwords_are_refused_with_their_reason(password: str, reason: str) -> None:
    problem = password_problem(
        password, email="pieter.jansen@school.example", names=("Pieter", None, "Jansen")
    )
    assert problem is not None
    assert problem.reason == reason
    assert "passphrase" in problem.message


@pytest.mark.parametrize("password", ["tulp fiets regen kompas", "Mijn kat eet graag drop!", "x7#Lq9v!Rm2p"])
def test_good_passwords_pass(password: str) -> None:
    problem = password_problem(
        password, email="pieter.jansen@school.example", names=("Pieter", None, "Jansen")
    )
    assert problem is None


def test_the_shipped_list_is_a_few_hundred_lower_case_entries() -> None:
    entries = common_passwords()
    assert 300 <= len(entries) <= 10_000
    assert all(entry == entry.lower() for entry in entries)
    assert {"wachtwoord", "welkom", "password", "123456"} <= entries
