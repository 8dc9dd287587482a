"""The readiness checks as plain code: the cases the store-backed tests (tests/schema/test_readiness.py)
do not reach cheaply, from facts built by hand."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from datasources.graph.readiness import GROUP_WITHOUT_TEACHER, ReadinessFacts
from resolvers.readiness import CHECKS, checks, dutch_date

READY = ReadinessFacts(
    school_id=1,
    today=dt.date(2026, 11, 30),
    source="duo",
    active=True,
    merged=False,
    las_coupling_suspended=False,
    dpa_signed=True,
    shown_year="2026-2027",
    next_year_groups=0,
    next_year_effective=None,
    next_year_file=False,
    current_students=1,
    students_without_group=0,
    active_coordinators=2,
    pending_requests=0,
    oldest_pending=None,
)


def _check(facts: ReadinessFacts, code: str) -> tuple[str, str]:
    found = {check.code: check for check in checks(facts)}[code]
    return found.status, found.message


def test_a_ready_school_passes_every_check_with_singular_and_plural_right() -> None:
    assert [check.status for check in checks(READY)] == ["OK"] * len(CHECKS)
    assert _check(READY, "STUDENTS_MOVED")[1].startswith("1 leerling zit in een groep van 2026-2027")
    assert _check(READY, "ACTIVE_COORDINATOR")[1] == "De school heeft 2 actieve ICT-coördinatoren."


@pytest.mark.parametrize(
    ("changes", "code", "status", "phrase"),
    [
        ({"shown_year": None, "current_students": 0}, "GROUPS_NEXT_YEAR", "PROBLEM", "nog geen groepen"),
        ({"shown_year": None, "current_students": 0}, "STUDENTS_MOVED", "WARNING", "nog geen leerlingen"),
        ({"merged": True, "active": False}, "LOCATION_OFFICIAL", "PROBLEM", "opgegaan in een andere"),
        ({"source": "manual"}, "LOCATION_OFFICIAL", "OK", "beheerde vestiging"),
        ({"today": dt.date(2027, 7, 31)}, "GROUPS_NEXT_YEAR", "WARNING", "(1 augustus 2027)"),
        (
            {
                "today": dt.date(2027, 7, 1),
                "next_year_groups": 3,
                "next_year_effective": dt.date(2027, 8, 24),
            },
            "GROUPS_NEXT_YEAR",
            "OK",
            "gaan in op 24 augustus 2027",
        ),
        (
            {"pending_requests": 2, "oldest_pending": dt.datetime(2026, 11, 16, tzinfo=dt.UTC)},
            "CONSENT_REQUESTS",
            "PROBLEM",
            "2 toestemmingsverzoeken wachten op uw besluit, het oudste al sinds 16 november 2026",
        ),
        (
            {"pending_requests": 1, "oldest_pending": dt.datetime(2026, 11, 17, 1, tzinfo=dt.UTC)},
            "CONSENT_REQUESTS",
            "WARNING",
            "1 toestemmingsverzoek wacht",
        ),
    ],
)
def test_a_check_reads_its_facts(changes: dict[str, object], code: str, status: str, phrase: str) -> None:
    found_status, message = _check(dataclasses.replace(READY, **changes), code)  # type: ignore[arg-type]
    assert found_status == status
    assert phrase in message


def test_a_long_list_of_names_ends_with_how_many_more() -> None:
    groups = [f"Groep {number}" for number in range(1, 9)]
    facts = dataclasses.replace(READY, items={GROUP_WITHOUT_TEACHER: groups})
    status, message = _check(facts, "GROUP_TEACHERS")
    assert status == "PROBLEM"
    assert "Groep 1, Groep 2, Groep 3, Groep 4, Groep 5 en nog 3." in message


def test_dates_are_written_the_dutch_way() -> None:
    assert dutch_date(dt.date(2027, 8, 1)) == "1 augustus 2027"
    assert dutch_date(dt.date(2026, 3, 9)) == "9 maart 2026"
