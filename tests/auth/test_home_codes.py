"""Home login's secrets: printed activation codes read back however a parent types them, and PINs that
are too easy refused with a Dutch reason."""

from __future__ import annotations

import pytest

from auth.home_codes import (
    CODE_ALPHABET,
    activation_code_hash,
    new_activation_code,
    normalise_activation_code,
    pin_problem,
)


def test_a_printed_code_reads_back_in_any_case_and_spacing_and_codes_differ() -> None:
    code = new_activation_code()
    assert len(code) == 14
    assert code.count("-") == 2
    compact = code.replace("-", "")
    assert set(compact) <= set(CODE_ALPHABET)
    assert normalise_activation_code(code.lower().replace("-", " ")) == compact
    assert normalise_activation_code(f" {code} ") == compact
    assert len({new_activation_code() for _ in range(200)}) == 200
    assert activation_code_hash(compact) != activation_code_hash(
        normalise_activation_code(new_activation_code()) or ""
    )


@pytest.mark.parametrize(
    "typed", ["", "ABCD-EFGH-JKM", "ABCD-EFGH-JKMNP", "ABCD-EFGH-JK0N", "ABCD-EFGH-JKIN", "ÄBCD-EFGH-JKMN"]
)
def test_what_cannot_be_a_code_is_not_looked_up(typed: str) -> None:
    assert normalise_activation_code(typed) is None


@pytest.mark.parametrize(
    ("pin", "says"),
    [
        ("1234", "5 tot 8 cijfers"),
        ("123456789", "5 tot 8 cijfers"),
        ("12a45", "5 tot 8 cijfers"),
        ("\uff11\uff12\uff13\uff14\uff15", "5 tot 8 cijfers"),  # full-width digits: not ASCII
        ("00000", "hetzelfde cijfer"),
        ("12345", "reeks"),
        ("98765", "reeks"),
    ],
)
def test_easy_pins_are_refused_with_the_reason(pin: str, says: str) -> None:
    assert says in (pin_problem(pin) or "")


@pytest.mark.parametrize("pin", ["24680", "13597", "90210", "11235813"])
def test_other_pins_are_accepted(pin: str) -> None:
    assert pin_problem(pin) is None
