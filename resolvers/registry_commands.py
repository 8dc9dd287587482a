"""The operator's registry commands: `registry load`, `registry link-brin`, `location add`, and
`location close` / `location reopen`.

Each opens its own engine, does one thing in one transaction, and returns a JSON-able dict that the command
line prints as it is; refused input raises `CommandError` (one line on stderr, exit code 2, nothing changed).
The output shapes are part of the command line's contract (scripts read them):

`registry load FILE`::

    {"counts": {"locations": 778, "new": 1, "renamed": 1, "moved": 0, "vanished": 1,
                "unchanged": 776, "new_boards": 0},
     "new":      [{"code": "16DJ00", "name": "OBS De Esdoorn", "board_number": "10249"}],
     "renamed":  [{"code": "16AH00", "old_name": "OBS 't Eenspan", "new_name": "IKC 't Eenspan"}],
     "moved":    [{"code": "03GR01", "old_board_number": "40655", "new_board_number": "41851"}],
     "vanished": [{"code": "16BX00", "name": "OBS 2 Emmen", "board_number": "10249"}],
     "new_boards": ["41851"],
     "closure_offered": [{"code": "16BX00", "command": "python server.py school close 16BX00"}]}

A vanished location is only offered for closure (`school close CODE`); the load never closes it.

`location add CODE --name NAME --board NUMBER`::

    {"code": "99XX00", "name": "Testlocatie", "board_number": "00042", "source": "manual",
     "instelling_ref": "…", "board_created": true}

`registry link-brin OLD NEW`::

    {"linked": [{"old_code": "16AH00", "new_code": "30XY00", "name": "…", "board_number": "10249",
                 "merged": false}]}

`location close CODE` / `location reopen CODE`::

    {"code": "16AH00", "active": false}

Every list is ordered by code, so two runs over the same data print the same text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datasources.registry.duo import RegistryFormatError, load_registry, read_registry
from datasources.registry.locations import (
    add_managed_location,
    end_managed_location,
    link_new_brin,
    rename_managed_location,
    set_school_active,
)
from errors import PublicError
from resolvers.admin import CommandError, command_engine

if TYPE_CHECKING:
    import os

    from datasources.registry.duo import RegistryDiff
    from settings import Settings


async def load_registry_file(settings: Settings, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load the DUO location file at `path`: boards and DUO locations follow it; the summary says what
    changed. A file the reader refuses, or one that lists no location at all, changes nothing."""
    try:
        locations = read_registry(path)
    except (OSError, RegistryFormatError) as error:
        raise CommandError(f"cannot read the DUO registry file: {error}") from None
    if not locations:
        # An empty export would report every location as vanished: almost certainly the wrong file.
        raise CommandError("the DUO registry file lists no locations; nothing was loaded")
    async with command_engine(settings) as engine:
        diff = await load_registry(engine, locations, require_dpa=settings.dpa_required, now=settings.now())
    return _summary(len(locations), diff)


def _summary(listed: int, diff: RegistryDiff) -> dict[str, Any]:
    return {
        "counts": {
            "locations": listed,
            "new": len(diff.new),
            "renamed": len(diff.renamed),
            "moved": len(diff.moved),
            "vanished": len(diff.vanished),
            "unchanged": diff.unchanged,
            "new_boards": len(diff.new_boards),
        },
        "new": [
            {"code": location.code, "name": location.name, "board_number": location.board_number}
            for location in sorted(diff.new, key=lambda location: location.code)
        ],
        "renamed": [
            {"code": rename.code, "old_name": rename.old_name, "new_name": rename.new_name}
            for rename in sorted(diff.renamed, key=lambda rename: rename.code)
        ],
        "moved": [
            {
                "code": move.code,
                "old_board_number": move.old_board_number,
                "new_board_number": move.new_board_number,
            }
            for move in sorted(diff.moved, key=lambda move: move.code)
        ],
        "vanished": [
            {"code": location.code, "name": location.name, "board_number": location.board_number}
            for location in sorted(diff.vanished, key=lambda location: location.code)
        ],
        "new_boards": sorted(diff.new_boards),
        # DUO no longer lists them: closing is the operator's decision (never done by the load itself).
        "closure_offered": [
            {"code": location.code, "command": f"python server.py school close {location.code}"}
            for location in sorted(diff.vanished, key=lambda location: location.code)
        ],
    }


async def add_location(settings: Settings, code: str, name: str, board_number: str) -> dict[str, Any]:
    """Add a managed location (one DUO does not list) under the board `board_number`; a board the hub does
    not know is created, named after its number. Refuses a malformed code and a code the hub already has."""
    async with command_engine(settings) as engine:
        try:
            added = await add_managed_location(engine, code=code, name=name, board_number=board_number)
        except PublicError as error:
            raise CommandError(error.message) from None
    return {
        "code": added.code,
        "name": added.name,
        "board_number": added.board_number,
        "source": "manual",
        "instelling_ref": added.instelling_ref,
        "board_created": added.board_created,
    }


async def link_brin(settings: Settings, old_code_or_brin: str, new_code_or_brin: str) -> dict[str, Any]:
    """Record DUO's assignment of a new BRIN (two BRINs) or a new code (two school codes) to existing
    locations; they keep their identity, people, consents, licenses and `INSTELLING_REF`."""
    async with command_engine(settings) as engine:
        try:
            linked = await link_new_brin(
                engine,
                old=old_code_or_brin,
                new=new_code_or_brin,
                require_dpa=settings.dpa_required,
                now=settings.now(),
            )
        except PublicError as error:
            raise CommandError(error.message) from None
    return {
        "linked": [
            {
                "old_code": location.old_code,
                "new_code": location.new_code,
                "name": location.name,
                "board_number": location.board_number,
                "merged": location.merged,
            }
            for location in linked
        ]
    }


async def set_location_active(settings: Settings, code: str, *, active: bool) -> dict[str, Any]:
    """Close or reopen a location: closed, it discloses nothing and takes no imports, and partners with
    consent there are told in their feed to delete what they hold (reopened, they get it back)."""
    async with command_engine(settings) as engine:
        try:
            await set_school_active(
                engine, code=code, active=active, now=settings.now(), require_dpa=settings.dpa_required
            )
        except PublicError as error:
            raise CommandError(error.message) from None
    return {"code": code.strip().upper(), "active": active}


async def rename_location(settings: Settings, code: str, name: str) -> dict[str, Any]:
    """Rename a managed location (one DUO does not list); DUO's own locations are refused."""
    async with command_engine(settings) as engine:
        try:
            renamed = await rename_managed_location(engine, code=code, name=name)
        except PublicError as error:
            raise CommandError(error.message) from None
    return {"code": renamed.code, "name": renamed.name, "board_number": renamed.board_number, "active": True}


async def end_location(settings: Settings, code: str) -> dict[str, Any]:
    """End a managed location: it stays with its history, but is no longer active."""
    async with command_engine(settings) as engine:
        try:
            ended = await end_managed_location(engine, code=code)
        except PublicError as error:
            raise CommandError(error.message) from None
    return {"code": ended.code, "name": ended.name, "board_number": ended.board_number, "active": False}
