"""The DUO registry: both layouts read alike, bad files are refused by line, loads report what changed."""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from datasources.registry.duo import (
    RegistryFormatError,
    RegistryLocation,
    RegistryMove,
    RegistryRename,
    ensure_boards,
    load_registry,
    normalise_board_number,
    parse_registry,
    read_registry,
)
from tests.reference import DUO_FILE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

_OLD_HEADER = "PROVINCIE;BEVOEGD GEZAG NUMMER;BRIN NUMMER;VESTIGINGSNUMMER;VESTIGINGSNAAM ;PLAATSNAAM"
_NEW_HEADER = (
    '"PROVINCIE","BEVOEGD GEZAG NUMMER","INSTELLINGSCODE","VESTIGINGSCODE","VESTIGINGSNAAM","PLAATSNAAM"'
)


def _old_layout(*lines: str) -> bytes:
    return "\r\n".join((_OLD_HEADER, *lines, "")).encode("cp1252")


def _new_layout(*lines: str) -> bytes:
    return codecs.BOM_UTF8 + "\n".join((_NEW_HEADER, *lines, "")).encode("utf-8")


def test_the_real_duo_file_reads_as_778_locations_with_brin_code_and_board() -> None:
    locations = read_registry(DUO_FILE)

    assert len(locations) == 778
    assert locations[0] == RegistryLocation("16AH", "00", "OBS 't Eenspan", "10249")
    assert locations[0].code == "16AH00"
    mozaiek = next(location for location in locations if location.code == "03GR01")
    assert (mozaiek.brin, mozaiek.location_code, mozaiek.name, mozaiek.board_number) == (
        "03GR",
        "01",
        "Het Mozaiek",
        "40655",
    )
    assert locations[-1] == RegistryLocation("10KE", "00", "Vrije School Groningen", "77456")
    assert len({location.code for location in locations}) == 778


def test_the_newer_layout_reads_the_same_as_the_old_one() -> None:
    old = parse_registry(
        _old_layout(
            "Drenthe;10249;16AH;16AH00;OBS 't Eenspan;EMMEN",
            "Groningen;41851;09FN;09FN02;OBS De Schuthoek, locatie Oké;HAREN",
        )
    )
    new = parse_registry(
        _new_layout(
            '"Drenthe","10249","16AH","16AH00","OBS \'t Eenspan","EMMEN"',
            '"Groningen","41851","09FN","02","OBS De Schuthoek, locatie Oké","HAREN"',
        )
    )

    assert new == old
    assert old[1] == RegistryLocation("09FN", "02", "OBS De Schuthoek, locatie Oké", "41851")


def test_a_spreadsheet_that_dropped_leading_zeros_still_reads() -> None:
    locations = parse_registry(_new_layout('"Flevoland","2102","20AB","0","De Zeester","ALMERE"'))

    assert locations == [RegistryLocation("20AB", "00", "De Zeester", "02102")]


@pytest.mark.parametrize(
    ("data", "line", "problem"),
    [
        (_old_layout("Drenthe;10249;16AH;16AH00;A;X", "Drenthe;10249;6AH;6AH00;B;X"), 3, "BRIN"),
        (_old_layout("Drenthe;10249;16AH;16BX00;OBS 't Eenspan;EMMEN"), 2, "does not belong to BRIN 16AH"),
        (_old_layout("Drenthe;10249;16AH;16AH00;;EMMEN"), 2, "no name"),
        (_old_layout("Drenthe;1024x;16AH;16AH00;OBS 't Eenspan;EMMEN"), 2, "board number"),
        (_old_layout("Drenthe;10249;16AH;16AH00;A;X", "Drenthe;10249;16AH;16AH00;B;X"), 3, "listed twice"),
        (_old_layout("Drenthe;10249;16AH;16AH00;OBS 't Eenspan"), 2, "expected 6 fields"),
        (b"PROVINCIE;BRIN NUMMER;VESTIGINGSNAAM\r\nDrenthe;16AH;OBS\r\n", 1, "VESTIGINGSNUMMER"),
        (b"", 1, "empty"),
    ],
)  # fmt: skip
def test_a_malformed_file_is_refused_with_a_message_naming_the_line(
    data: bytes, line: int, problem: str
) -> None:
    with pytest.raises(RegistryFormatError) as refused:
        parse_registry(data)

    assert refused.value.line == line
    assert f"line {line}:" in str(refused.value)
    assert problem in str(refused.value)


def test_a_file_in_an_unknown_encoding_is_refused_at_the_offending_line() -> None:
    data = _old_layout("Drenthe;10249;16AH;16AH00;OBS Een;EMMEN").replace(b"OBS Een", b"OBS \x81")

    with pytest.raises(RegistryFormatError, match="line 2: text is neither UTF-8 nor cp1252"):
        parse_registry(data)


async def _schools(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    schools, boards = SQLModel.metadata.tables["schools"], SQLModel.metadata.tables["boards"]
    statement = select(
        schools.c.code, schools.c.name, schools.c.instelling_ref, schools.c.source, boards.c.number
    ).join(boards, boards.c.id == schools.c.board_id)
    async with engine.connect() as connection:
        return {row.code: dict(row._mapping) for row in await connection.execute(statement)}


async def test_a_first_load_registers_every_location_and_board_under_a_provisional_name(
    engine: AsyncEngine,
) -> None:
    locations = read_registry(DUO_FILE)

    diff = await load_registry(engine, locations)

    assert len(diff.new) == 778
    assert (diff.renamed, diff.moved, diff.vanished) == ((), (), ())
    assert len(diff.new_boards) == 86
    schools = await _schools(engine)
    assert schools["16AH00"]["name"] == "OBS 't Eenspan"
    assert schools["16AH00"]["number"] == "10249"
    assert len({school["instelling_ref"] for school in schools.values()}) == 778
    boards = SQLModel.metadata.tables["boards"]
    async with engine.connect() as connection:
        board = (await connection.execute(select(boards).where(boards.c.number == "10249"))).one()
    assert (board.name, board.name_known) == ("Bestuur 10249", False)

    again = await load_registry(engine, locations)

    assert (again.new, again.renamed, again.vanished, again.new_boards, again.unchanged) == (
        (),
        (),
        (),
        (),
        778,
    )


async def test_a_second_load_reports_new_renamed_moved_and_vanished_locations(engine: AsyncEngine) -> None:
    first = [
        RegistryLocation("16AH", "00", "OBS 't Eenspan", "10249"),
        RegistryLocation("16BX", "00", "OBS 2 Emmen Mr Vegter", "10249"),
        RegistryLocation("03GR", "01", "Het Mozaiek", "40655"),
    ]
    await load_registry(engine, first)
    before = await _schools(engine)
    second = [
        RegistryLocation("16AH", "00", "IKC 't Eenspan", "10249"),
        RegistryLocation("03GR", "01", "Het Mozaiek", "41851"),
        RegistryLocation("16DJ", "00", "OBS De Esdoorn", "10249"),
    ]

    diff = await load_registry(engine, second)

    assert diff.new == (second[2],)
    assert diff.renamed == (RegistryRename("16AH00", "OBS 't Eenspan", "IKC 't Eenspan"),)
    assert diff.moved == (RegistryMove("03GR01", "40655", "41851"),)
    assert diff.vanished == (first[1],)
    assert diff.new_boards == ("41851",)
    after = await _schools(engine)
    assert after["16AH00"]["name"] == "IKC 't Eenspan"
    assert after["16AH00"]["instelling_ref"] == before["16AH00"]["instelling_ref"]
    assert after["03GR01"]["number"] == "41851"
    assert "16BX00" in after, "a location DUO no longer lists is reported, not deleted"


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("10249", "10249"),
        ("2102", "02102"),
        (" 02102 ", "02102"),
        ("7", "00007"),
        ("123456", None),
        ("1a", None),
        ("", None),
    ],
)
def test_a_board_number_without_its_leading_zeros_is_the_same_board(typed: str, number: str | None) -> None:
    assert normalise_board_number(typed) == number


async def test_boards_are_created_only_when_unknown_and_only_with_the_callers_transaction(
    engine: AsyncEngine,
) -> None:
    await load_registry(engine, [RegistryLocation("16AH", "00", "OBS 't Eenspan", "10249")])

    async with engine.begin() as connection:
        boards = await ensure_boards(connection, ["10249", "41851", "41851"])
        assert boards.created == ("41851",)
        assert set(boards.by_number) == {"10249", "41851"}
        await connection.rollback()

    async with engine.connect() as connection:
        numbers = (await connection.execute(select(SQLModel.metadata.tables["boards"].c.number))).scalars()
        assert sorted(numbers) == ["10249"], "a rolled-back caller leaves no board behind"
