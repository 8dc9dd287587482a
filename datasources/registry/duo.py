"""The DUO registry: reading DUO's school-location file and bringing the hub's boards and schools in line.

DUO publishes its location list in two layouts. The old one (still found in archives) is `;`-separated,
cp1252, with columns `BRIN NUMMER`, `VESTIGINGSNUMMER` (the combined six-character code) and a trailing
space after `VESTIGINGSNAAM `; the newer one is comma-separated, quoted, UTF-8 with a byte-order mark, with
`INSTELLINGSCODE` and `VESTIGINGSCODE`. Both carry `BEVOEGD GEZAG NUMMER`. The reader detects encoding,
delimiter and layout itself, so the operator never has to say which file they downloaded.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import SQLModel

import datasources.store.tables  # noqa: F401 - registers the tables in the metadata read below
from datasources.feed.scope_changes import bring_in_line

if TYPE_CHECKING:
    import os

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: DUO's full location file is a few megabytes; anything far larger is not a registry file.
MAX_REGISTRY_BYTES = 50 * 1024 * 1024

#: A BRIN: two digits and two capitals ("16AH").
BRIN_PATTERN: Final = re.compile(r"\d{2}[A-Z]{2}")
#: A location code (vestigingsnummer) within a BRIN: two digits ("00").
LOCATION_CODE_PATTERN: Final = re.compile(r"\d{2}")
#: A board number as it may arrive: up to five digits, leading zeros possibly dropped by a spreadsheet.
BOARD_NUMBER_PATTERN: Final = re.compile(r"\d{1,5}")
_NAME_MAX = 200

# Header spellings per field, after normalisation (upper case, runs of spaces and underscores as one space).
_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "brin": ("BRIN NUMMER", "BRINNUMMER", "INSTELLINGSCODE", "BRIN"),
    "location": ("VESTIGINGSNUMMER", "VESTIGINGSCODE"),
    "name": ("VESTIGINGSNAAM",),
    "board": ("BEVOEGD GEZAG NUMMER", "BEVOEGDGEZAGNUMMER", "BEVOEGD GEZAG NR"),
}
_DELIMITERS = (";", ",", "\t")

_BOARDS = SQLModel.metadata.tables["boards"]
_SCHOOLS = SQLModel.metadata.tables["schools"]


class RegistryFormatError(ValueError):
    """A registry file the reader refuses; the message names the line, and nothing has been changed."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"registry file, line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class RegistryLocation:
    """A school location (vestiging) as DUO lists it: BRIN, location code, official name and board number."""

    brin: str
    location_code: str
    name: str
    board_number: str

    @property
    def code(self) -> str:
        """BRIN plus location code, the school's code in the graph ("16AH00")."""
        return self.brin + self.location_code


@dataclass(frozen=True, slots=True)
class RegistryRename:
    """A location whose official name changed between the hub and the file."""

    code: str
    old_name: str
    new_name: str


@dataclass(frozen=True, slots=True)
class RegistryMove:
    """A location that moved to another board (overname): it now falls under that board's DPA."""

    code: str
    old_board_number: str
    new_board_number: str


@dataclass(frozen=True, slots=True)
class RegistryDiff:
    """What loading a registry file changed: new, renamed and moved locations, and those DUO no longer lists.

    `vanished` holds DUO locations the hub knows that the file lacks, as the hub knows them; they are
    reported, never deleted (closure and mergers are decided by people, not by a missing line).
    """

    new: tuple[RegistryLocation, ...]
    renamed: tuple[RegistryRename, ...]
    moved: tuple[RegistryMove, ...]
    vanished: tuple[RegistryLocation, ...]
    unchanged: int
    new_boards: tuple[str, ...]


def read_registry(path: str | os.PathLike[str]) -> list[RegistryLocation]:
    """The locations of the DUO file at `path`, in file order; raises `RegistryFormatError` on a bad file."""
    with open(path, "rb") as file:
        data = file.read(MAX_REGISTRY_BYTES + 1)
    return parse_registry(data)


def parse_registry(data: bytes) -> list[RegistryLocation]:
    """The locations in the bytes of a DUO file (either layout), in file order.

    Raises `RegistryFormatError` naming the first offending line: an unknown encoding, missing columns, a
    malformed BRIN, location code or board number, an empty name, or a location listed twice.
    """
    if len(data) > MAX_REGISTRY_BYTES:
        raise RegistryFormatError(1, f"file is larger than {MAX_REGISTRY_BYTES // (1024 * 1024)} MB")
    text = _decode(data)
    header_line = text.split("\n", 1)[0]
    if not header_line.strip():
        raise RegistryFormatError(1, "file is empty or has no header line")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(header_line), strict=True)
    locations: list[RegistryLocation] = []
    seen: dict[str, int] = {}
    try:
        header = next(reader)
        columns = _header_columns(header)
        for row in reader:
            if not any(field.strip() for field in row):
                continue  # blank lines (a trailing newline, a spreadsheet's empty rows) carry nothing
            location = _location(row, columns, len(header), reader.line_num)
            if location.code in seen:
                raise RegistryFormatError(
                    reader.line_num,
                    f"location {location.code} is listed twice (first on line {seen[location.code]})",
                )
            seen[location.code] = reader.line_num
            locations.append(location)
    except csv.Error as error:
        raise RegistryFormatError(reader.line_num, f"not a readable CSV line ({error})") from None
    return locations


def _decode(data: bytes) -> str:
    """Text of the file: a byte-order mark decides; else UTF-8 when it decodes, else DUO's old cp1252."""
    if data.startswith(codecs.BOM_UTF8):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)  # a spreadsheet's "Unicode text" export
    else:
        encodings = ("utf-8", "cp1252")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as error:
            failure = error
    line = data[: failure.start].count(b"\n") + 1
    raise RegistryFormatError(line, f"text is neither UTF-8 nor cp1252 (byte {data[failure.start]:#04x})")


def _delimiter(header_line: str) -> str:
    """The separator that splits the header line most often, counting only outside quotes."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    return max(_DELIMITERS, key=unquoted.count)


def _normalise_header(field: str) -> str:
    return re.sub(r"[\s_]+", " ", field.strip().strip('"').upper()).strip()


def _header_columns(header: Sequence[str]) -> dict[str, int]:
    """The column index of each field the hub needs; line 1 is refused when one is missing."""
    positions = {_normalise_header(field): index for index, field in enumerate(header)}
    columns: dict[str, int] = {}
    missing: list[str] = []
    for field, spellings in _COLUMNS.items():
        index = next((positions[name] for name in spellings if name in positions), None)
        if index is None:
            missing.append(" or ".join(spellings[:2]))
        else:
            columns[field] = index
    if missing:
        raise RegistryFormatError(1, "header lacks the column(s) " + "; ".join(missing))
    return columns


def _location(row: Sequence[str], columns: Mapping[str, int], width: int, line: int) -> RegistryLocation:
    """One validated location from a data row."""
    if len(row) < width or any(field.strip() for field in row[width:]):
        raise RegistryFormatError(line, f"expected {width} fields, found {len(row)}")
    brin = row[columns["brin"]].strip().upper()
    if not BRIN_PATTERN.fullmatch(brin):
        raise RegistryFormatError(line, f"BRIN {brin!r} is not 2 digits and 2 letters")
    location_code = _location_code(row[columns["location"]].strip().upper(), brin, line)
    name = " ".join(row[columns["name"]].split())
    if not name:
        raise RegistryFormatError(line, "the location has no name")
    if len(name) > _NAME_MAX:
        raise RegistryFormatError(line, f"the name is longer than {_NAME_MAX} characters")
    board = normalise_board_number(row[columns["board"]])
    if board is None:
        raise RegistryFormatError(
            line, f"board number {row[columns['board']].strip()!r} is not a number of at most 5 digits"
        )
    return RegistryLocation(brin=brin, location_code=location_code, name=name, board_number=board)


def normalise_board_number(text: str) -> str | None:
    """DUO's five-digit board number from `text` ("2102" or "02102" → "02102"); None when it is not one.

    Spreadsheets drop leading zeros from numeric columns and operators type what they see, so the
    number is padded: the same board is the same board whichever way its number arrived.
    """
    number = text.strip()
    return number.zfill(5) if BOARD_NUMBER_PATTERN.fullmatch(number) else None


def provisional_board_name(number: str) -> str:
    """The name a board gets until its real name is known (DUO's location file gives numbers only)."""
    return f"Bestuur {number}"


def _location_code(value: str, brin: str, line: int) -> str:
    """The 2-digit location code, given alone ("00", or "0" after a spreadsheet) or combined ("16AH00")."""
    if len(value) == 6:
        if not value.startswith(brin):
            raise RegistryFormatError(line, f"location {value!r} does not belong to BRIN {brin}")
        value = value[4:]
    elif value.isdigit() and len(value) == 1:
        value = value.zfill(2)
    if not LOCATION_CODE_PATTERN.fullmatch(value):
        raise RegistryFormatError(line, f"location code {value!r} is not 2 digits")
    return value


async def load_registry(
    engine: AsyncEngine,
    locations: Sequence[RegistryLocation],
    *,
    require_dpa: bool = True,
    now: dt.datetime | None = None,
) -> RegistryDiff:
    """Bring the hub's boards and DUO schools in line with `locations`, in one transaction.

    A board new to the hub is named after its number until its name is known. A new location gets a random,
    opaque `instelling_ref`; existing ones keep theirs and get the official name and board. A managed
    location that DUO now lists becomes a DUO location. Nothing is deleted.

    A school that moved to another board falls under that board's DPA: partners whose scope that changes
    (a move to a board that has not signed cuts them off) get LEFT_SCOPE or ENTERED_SCOPE in their feed, at
    `now` (the hub's clock; the real time when not given). `require_dpa` is the hub's setting.
    """
    async with engine.begin() as connection:
        board_ids = await ensure_boards(connection, (location.board_number for location in locations))
        diff, moved = await _apply_locations(connection, locations, board_ids)
        await bring_in_line(
            connection, school_ids=moved, require_dpa=require_dpa, now=now or dt.datetime.now(dt.UTC)
        )
        return diff


@dataclass(frozen=True, slots=True)
class BoardIds:
    """The id of every board the hub knows, by number, and the numbers that `ensure_boards` just created."""

    by_number: Mapping[str, int]
    created: tuple[str, ...]


async def ensure_boards(connection: AsyncConnection, numbers: Iterable[str]) -> BoardIds:
    """Create the boards among `numbers` (normalised five-digit numbers) that the hub does not know yet,
    named provisionally after their number, within the caller's transaction."""
    known = await _board_ids(connection)
    missing = list(dict.fromkeys(number for number in numbers if number not in known))
    if missing:
        await connection.execute(
            insert(_BOARDS),
            [
                {"number": number, "name": provisional_board_name(number), "name_known": False}
                for number in missing
            ],
        )
        known = await _board_ids(connection)
    return BoardIds(known, tuple(missing))


async def _board_ids(connection: AsyncConnection) -> dict[str, int]:
    rows = await connection.execute(select(_BOARDS.c.number, _BOARDS.c.id))
    return {row.number: row.id for row in rows}


async def _apply_locations(
    connection: AsyncConnection, locations: Sequence[RegistryLocation], boards: BoardIds
) -> tuple[RegistryDiff, list[int]]:
    """The changes of a load, and the ids of the schools that moved to another board."""
    schools = _SCHOOLS
    board_numbers = {board_id: number for number, board_id in boards.by_number.items()}
    current = {
        row.code: row
        for row in await connection.execute(
            select(schools.c.id, schools.c.code, schools.c.name, schools.c.board_id, schools.c.source)
        )
    }
    listed = {location.code for location in locations}
    new: list[RegistryLocation] = []
    renamed: list[RegistryRename] = []
    moved: list[RegistryMove] = []
    moved_ids: list[int] = []
    updates: list[dict[str, Any]] = []
    unchanged = 0
    for location in locations:
        board_id = boards.by_number[location.board_number]
        row = current.get(location.code)
        if row is None:
            new.append(location)
            continue
        if row.name != location.name:
            renamed.append(RegistryRename(location.code, row.name, location.name))
        if row.board_id != board_id:
            moved.append(RegistryMove(location.code, board_numbers[row.board_id], location.board_number))
            moved_ids.append(row.id)
        if row.name != location.name or row.board_id != board_id or row.source != "duo":
            updates.append({"school_id": row.id, "new_name": location.name, "new_board_id": board_id})
        else:
            unchanged += 1
    if new:
        await connection.execute(insert(_SCHOOLS), list(_new_school_rows(new, boards.by_number)))
    if updates:
        statement = (
            update(schools)
            .where(schools.c.id == bindparam("school_id"))
            .values(name=bindparam("new_name"), board_id=bindparam("new_board_id"), source="duo")
        )
        await connection.execute(statement, updates)
    vanished = sorted(
        (
            RegistryLocation(row.code[:4], row.code[4:], row.name, board_numbers[row.board_id])
            for row in current.values()
            if row.source == "duo" and row.code not in listed
        ),
        key=lambda location: location.code,
    )
    diff = RegistryDiff(
        new=tuple(new),
        renamed=tuple(renamed),
        moved=tuple(moved),
        vanished=tuple(vanished),
        unchanged=unchanged,
        new_boards=boards.created,
    )
    return diff, moved_ids


def _new_school_rows(
    locations: Sequence[RegistryLocation], board_ids: Mapping[str, int]
) -> Iterator[dict[str, Any]]:
    for location in locations:
        yield {
            "brin": location.brin,
            "location_code": location.location_code,
            "code": location.code,
            "name": location.name,
            "board_id": board_ids[location.board_number],
            # Opaque and random on purpose: a login shortcut must not reveal or follow the BRIN.
            "instelling_ref": uuid.uuid4().hex,
            "source": "duo",
        }
