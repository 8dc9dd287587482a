"""The sandbox seed: a deterministic synthetic world of boards, schools, people, partners and agreements.

Schools come from the DUO registry: first up to three locations of each board in file order, so that even
the small world of the sandbox spans several boards (some without a signed DPA), then the rest of the
registry in file order; past its end, synthetic locations get BRINs that start with 9 and never collide
with the registry. Every name is a random combination of common name parts, so
nothing describes a real person. The world is a pure function of the arguments (one `random.Random`),
except for the `created_at` stamps, which say when the seed ran.

Speed: a world of 1,000 schools of 250 students is close to a million rows. They are inserted with
SQLAlchemy Core executemany in chunks, with ids assigned here (the database is empty of schools, so
nothing can race for them), in one transaction; PostgreSQL's sequences are moved past them at the end.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, text
from sqlmodel import SQLModel

import datasources.store.tables  # noqa: F401 - registers the tables in the metadata read below
from datasources.feed.scope_changes import bring_in_line
from datasources.sandbox.agreements import SeededPartner, agree_school
from datasources.sandbox.names import (
    BOARD_NAMES,
    DEMO_PARTNERS,
    DPA_VERSION,
    SCHOOL_KINDS,
    SCHOOL_NAMES,
    STAFF_FIRST_NAMES,
    SURNAMES,
)
from datasources.sandbox.population import (
    IdSequence,
    Rows,
    SchoolSetting,
    SchoolYearSpan,
    ascii_slug,
    populate_school,
)
from datasources.store.calendar import first_day, last_day, school_year_of

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from datasources.registry.duo import RegistryLocation

_ID_TABLES = (
    "boards", "schools", "groups", "persons", "students", "staff_members", "partners", "products", "licenses",
    "consents",
)  # fmt: skip
#: Parents before children, so every foreign key points at a row already inserted.
_INSERT_ORDER = (
    "boards", "schools", "partners", "products", "groups", "persons", "students", "staff_members",
    "group_students", "group_staff", "licenses", "license_groups", "consents",
)  # fmt: skip
_FLUSH_ROWS = 60_000
_EXECUTEMANY_ROWS = 10_000
_UNSIGNED_BOARDS = 0.1
_HOME_LOGIN = 0.3
_MANUAL_COUPLING = 0.2
#: Registry locations of one board taken before any board's next ones: DUO's file lists a board's schools
#: together, and its first board alone would fill a small world (one board, all signed or all unsigned).
_FIRST_LOCATIONS_PER_BOARD = 3
#: The fictional school of the official EDEXML example file: left free so that it can be added by hand.
_EDEXML_EXAMPLE_BRIN = "99ZZ"


class SeedError(ValueError):
    """The seed refuses to run: the database already holds schools, or the arguments cannot make a world."""


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What the seed created: rows per kind, and all rows written (links and persons included)."""

    boards: int
    schools: int
    groups: int
    students: int
    staff: int
    partners: int
    products: int
    licenses: int
    consents: int
    rows: int


@dataclass(frozen=True, slots=True)
class _Location:
    brin: str
    location_code: str
    name: str
    board_number: str
    source: str

    @property
    def code(self) -> str:
        return self.brin + self.location_code


async def seed_world(
    engine: AsyncEngine,
    *,
    registry: Sequence[RegistryLocation],
    schools: int,
    students_per_school: int,
    seed: int,
    today: dt.date,
    require_dpa: bool = True,
) -> SeedSummary:
    """Fill an empty hub with a synthetic world of `schools` schools of `students_per_school` students.

    Equal arguments give an equal world. Raises `SeedError` when the database already holds schools or a
    demo partner, when the registry lists a location twice, or when the counts are negative. The feed
    remembers the seeded consents as in scope from its start (`require_dpa` is the hub's setting, as the
    policy applies it); it tells nothing of the seeding itself.
    """
    if schools < 0 or students_per_school < 0:
        raise SeedError("the numbers of schools and students per school cannot be negative")
    if len({location.code for location in registry}) != len(registry):
        raise SeedError("the registry lists a location twice")
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, never a secret
    year_name = school_year_of(today)
    year = SchoolYearSpan(year_name, first_day(year_name), last_day(year_name))
    async with engine.begin() as connection:
        await _refuse_populated(connection)
        setting = SchoolSetting(
            rng, IdSequence(await _next_ids(connection)), Rows(), year, dt.datetime.now(dt.UTC)
        )
        board_ids = await _board_ids(connection)
        locations = _locations(rng, registry, schools, board_ids)
        school_ids = _queue_boards_and_schools(setting, locations, board_ids, today)
        await _ensure_school_year(connection, year)
        partners = _queue_partners(setting)
        counts = dict.fromkeys(_INSERT_ORDER, 0)
        for index, (location, school_id) in enumerate(zip(locations, school_ids, strict=True)):
            groups = populate_school(
                setting,
                school_id=school_id,
                email_domain=_email_domain(location),
                students=students_per_school,
            )
            agree_school(
                setting, partners, school_id=school_id, groups=groups, students=students_per_school,
                today=today, showcase=index == 0,
            )  # fmt: skip
            if len(setting.rows) >= _FLUSH_ROWS:
                await _flush(connection, setting.rows, counts)
        await _flush(connection, setting.rows, counts)
        await _advance_sequences(connection, setting.ids, [table for table in _ID_TABLES if counts[table]])
        await bring_in_line(
            connection, school_ids=school_ids, require_dpa=require_dpa, now=setting.created_at, announce=False
        )
    return SeedSummary(
        boards=counts["boards"], schools=counts["schools"], groups=counts["groups"],
        students=counts["students"], staff=counts["staff_members"], partners=counts["partners"],
        products=counts["products"], licenses=counts["licenses"], consents=counts["consents"],
        rows=sum(counts.values()),
    )  # fmt: skip


def _email_domain(location: _Location) -> str:
    """A fictional domain per school ("obs-t-eenspan-16ah00.example"); the code in it keeps two schools of
    the same name apart, so an address names one account across the hub."""
    return f"{ascii_slug(location.name)[:40].strip('-') or 'school'}-{location.code.lower()}.example"


def _table(name: str) -> Any:
    return SQLModel.metadata.tables[name]


async def _refuse_populated(connection: AsyncConnection) -> None:
    held = (await connection.execute(select(func.count()).select_from(_table("schools")))).scalar_one()
    if held:
        raise SeedError(f"the database already holds {held} schools; the seed only fills an empty hub")
    partners = _table("partners")
    demo_ids = [partner.client_id for partner in DEMO_PARTNERS]
    taken = (
        await connection.scalars(select(partners.c.client_id).where(partners.c.client_id.in_(demo_ids)))
    ).first()
    if taken is not None:
        raise SeedError(f"the database already holds the demo partner {taken}")


async def _next_ids(connection: AsyncConnection) -> dict[str, int]:
    next_ids = {}
    for name in _ID_TABLES:
        highest = (await connection.execute(select(func.max(_table(name).c.id)))).scalar_one()
        next_ids[name] = (highest or 0) + 1
    return next_ids


async def _board_ids(connection: AsyncConnection) -> dict[str, int]:
    boards = _table("boards")
    return {row.number: row.id for row in await connection.execute(select(boards.c.number, boards.c.id))}


def _locations(
    rng: random.Random, registry: Sequence[RegistryLocation], count: int, existing_boards: dict[str, int]
) -> list[_Location]:
    """`count` of the registry's locations spread over its boards, then synthetic ones on synthetic boards."""
    locations = [
        _Location(location.brin, location.location_code, location.name, location.board_number, "duo")
        for location in _spread_over_boards(registry)[:count]
    ]
    taken_boards = {location.board_number for location in registry} | set(existing_boards)
    board_numbers = (
        number for number in (f"{n:05d}" for n in range(99_999, 9_999, -1)) if number not in taken_boards
    )
    brins = _synthetic_brins({location.brin for location in registry})
    board, room = "", 0
    for _ in range(count - len(locations)):
        if room == 0:
            board, room = next(board_numbers), rng.randint(2, 12)
        room -= 1
        try:
            brin = next(brins)
        except StopIteration:
            raise SeedError(f"{count} schools do not fit in the synthetic BRIN range 90AA-99ZY") from None
        name = f"{rng.choice(SCHOOL_KINDS)} {rng.choice(SCHOOL_NAMES)}"
        # Synthetic locations are not in DUO's file: like test locations they are managed by hand.
        locations.append(_Location(brin, "00", name, board, "manual"))
    return locations


def _spread_over_boards(registry: Sequence[RegistryLocation]) -> list[RegistryLocation]:
    """The registry with each board's first few locations first (in file order), then the others."""
    taken: Counter[str] = Counter()
    first: list[RegistryLocation] = []
    rest: list[RegistryLocation] = []
    for location in registry:
        taken[location.board_number] += 1
        (first if taken[location.board_number] <= _FIRST_LOCATIONS_PER_BOARD else rest).append(location)
    return first + rest


def _synthetic_brins(registry_brins: set[str]) -> Iterator[str]:
    """9 + digit + two capitals, in order, skipping the registry's BRINs and the EDEXML example's."""
    letters = [chr(code) for code in range(ord("A"), ord("Z") + 1)]
    for digit in range(10):
        for first in letters:
            for second in letters:
                brin = f"9{digit}{first}{second}"
                if brin not in registry_brins and brin != _EDEXML_EXAMPLE_BRIN:
                    yield brin


def _queue_boards_and_schools(
    setting: SchoolSetting, locations: list[_Location], existing: dict[str, int], today: dt.date
) -> list[int]:
    """Queue the boards the hub lacks (most with a signed DPA) and the schools; returns the schools' ids."""
    rng = setting.rng
    numbers = list(dict.fromkeys(location.board_number for location in locations))
    new = [number for number in numbers if number not in existing]
    # The first board stays signed: it holds the showcase school that the sandbox's demo tokens read.
    unsigned_count = max(1, round(len(new) * _UNSIGNED_BOARDS)) if len(new) > 1 else 0
    unsigned = set(rng.sample(range(1, len(new)), unsigned_count))
    synthetic = {location.board_number for location in locations if location.source == "manual"}
    board_ids = dict(existing)
    board_rows = []
    for index, number in enumerate(new):
        board_ids[number] = setting.ids.take("boards")
        named = number in synthetic
        row: dict[str, Any] = {
            "id": board_ids[number],
            "number": number,
            # DUO's file gives board numbers only; the invented boards of the sandbox have invented names.
            "name": f"{rng.choice(BOARD_NAMES)} {number}" if named else f"Bestuur {number}",
            "name_known": named,
        }
        row |= _unsigned_dpa() if index in unsigned else _signed_dpa(rng, today)
        board_rows.append(row)
    setting.rows.extend("boards", board_rows)
    school_ids = [setting.ids.take("schools") for _ in locations]
    setting.rows.extend(
        "schools",
        [
            {
                "id": school_id, "brin": location.brin, "location_code": location.location_code,
                "code": location.code, "name": location.name, "board_id": board_ids[location.board_number],
                # Opaque: drawn from the world's random source, never derived from the BRIN.
                "instelling_ref": f"{rng.getrandbits(128):032x}", "source": location.source, "active": True,
                "merged_into_id": None, "home_login": index == 0 or rng.random() < _HOME_LOGIN,
                "las_coupling": "manual" if index and rng.random() < _MANUAL_COUPLING else "automatic",
                "las_coupling_suspended": False, "created_at": setting.created_at,
            }
            for index, (school_id, location) in enumerate(zip(school_ids, locations, strict=True))
        ],
    )  # fmt: skip
    return school_ids


def _signed_dpa(rng: random.Random, today: dt.date) -> dict[str, Any]:
    signed_at = dt.datetime.combine(today, dt.time(10), tzinfo=dt.UTC) - dt.timedelta(
        days=rng.randint(30, 700)
    )
    return {
        "dpa_signed_at": signed_at,
        "dpa_signed_by": f"{rng.choice(STAFF_FIRST_NAMES)} {rng.choice(SURNAMES)}, bestuurder",
        "dpa_chamber_of_commerce_number": f"{rng.randrange(10_000_000, 100_000_000)}",
        "dpa_version": DPA_VERSION,
    }


def _unsigned_dpa() -> dict[str, Any]:
    return dict.fromkeys(("dpa_signed_at", "dpa_signed_by", "dpa_chamber_of_commerce_number", "dpa_version"))


def _queue_partners(setting: SchoolSetting) -> tuple[SeededPartner, ...]:
    seeded, partner_rows, product_rows = [], [], []
    for partner in DEMO_PARTNERS:
        partner_id = setting.ids.take("partners")
        product_ids = tuple(setting.ids.take("products") for _ in partner.products)
        seeded.append(SeededPartner(partner_id, partner, product_ids))
        partner_rows.append({
            "id": partner_id, "name": partner.name, "kind": partner.kind,
            "declared_categories": list(partner.declared_categories), "eck_chain": partner.eck_chain,
            "client_id": partner.client_id, "client_secret_hash": None, "created_at": setting.created_at,
        })  # fmt: skip
        product_rows += [
            {
                "id": product_id,
                "partner_id": partner_id,
                "name": product.name,
                "allowed_at_home": product.allowed_at_home,
            }
            for product_id, product in zip(product_ids, partner.products, strict=True)
        ]
    setting.rows.extend("partners", partner_rows)
    setting.rows.extend("products", product_rows)
    return tuple(seeded)


async def _ensure_school_year(connection: AsyncConnection, year: SchoolYearSpan) -> None:
    years = _table("school_years")
    if (await connection.execute(select(years.c.name).where(years.c.name == year.name))).first() is None:
        await connection.execute(
            insert(years), [{"name": year.name, "starts_on": year.starts_on, "ends_on": year.ends_on}]
        )


async def _flush(connection: AsyncConnection, rows: Rows, counts: dict[str, int]) -> None:
    for name in _INSERT_ORDER:
        batch = rows.tables.pop(name, [])
        for start in range(0, len(batch), _EXECUTEMANY_ROWS):
            await connection.execute(insert(_table(name)), batch[start : start + _EXECUTEMANY_ROWS])
        counts[name] += len(batch)


async def _advance_sequences(connection: AsyncConnection, ids: IdSequence, tables: list[str]) -> None:
    """Move PostgreSQL's id sequences past the ids assigned here, so later inserts get fresh ones."""
    if connection.dialect.name != "postgresql":
        return  # SQLite hands out max(id) + 1 by itself
    for name in tables:
        await connection.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :last)"),
            {"table": name, "last": ids.next_ids[name] - 1},
        )
