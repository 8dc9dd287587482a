"""The sandbox's fixtures that partners build their integration tests on, read from a seeded world.

`python server.py` seeds the same world on every first start (cli.SANDBOX_*); partners write tests against
its schools, boards, demo partners and grants, so a release must not change them unnoticed.
`tests/datasources/test_sandbox_fixtures.py` seeds that world and compares what this module reads from it
with the committed `tests/data/sandbox_fixtures.json`, and `docs/sandbox.md`'s tables with their rendering.

Only what does not depend on the day of the seed is pinned (school years, dates of birth and consent dates
move with the calendar); people are pinned by a digest of their names, year levels and groups per school.

On purpose only (a release note tells partners what changed):

    .venv/bin/python -m tests.sandbox_fixtures --write

seeds a scratch SQLite world and rewrites both files.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from cli import SANDBOX_SCHOOLS, SANDBOX_SEED, SANDBOX_STUDENTS_PER_SCHOOL
from datasources.registry.duo import read_registry
from datasources.sandbox.world import seed_world
from datasources.store.database import create_engine, migrate
from datasources.store.tables import (
    BOARDS,
    CONSENTS,
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    LICENSE_GROUPS,
    LICENSES,
    PARTNERS,
    PRODUCTS,
    SCHOOLS,
    STAFF_MEMBERS,
    STUDENTS,
)
from resolvers.admin import DEMO_COORDINATOR_EMAIL, REGISTRY_FILE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_FILE = REPO_ROOT / "tests" / "data" / "sandbox_fixtures.json"
DOC_FILE = REPO_ROOT / "docs" / "sandbox.md"
#: The lines of docs/sandbox.md between these two are rendered from the fixtures.
DOC_START, DOC_END = "<!-- sandbox-fixtures:start -->", "<!-- sandbox-fixtures:end -->"


async def seed_sandbox(engine: AsyncEngine, today: dt.date) -> None:
    """The world `python server.py` seeds on its first start (its DUO file, the sandbox's sizes)."""
    await seed_world(
        engine,
        registry=read_registry(REGISTRY_FILE),
        schools=SANDBOX_SCHOOLS,
        students_per_school=SANDBOX_STUDENTS_PER_SCHOOL,
        seed=SANDBOX_SEED,
        today=today,
    )


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]


async def _rows(connection: AsyncConnection, statement: Any) -> list[Any]:
    return list(await connection.execute(statement))


async def read_fixtures(engine: AsyncEngine) -> dict[str, Any]:
    """The pinned facts of the seeded world, in a stable order."""
    async with engine.connect() as connection:
        boards = await _rows(connection, select(BOARDS).order_by(BOARDS.c.number))
        board_numbers = {row.id: row.number for row in boards}
        schools = await _rows(connection, select(SCHOOLS).order_by(SCHOOLS.c.id))
        school_codes = {row.id: row.code for row in schools}
        groups = await _rows(connection, select(GROUPS).order_by(GROUPS.c.id))
        group_names = {row.id: row.name for row in groups}
        students = await _rows(connection, select(STUDENTS).order_by(STUDENTS.c.id))
        staff = await _rows(connection, select(STAFF_MEMBERS).order_by(STAFF_MEMBERS.c.id))
        in_groups: dict[tuple[str, int], list[int]] = {}
        for row in await _rows(connection, select(GROUP_STUDENTS)):
            in_groups.setdefault(("student", row.student_id), []).append(row.group_id)
        for row in await _rows(connection, select(GROUP_STAFF)):
            in_groups.setdefault(("staff", row.staff_id), []).append(row.group_id)
        partners = await _rows(connection, select(PARTNERS).order_by(PARTNERS.c.id))
        client_ids = {row.id: row.client_id for row in partners}
        products = await _rows(connection, select(PRODUCTS).order_by(PRODUCTS.c.id))
        consents = await _rows(connection, select(CONSENTS).order_by(CONSENTS.c.id))
        licenses = await _rows(connection, select(LICENSES).order_by(LICENSES.c.id))
        coupled: dict[int, list[int]] = {}
        for row in await _rows(connection, select(LICENSE_GROUPS)):
            coupled.setdefault(row.license_id, []).append(row.group_id)

    def groups_of(kind: str, member_id: int) -> str:
        return ",".join(sorted(group_names[group] for group in in_groups.get((kind, member_id), [])))

    product_names = {row.id: (client_ids[row.partner_id], row.name) for row in products}
    return {
        "seed": {
            "schools": SANDBOX_SCHOOLS,
            "studentsPerSchool": SANDBOX_STUDENTS_PER_SCHOOL,
            "seed": SANDBOX_SEED,
            "demoCoordinator": {
                "email": DEMO_COORDINATOR_EMAIL,
                "school": schools[0].code if schools else None,
            },
        },
        "boards": [
            {
                "number": row.number,
                "name": row.name,
                "dpaSigned": row.dpa_signed_at is not None,
                "dpaVersion": row.dpa_version,
            }
            for row in boards
        ],
        "schools": [
            {
                "code": school.code,
                "name": school.name,
                "board": board_numbers[school.board_id],
                "homeLogin": school.home_login,
                "lasCoupling": school.las_coupling,
                "groups": [
                    {"name": group.name, "yearLevel": group.year_level, "composite": group.composite}
                    for group in groups
                    if group.school_id == school.id
                ],
                "students": sum(1 for row in students if row.school_id == school.id),
                "staff": sum(1 for row in staff if row.school_id == school.id),
                "peopleDigest": _digest(
                    [
                        f"student|{row.first_name}|{row.prefix}|{row.last_name}|{row.initials}|{row.year_level}|"
                        f"{groups_of('student', row.id)}"
                        for row in students
                        if row.school_id == school.id
                    ]
                    + [
                        f"staff|{row.first_name}|{row.prefix}|{row.last_name}|{row.email}|"
                        f"{','.join(row.roles)}|{groups_of('staff', row.id)}"
                        for row in staff
                        if row.school_id == school.id
                    ]
                ),
            }
            for school in schools
        ],
        "partners": [
            {
                "clientId": partner.client_id,
                "name": partner.name,
                "kind": partner.kind,
                "declaredCategories": list(partner.declared_categories),
                "eckChain": partner.eck_chain,
                "products": [
                    {"name": product.name, "allowedAtHome": product.allowed_at_home}
                    for product in products
                    if product.partner_id == partner.id
                ],
            }
            for partner in partners
        ],
        "consents": [
            {
                "school": school_codes[row.school_id],
                "partner": client_ids[row.partner_id],
                "categories": list(row.categories),
                "revoked": row.revoked_at is not None,
            }
            for row in consents
        ],
        "licenses": [
            {
                "school": school_codes[row.school_id],
                "partner": product_names[row.product_id][0],
                "product": product_names[row.product_id][1],
                "seats": row.seats,
                "coupledGroups": sorted(group_names[group] for group in coupled.get(row.id, [])),
            }
            for row in licenses
        ],
    }


def _table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["", f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render_doc_tables(fixtures: dict[str, Any]) -> str:
    """The tables of docs/sandbox.md (between its markers) for these fixtures."""
    boards = {board["number"]: board for board in fixtures["boards"]}
    unsigned = {school["code"] for school in fixtures["schools"] if not boards[school["board"]]["dpaSigned"]}

    def dpa(code: str, board: dict[str, Any]) -> str:
        return "**not signed**" if code in unsigned else f"signed ({board['dpaVersion']})"

    def in_force(consent: dict[str, Any]) -> str:
        if consent["revoked"]:
            return "revoked"
        if consent["school"] in unsigned:
            return "yes, but the board's DPA is not signed: nothing is disclosed"
        return "yes"

    def products(partner: dict[str, Any]) -> str:
        return ", ".join(
            product["name"] + (" (at home)" if product["allowedAtHome"] else "")
            for product in partner["products"]
        )

    schools = []
    for school in fixtures["schools"]:
        board = boards[school["board"]]
        counts = [str(len(school["groups"])), str(school["students"]), str(school["staff"])]
        schools.append(
            [
                f"`{school['code']}`",
                school["name"],
                f"{board['number']} {board['name']}",
                dpa(school["code"], board),
                *counts,
            ]
        )
    partners = [
        [
            f"`{partner['clientId']}`",
            partner["name"],
            partner["kind"],
            ", ".join(partner["declaredCategories"]),
            "yes" if partner["eckChain"] else "no",
            products(partner),
        ]
        for partner in fixtures["partners"]
    ]
    consents = [
        [
            f"`{consent['school']}`",
            f"`{consent['partner']}`",
            ", ".join(consent["categories"]),
            in_force(consent),
        ]
        for consent in fixtures["consents"]
    ]
    licenses = [
        [
            f"`{license_['school']}`",
            f"`{license_['partner']}`",
            license_["product"],
            "site license" if license_["seats"] is None else str(license_["seats"]),
            str(len(license_["coupledGroups"])),
        ]
        for license_ in fixtures["licenses"]
    ]
    lines = [
        *_table(
            "Boards and schools", ["school", "name", "board", "DPA", "groups", "students", "staff"], schools
        ),
        *_table(
            "Demo partners",
            ["client id", "name", "kind", "declared categories", "ECK chain", "products"],
            partners,
        ),
        *_table("Grants (consents)", ["school", "partner", "categories", "in force"], consents),
        *_table("Licenses", ["school", "partner", "product", "seats", "coupled groups"], licenses),
    ]
    return "\n".join(lines).strip()


def doc_tables(text: str) -> str:
    """The generated part of docs/sandbox.md."""
    start, end = text.index(DOC_START) + len(DOC_START), text.index(DOC_END)
    return text[start:end].strip()


async def seeded_fixtures(today: dt.date) -> dict[str, Any]:
    """The fixtures of a sandbox seeded on `today` in a scratch SQLite database."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'sandbox.db'}"
        await asyncio.to_thread(migrate, url)
        engine = create_engine(url)
        try:
            await seed_sandbox(engine, today)
            return await read_fixtures(engine)
        finally:
            await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Print the fixtures as JSON, or (`--write`) rewrite the fixture file and the doc's tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="rewrite the fixture file and docs/sandbox.md")
    arguments = parser.parse_args(argv)
    fixtures = asyncio.run(seeded_fixtures(dt.datetime.now(dt.UTC).date()))
    rendered = json.dumps(fixtures, indent=2, ensure_ascii=False) + "\n"
    if not arguments.write:
        sys.stdout.write(rendered)
        return 0
    FIXTURES_FILE.write_text(rendered, encoding="utf-8")
    text = DOC_FILE.read_text(encoding="utf-8")
    start, end = text.index(DOC_START) + len(DOC_START), text.index(DOC_END)
    DOC_FILE.write_text(
        text[:start] + "\n" + render_doc_tables(fixtures) + "\n" + text[end:], encoding="utf-8"
    )
    print(
        f"wrote {FIXTURES_FILE.relative_to(REPO_ROOT)} and {DOC_FILE.relative_to(REPO_ROOT)}", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
