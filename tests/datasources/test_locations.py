"""Operator changes to locations: managed locations are added by hand, and a new BRIN from DUO moves a
location without changing who it is. Every refusal leaves the whole store as it was."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import insert, select
from sqlmodel import SQLModel

from datasources.registry.duo import RegistryLocation, load_registry
from datasources.registry.locations import LinkedLocation, add_managed_location, link_new_brin
from datasources.store.tables import (
    BOARDS,
    CONSENTS,
    GROUPS,
    PARTNERS,
    SCHOOL_YEARS,
    SCHOOLS,
    STAFF_ACCOUNT_ROLES,
    STAFF_ACCOUNTS,
)
from errors import BadUserInput, Conflict, PublicError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

NOW = dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)
#: Three DUO locations: two of BRIN 16AH on one board, one of another BRIN on another board.
REGISTRY = (
    RegistryLocation("16AH", "00", "OBS 't Eenspan", "10249"),
    RegistryLocation("16AH", "01", "OBS 't Eenspan, dependance", "10249"),
    RegistryLocation("03GR", "01", "Het Mozaiek", "40655"),
)


async def _school(engine: AsyncEngine, code: str) -> dict[str, Any] | None:
    statement = (
        select(SCHOOLS, BOARDS.c.number.label("board_number"), BOARDS.c.name.label("board_name"))
        .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
        .where(SCHOOLS.c.code == code)
    )
    async with engine.connect() as connection:
        row = (await connection.execute(statement)).one_or_none()
    return None if row is None else dict(row._mapping)


async def _snapshot(engine: AsyncEngine) -> dict[str, list[str]]:
    """Every row of every table, in a stable order: what "nothing changed" is compared against."""
    async with engine.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in await connection.execute(select(table)))
            for table in SQLModel.metadata.sorted_tables
        }


async def _consent(engine: AsyncEngine, school_code: str) -> int:
    """A consent receipt of a new partner at the school; returns its id."""
    school = await _school(engine, school_code)
    assert school is not None
    async with engine.begin() as connection:
        partner_id = (
            await connection.execute(
                insert(PARTNERS)
                .values(
                    name="Uitgeverij Test",
                    kind="PUBLISHER",
                    declared_categories=["SCHOOL_BASIC"],
                    client_id=f"client-{school_code}",
                    created_at=NOW,
                )
                .returning(PARTNERS.c.id)
            )
        ).scalar_one()
        consent_id = (
            await connection.execute(
                insert(CONSENTS)
                .values(
                    school_id=school["id"],
                    partner_id=partner_id,
                    categories=["SCHOOL_BASIC"],
                    granted_by="staff:1",
                    granted_at=NOW,
                    policy_version="1",
                )
                .returning(CONSENTS.c.id)
            )
        ).scalar_one()
    return int(consent_id)


async def _group(engine: AsyncEngine, school_code: str) -> None:
    school = await _school(engine, school_code)
    assert school is not None
    async with engine.begin() as connection:
        await connection.execute(
            insert(SCHOOL_YEARS).values(
                name="2026-2027", starts_on=dt.date(2026, 8, 1), ends_on=dt.date(2027, 7, 31)
            )
        )
        await connection.execute(
            insert(GROUPS).values(
                school_id=school["id"],
                school_year="2026-2027",
                las_key="g1",
                name="Groep 3",
                year_level="3",
                effective_from=dt.date(2026, 8, 1),
            )
        )


async def _coordinator(engine: AsyncEngine, school_code: str) -> None:
    school = await _school(engine, school_code)
    assert school is not None
    async with engine.begin() as connection:
        account_id = (
            await connection.execute(
                insert(STAFF_ACCOUNTS)
                .values(email="ict@school.example", password_hash="x", created_at=NOW, created_by="test")
                .returning(STAFF_ACCOUNTS.c.id)
            )
        ).scalar_one()
        await connection.execute(
            insert(STAFF_ACCOUNT_ROLES).values(
                account_id=account_id, school_id=school["id"], role="ICT_COORDINATOR"
            )
        )


async def _consent_school_ids(engine: AsyncEngine) -> dict[int, int]:
    async with engine.connect() as connection:
        return dict((await connection.execute(select(CONSENTS.c.id, CONSENTS.c.school_id))).all())


# --- managed locations -------------------------------------------------------------------------------


async def test_a_managed_location_is_added_under_a_new_board_named_after_its_number(
    engine: AsyncEngine,
) -> None:
    added = await add_managed_location(
        engine, code=" 99zx00 ", name="  Testlocatie   Noord ", board_number="42"
    )

    assert (added.code, added.name, added.board_number, added.board_created) == (
        "99ZX00",
        "Testlocatie Noord",
        "00042",
        True,
    )
    school = await _school(engine, "99ZX00")
    assert school is not None
    assert (school["brin"], school["location_code"], school["source"], school["active"]) == (
        "99ZX",
        "00",
        "manual",
        True,
    )
    assert school["instelling_ref"] == added.instelling_ref
    assert "99ZX" not in school["instelling_ref"].upper(), "the reference must not reveal the code"
    assert (school["board_number"], school["board_name"]) == ("00042", "Bestuur 00042")


async def test_a_managed_location_joins_a_board_the_hub_already_knows(engine: AsyncEngine) -> None:
    await load_registry(engine, REGISTRY)

    added = await add_managed_location(engine, code="16AH05", name="Inspectielocatie", board_number="10249")

    assert not added.board_created
    school = await _school(engine, "16AH05")
    original = await _school(engine, "16AH00")
    assert school is not None
    assert original is not None
    assert school["board_id"] == original["board_id"]
    assert school["instelling_ref"] != original["instelling_ref"]


@pytest.mark.parametrize("code", ["16AH00", "99ZX00"])
async def test_adding_a_code_the_hub_already_has_is_refused_whether_duo_or_manual(
    engine: AsyncEngine, code: str
) -> None:
    await load_registry(engine, REGISTRY)
    await add_managed_location(engine, code="99ZX00", name="Testlocatie", board_number="42")
    before = await _snapshot(engine)

    with pytest.raises(Conflict, match=f"school {code} already exists"):
        await add_managed_location(engine, code=code.lower(), name="Nog een", board_number="77777")

    assert await _snapshot(engine) == before, "a refused add must not even create the board"


@pytest.mark.parametrize(
    ("code", "name", "board", "problem"),
    [
        ("16AH0", "Test", "42", "not a school code"),
        ("AB1200", "Test", "42", "not a school code"),
        ("16AH0A", "Test", "42", "not a school code"),
        ("16AH00", "   ", "42", "needs a name"),
        ("16AH00", "x" * 201, "42", "longer than 200"),
        ("16AH00", "Test", "1234x", "board number"),
        ("16AH00", "Test", "123456", "board number"),
    ],
)
async def test_adding_a_malformed_location_is_refused_and_changes_nothing(
    engine: AsyncEngine, code: str, name: str, board: str, problem: str
) -> None:
    before = await _snapshot(engine)

    with pytest.raises(BadUserInput, match=problem):
        await add_managed_location(engine, code=code, name=name, board_number=board)

    assert await _snapshot(engine) == before


# --- a new BRIN from DUO -----------------------------------------------------------------------------


async def test_a_new_code_keeps_the_locations_identity_reference_and_consents(engine: AsyncEngine) -> None:
    await load_registry(engine, REGISTRY)
    consent_id = await _consent(engine, "16AH00")
    before = await _school(engine, "16AH00")
    assert before is not None

    linked = await link_new_brin(engine, old="16ah00", new="30XY00")

    assert linked == (LinkedLocation(before["id"], "16AH00", "30XY00", "OBS 't Eenspan", "10249", False),)
    assert await _school(engine, "16AH00") is None, "the old code resolves to nothing"
    after = await _school(engine, "30XY00")
    assert after is not None
    assert (after["id"], after["instelling_ref"], after["name"], after["board_id"]) == (
        before["id"],
        before["instelling_ref"],
        before["name"],
        before["board_id"],
    )
    assert (after["brin"], after["location_code"]) == ("30XY", "00")
    assert (await _consent_school_ids(engine))[consent_id] == before["id"]
    assert await _school(engine, "16AH01") is not None, "a code link moves only that location"


async def test_a_new_brin_moves_every_location_of_the_old_brin_keeping_their_location_codes(
    engine: AsyncEngine,
) -> None:
    await load_registry(engine, REGISTRY)
    ids = {code: (await _school(engine, code) or {})["id"] for code in ("16AH00", "16AH01")}

    linked = await link_new_brin(engine, old="16AH", new="30xy")

    assert [(location.old_code, location.new_code) for location in linked] == [
        ("16AH00", "30XY00"),
        ("16AH01", "30XY01"),
    ]
    for old_code, new_code in (("16AH00", "30XY00"), ("16AH01", "30XY01")):
        assert await _school(engine, old_code) is None
        moved = await _school(engine, new_code)
        assert moved is not None
        assert moved["id"] == ids[old_code]
    assert await _school(engine, "03GR01") is not None


async def test_linking_onto_an_empty_row_a_registry_load_made_merges_it_and_takes_the_official_name_and_board(
    engine: AsyncEngine,
) -> None:
    await load_registry(engine, REGISTRY)
    consent_id = await _consent(engine, "16AH00")
    before = await _school(engine, "16AH00")
    assert before is not None
    # DUO's next file lists the location under its new BRIN, renamed and under another board.
    renewed = (RegistryLocation("30XY", "00", "IKC 't Eenspan", "41851"), *REGISTRY[1:])
    diff = await load_registry(engine, renewed)
    assert [location.code for location in diff.new] == ["30XY00"]
    assert [location.code for location in diff.vanished] == ["16AH00"]

    linked = await link_new_brin(engine, old="16AH00", new="30XY00")

    assert linked == (LinkedLocation(before["id"], "16AH00", "30XY00", "IKC 't Eenspan", "41851", True),)
    after = await _school(engine, "30XY00")
    assert after is not None
    assert (after["id"], after["instelling_ref"]) == (before["id"], before["instelling_ref"])
    assert (after["name"], after["board_number"], after["source"]) == ("IKC 't Eenspan", "41851", "duo")
    assert (await _consent_school_ids(engine))[consent_id] == before["id"]
    again = await load_registry(engine, renewed)
    assert (again.new, again.vanished, again.renamed, again.moved) == ((), (), (), ()), (
        "after the link the registry and the hub agree"
    )


@pytest.mark.parametrize(
    ("holding", "named"),
    [(_consent, "consents"), (_group, "groups"), (_coordinator, "coordinators")],
)
async def test_linking_onto_a_row_that_holds_data_is_refused_and_changes_nothing(
    engine: AsyncEngine, holding: Any, named: str
) -> None:
    await load_registry(engine, (*REGISTRY, RegistryLocation("30XY", "00", "IKC 't Eenspan", "41851")))
    await _consent(engine, "16AH00")
    await holding(engine, "30XY00")
    before = await _snapshot(engine)

    with pytest.raises(Conflict, match=f"30XY00 already holds data \\({named}\\)"):
        await link_new_brin(engine, old="16AH00", new="30XY00")

    assert await _snapshot(engine) == before


async def test_a_brin_link_is_refused_as_a_whole_when_one_of_its_targets_holds_data(
    engine: AsyncEngine,
) -> None:
    # 30XY00 is an empty DUO row (mergeable), 30XY01 has a consent: neither location may move.
    await load_registry(
        engine,
        (
            *REGISTRY,
            RegistryLocation("30XY", "00", "IKC 't Eenspan", "10249"),
            RegistryLocation("30XY", "01", "Andere school", "10249"),
        ),
    )
    await _consent(engine, "30XY01")
    before = await _snapshot(engine)

    with pytest.raises(Conflict, match="cannot link 16AH01 to 30XY01"):
        await link_new_brin(engine, old="16AH", new="30XY")

    assert await _snapshot(engine) == before


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("16AH00", "30XY", "two BRINs"),
        ("16AH", "30XY00", "two BRINs"),
        ("16AH00", "16ah00", "both the old and the new"),
        ("16AH0", "30XY00", "neither a BRIN"),
        ("16AH00", "30XYZZ", "not a school code"),
        ("77ZZ00", "30XY00", "no location has code 77ZZ00"),
        ("77ZZ", "30XY", "no location has BRIN 77ZZ"),
    ],
)
async def test_a_malformed_or_unknown_link_is_refused_and_changes_nothing(
    engine: AsyncEngine, old: str, new: str, problem: str
) -> None:
    await load_registry(engine, REGISTRY)
    before = await _snapshot(engine)

    with pytest.raises(PublicError, match=problem):
        await link_new_brin(engine, old=old, new=new)

    assert await _snapshot(engine) == before
