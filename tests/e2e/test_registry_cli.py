"""The registry commands as the operator runs them: `registry load`, `registry link-brin`, `location add`.

The command functions are called directly on both engines; the command line (`python server.py …`, through
its entry point in this process, as tests/e2e/test_cli.py runs it) for the output and exit codes API.md
promises: JSON on stdout, or exit 2 with one line on stderr and nothing changed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from datasources.registry.duo import read_registry
from datasources.store.tables import SCHOOLS
from resolvers.admin import CommandError
from resolvers.registry_commands import add_location, link_brin, load_registry_file, set_location_active
from tests.e2e.conftest import run_cli_in_process
from tests.reference import DUO_FILE

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings
    from tests.e2e.conftest import CommandResult

#: How the real file's lines of 16AH00 and 16BX00 start.
_EENSPAN = "Drenthe;10249;16AH;16AH00;OBS 't Eenspan;"
_VEGTER = "Drenthe;10249;16BX;16BX00;OBS 2 Emmen Mr Vegter;"


def _duo_copy(folder: Path, *, replace: dict[str, str] | None = None, drop: str = "", add: str = "") -> Path:
    """A copy of the real DUO file in its own layout (cp1252, `;`, CRLF) with lines edited: `replace` maps
    a line's start to a new start, `drop` removes the line starting with it, `add` appends a line."""
    lines = DUO_FILE.read_bytes().decode("cp1252").split("\r\n")
    edited = []
    for line in lines:
        if drop and line.startswith(drop):
            continue
        for old, new in (replace or {}).items():
            if line.startswith(old):
                line = new + line[len(old) :]  # noqa: PLW2901 - the edited line is the point
        edited.append(line)
    if add:
        edited.insert(-1, add)  # before the empty string that the final CRLF leaves
    path = folder / "vestigingen.csv"
    path.write_bytes("\r\n".join(edited).encode("cp1252"))
    return path


async def _codes(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set((await connection.execute(select(SCHOOLS.c.code))).scalars())


async def _school(engine: AsyncEngine, code: str) -> dict[str, Any]:
    async with engine.connect() as connection:
        row = (await connection.execute(select(SCHOOLS).where(SCHOOLS.c.code == code))).one()
    return dict(row._mapping)


# --- the command functions, on both engines -----------------------------------------------------------


async def test_loading_the_real_duo_file_into_an_empty_hub_reports_778_new_locations(
    settings: Settings, engine: AsyncEngine
) -> None:
    summary = await load_registry_file(settings, DUO_FILE)

    assert summary["counts"] == {
        "locations": 778,
        "new": 778,
        "renamed": 0,
        "moved": 0,
        "vanished": 0,
        "unchanged": 0,
        "new_boards": 86,
    }
    codes = [location["code"] for location in summary["new"]]
    assert codes == sorted(codes), "lists are ordered by code, so two runs print the same text"
    assert {"code": "16AH00", "name": "OBS 't Eenspan", "board_number": "10249"} in summary["new"]
    assert (summary["renamed"], summary["moved"], summary["vanished"]) == ([], [], [])
    assert len(await _codes(engine)) == 778
    assert json.loads(json.dumps(summary)) == summary, "the summary is JSON as it is"


async def test_loading_a_modified_copy_reports_the_renamed_the_vanished_and_the_new_location(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    await load_registry_file(settings, DUO_FILE)
    modified = _duo_copy(
        tmp_path,
        replace={_EENSPAN: "Drenthe;10249;16AH;16AH00;IKC 't Eenspan;"},
        drop=_VEGTER,
        add="Drenthe;10249;31XY;31XY00;OBS De Nieuwbouw;" + ";" * 25,
    )

    summary = await load_registry_file(settings, modified)

    assert summary["counts"] == {
        "locations": 778,
        "new": 1,
        "renamed": 1,
        "moved": 0,
        "vanished": 1,
        "unchanged": 776,
        "new_boards": 0,
    }
    assert summary["new"] == [{"code": "31XY00", "name": "OBS De Nieuwbouw", "board_number": "10249"}]
    assert summary["renamed"] == [
        {"code": "16AH00", "old_name": "OBS 't Eenspan", "new_name": "IKC 't Eenspan"}
    ]
    assert summary["vanished"] == [
        {"code": "16BX00", "name": "OBS 2 Emmen Mr Vegter", "board_number": "10249"}
    ]
    assert "16BX00" in await _codes(engine), "a vanished location is reported, not deleted"
    assert summary["closure_offered"] == [
        {"code": "16BX00", "command": "python server.py school close 16BX00"}
    ], "a vanished location is offered for closure"
    async with engine.connect() as connection:
        active = await connection.scalar(select(SCHOOLS.c.active).where(SCHOOLS.c.code == "16BX00"))
    assert active is True, "never closed silently"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read the DUO registry file"),
        (b"PROVINCIE;BRIN NUMMER\r\nDrenthe;16AH\r\n", "line 1: header lacks"),
        (DUO_FILE.read_bytes().split(b"\r\n", 1)[0] + b"\r\n", "lists no locations"),
    ],
)
async def test_a_file_that_cannot_be_loaded_is_refused_and_loads_nothing(
    settings: Settings, engine: AsyncEngine, tmp_path: Path, content: bytes | None, problem: str
) -> None:
    path = tmp_path / "vestigingen.csv"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(CommandError, match=problem):
        await load_registry_file(settings, path)

    assert await _codes(engine) == set()


async def test_location_add_creates_a_manual_location_and_refuses_a_code_the_registry_listed(
    settings: Settings, engine: AsyncEngine
) -> None:
    await load_registry_file(settings, DUO_FILE)

    added = await add_location(settings, "99zx00", "Testlocatie Inspectie", "10249")

    assert added == {
        "code": "99ZX00",
        "name": "Testlocatie Inspectie",
        "board_number": "10249",
        "source": "manual",
        "instelling_ref": (await _school(engine, "99ZX00"))["instelling_ref"],
        "board_created": False,
    }
    with pytest.raises(CommandError, match="school 16AH00 already exists \\(a DUO location"):
        await add_location(settings, "16AH00", "Dubbel", "10249")
    with pytest.raises(CommandError, match="school 99ZX00 already exists \\(a managed location"):
        await add_location(settings, "99ZX00", "Dubbel", "10249")
    with pytest.raises(CommandError, match="not a school code"):
        await add_location(settings, "99ZX", "Zonder vestigingsnummer", "10249")
    assert len(await _codes(engine)) == 779


async def test_a_new_brin_in_the_duo_file_is_linked_and_the_next_load_agrees_with_the_hub(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    await load_registry_file(settings, DUO_FILE)
    before = await _school(engine, "16AH00")
    # DUO's next file lists 16AH00 under the new BRIN 30XY; the file does not say it is the same school.
    renewed = _duo_copy(tmp_path, replace={_EENSPAN: "Drenthe;10249;30XY;30XY00;OBS 't Eenspan;"})
    loaded = await load_registry_file(settings, renewed)
    assert ([new["code"] for new in loaded["new"]], [gone["code"] for gone in loaded["vanished"]]) == (
        ["30XY00"],
        ["16AH00"],
    )

    linked = await link_brin(settings, "16AH", "30XY")

    assert linked == {
        "linked": [
            {
                "old_code": "16AH00",
                "new_code": "30XY00",
                "name": "OBS 't Eenspan",
                "board_number": "10249",
                "merged": True,
            }
        ]
    }
    after = await _school(engine, "30XY00")
    assert (after["id"], after["instelling_ref"]) == (before["id"], before["instelling_ref"])
    again = await load_registry_file(settings, renewed)
    assert again["counts"]["unchanged"] == 778
    assert (again["new"], again["vanished"]) == ([], [])


async def test_link_brin_refuses_an_unknown_old_code_with_a_command_error(settings: Settings) -> None:
    await load_registry_file(settings, DUO_FILE)

    with pytest.raises(CommandError, match="no location has code 77ZZ00"):
        await link_brin(settings, "77ZZ00", "30XY00")


# --- the command line ------------------------------------------------------------------------------------


def _cli(settings: Settings, folder: Path, *arguments: str) -> CommandResult:
    return run_cli_in_process(*arguments, settings=settings, cwd=folder)


def _assert_refused(completed: CommandResult, *mentions: str) -> None:
    """Exit code 2, one line on stderr that names the problem, no traceback, nothing on stdout."""
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    for mention in mentions:
        assert mention in lines[0]
    assert completed.stdout == ""


async def _school_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(SCHOOLS))).scalar_one())


async def test_registry_load_prints_its_summary_as_json_and_refuses_a_bad_file_with_exit_2(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    completed = _cli(settings, tmp_path, "registry", "load", str(DUO_FILE))

    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout)
    assert summary["counts"]["new"] == 778
    assert [new["code"] for new in summary["new"]] == sorted(
        location.code for location in read_registry(DUO_FILE)
    )

    (tmp_path / "bad.csv").write_bytes(b"PROVINCIE;BRIN NUMMER\r\nDrenthe;16AH\r\n")
    refused = _cli(settings, tmp_path, "registry", "load", "bad.csv")

    _assert_refused(refused, "line 1")
    assert await _school_count(engine) == 778


async def test_location_add_prints_the_location_as_json_and_a_duplicate_exits_2(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    completed = _cli(
        settings, tmp_path, "location", "add", "99ZX00", "--name", "Testlocatie", "--board", "42"
    )

    assert completed.returncode == 0, completed.stderr
    added = json.loads(completed.stdout)
    assert (added["code"], added["board_number"], added["source"], added["board_created"]) == (
        "99ZX00",
        "00042",
        "manual",
        True,
    )

    duplicate = _cli(settings, tmp_path, "location", "add", "99ZX00", "--name", "Nog een", "--board", "43")

    _assert_refused(duplicate, "99ZX00", "already exists")
    assert await _school_count(engine) == 1


async def test_registry_link_brin_prints_the_move_as_json_and_a_refusal_exits_2(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    await add_location(settings, "99ZX00", "Testlocatie", "42")
    school_id = (await _school(engine, "99ZX00"))["id"]

    mixed = _cli(settings, tmp_path, "registry", "link-brin", "99ZX", "98ZX00")
    unknown = _cli(settings, tmp_path, "registry", "link-brin", "77ZZ", "98ZX")
    completed = _cli(settings, tmp_path, "registry", "link-brin", "99ZX", "98ZX")

    _assert_refused(mixed, "two BRINs")
    _assert_refused(unknown, "no location has BRIN 77ZZ")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == {
        "linked": [
            {
                "old_code": "99ZX00",
                "new_code": "98ZX00",
                "name": "Testlocatie",
                "board_number": "00042",
                "merged": False,
            }
        ]
    }
    assert (await _school(engine, "98ZX00"))["id"] == school_id
    assert await _codes(engine) == {"98ZX00"}


async def test_location_close_and_reopen_set_whether_a_location_is_open_and_refuse_an_unknown_code(
    settings: Settings, engine: AsyncEngine
) -> None:
    await load_registry_file(settings, DUO_FILE)

    assert await set_location_active(settings, "16ah00", active=False) == {"code": "16AH00", "active": False}
    assert (await _school(engine, "16AH00"))["active"] is False
    assert await set_location_active(settings, "16AH00", active=True) == {"code": "16AH00", "active": True}
    assert (await _school(engine, "16AH00"))["active"] is True
    with pytest.raises(CommandError, match="no location has code 99ZX00"):
        await set_location_active(settings, "99ZX00", active=False)
    with pytest.raises(CommandError, match="not a school code"):
        await set_location_active(settings, "99ZX", active=False)
