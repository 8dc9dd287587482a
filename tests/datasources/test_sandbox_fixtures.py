"""The sandbox's fixtures stay as documented: the seeded world against tests/data/sandbox_fixtures.json.

Partners build integration tests on the sandbox's schools, boards, demo partners and grants (docs/sandbox.md).
A change to the seed, the shipped DUO file or the demo catalogue that moves any of them fails here; when the
change is meant, regenerate both files (`python -m tests.sandbox_fixtures --write`, README) and announce it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from tests.sandbox_fixtures import (
    DOC_FILE,
    FIXTURES_FILE,
    doc_tables,
    read_fixtures,
    render_doc_tables,
    seed_sandbox,
    seeded_fixtures,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings

REGENERATE = "python -m tests.sandbox_fixtures --write (only on purpose: partners rely on them)"


def _committed() -> dict[str, Any]:
    fixtures: dict[str, Any] = json.loads(FIXTURES_FILE.read_text(encoding="utf-8"))
    return fixtures


def _differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """The sections and items that differ, readable in a failure message."""
    lines = []
    for section in sorted(set(expected) | set(found)):
        want, got = expected.get(section), found.get(section)
        if want == got:
            continue
        if isinstance(want, list) and isinstance(got, list):
            pairs = enumerate(zip(want, got, strict=False))  # the lengths are compared below
            lines += [f"{section}[{index}]: {a!r} != {b!r}" for index, (a, b) in pairs if a != b]
            if len(want) != len(got):
                lines.append(f"{section}: {len(want)} committed, {len(got)} seeded")
        else:
            lines.append(f"{section}: {want!r} != {got!r}")
    return lines


async def test_the_seeded_sandbox_is_the_documented_one(engine: AsyncEngine, settings: Settings) -> None:
    await seed_sandbox(engine, settings.now().date())

    found = await read_fixtures(engine)

    committed = _committed()
    assert found == committed, (
        "the sandbox's fixtures changed; if on purpose, run "
        + REGENERATE
        + ":\n"
        + ("\n".join(_differences(committed, found)[:20]))
    )


async def test_the_fixtures_do_not_depend_on_the_day_of_the_seed() -> None:
    # Partners' tests run in every school year: what is pinned must not move with the calendar.
    winter, autumn = await seeded_fixtures(dt.date(2027, 2, 1)), await seeded_fixtures(dt.date(2031, 10, 15))

    assert winter == autumn == _committed()


def test_the_documented_tables_are_the_committed_fixtures() -> None:
    documented = doc_tables(DOC_FILE.read_text(encoding="utf-8"))

    assert documented == render_doc_tables(_committed()), "docs/sandbox.md is stale: run " + REGENERATE


def test_the_fixtures_show_what_partners_need_to_know() -> None:
    fixtures = _committed()
    boards = {board["number"]: board for board in fixtures["boards"]}
    unsigned = [school for school in fixtures["schools"] if not boards[school["board"]]["dpaSigned"]]
    showcase = fixtures["schools"][0]["code"]

    assert unsigned, "a board without a signed DPA, to show that it discloses nothing"
    assert len(unsigned) < len(fixtures["schools"]) / 2
    assert {consent["partner"] for consent in fixtures["consents"] if consent["school"] == showcase} == {
        partner["clientId"] for partner in fixtures["partners"]
    }, "the showcase school consents to every demo partner"
    assert fixtures["seed"]["demoCoordinator"]["school"] == showcase
