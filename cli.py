"""Leerpoort's command line (`python server.py …`, API.md "Command line").

Exit codes: 0 on success, 2 for a usage error or refused input (one clear line on stderr, nothing
changed), 3 for an import held for confirmation. Machine-readable output goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import uvicorn
from pydantic import ValidationError

from datasources.access import persisted_operations
from datasources.access.account_requests import SignedRequest
from datasources.school_files.csv_folder import read_csv_folder
from datasources.school_files.edexml import read_edexml
from datasources.store.database import migrate
from resolvers import admin, network_client, oneroster, registry_commands
from resolvers import mail as mail_commands
from resolvers.imports import report_json, report_table
from schema.assembly import build_schema
from schema.published import client_sdl, federation_sdl
from schema.relay import from_global_id, to_global_id
from server import create_app
from settings import Settings, SettingsError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from datasources.school_files.model import SchoolFile

#: The sandbox world seeded on first start: small enough to start in seconds.
SANDBOX_SCHOOLS = 12
SANDBOX_STUDENTS_PER_SCHOOL = 60
SANDBOX_SEED = 2026


def serving_issuer(settings: Settings, host: str, port: int) -> str:
    """The `iss` of tokens for a server on `host`:`port`: LEERPOORT_ISSUER when it is set, else the
    address served on, so that the sandbox's printed tokens name the server that accepts them."""
    if "issuer" in settings.model_fields_set:
        return settings.issuer
    # A wildcard address is where the server listens, not an address a client can use.
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - compared, never bound
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    issuer = serving_issuer(settings, host, port)
    # uvicorn's worker processes read their own settings from the environment: they verify the same `iss`.
    os.environ["LEERPOORT_ISSUER"] = issuer
    settings = settings.model_copy(update={"issuer": issuer})
    migrate(settings.database_url)
    if settings.sandbox and asyncio.run(admin.is_empty(settings)):
        print(f"Seeding a sandbox world of {SANDBOX_SCHOOLS} schools …", file=sys.stderr)
        asyncio.run(admin.seed(settings, SANDBOX_SCHOOLS, SANDBOX_STUDENTS_PER_SCHOOL, SANDBOX_SEED))
    if settings.sandbox:
        tokens = asyncio.run(admin.sandbox_tokens(settings))
        print(f"Leerpoort sandbox: explorer at http://{host}:{port}/graphql", file=sys.stderr)
        print(f"Mail: {mail_commands.destination(settings)}", file=sys.stderr)
        for name, lifetime in (("operator", "12 h"), ("publisher", "15 min"), ("coordinator", "8 h")):
            if name in tokens:
                print(f"{name.capitalize()} token ({lifetime}):\n{tokens[name]}", file=sys.stderr)
    if workers > 1:
        uvicorn.run(
            "server:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
        )
    else:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _add_data_commands(commands: Any) -> None:
    """The commands that bring data in and out: locations, the registry, LAS clients, imports, exports."""
    location = commands.add_parser(
        "location", help="managed locations (not listed by DUO); closing and reopening locations"
    ).add_subparsers(dest="action", required=True)
    location_add = location.add_parser("add", help="add a managed location; prints it as JSON")
    location_add.add_argument("code", help="BRIN plus location code, e.g. 99ZX00")
    location_add.add_argument("--name", required=True)
    location_add.add_argument("--board", required=True, help="the board number (up to 5 digits)")
    for action, what in (
        ("close", "close a location: it discloses nothing"),
        ("reopen", "reopen a location"),
    ):
        location.add_parser(action, help=f"{what}; prints it as JSON").add_argument(
            "code", help="e.g. 16AH00"
        )
    location_rename = location.add_parser("rename", help="rename a managed location; prints it as JSON")
    location_rename.add_argument("code", help="BRIN plus location code, e.g. 99ZX00")
    location_rename.add_argument("--name", required=True)
    location_end = location.add_parser("end", help="end a managed location; prints it as JSON")
    location_end.add_argument("code", help="BRIN plus location code, e.g. 99ZX00")
    registry = commands.add_parser("registry", help="the DUO registry").add_subparsers(
        dest="action", required=True
    )
    registry_load = registry.add_parser("load", help="load a DUO location file; prints what changed as JSON")
    registry_load.add_argument("file")
    link = registry.add_parser("link-brin", help="record DUO's new BRIN (or code) of existing locations")
    link.add_argument("old", help="the old BRIN (16AH) or school code (16AH00)")
    link.add_argument("new", help="the new BRIN or school code, of the same kind as the old")
    las = commands.add_parser("las", help="LAS clients").add_subparsers(dest="action", required=True)
    las_create = las.add_parser("create", help="register a LAS client; prints its credentials as JSON")
    las_create.add_argument("name")
    las_create.add_argument("--schools", required=True, help="the school codes it serves, e.g. 16AH00,16AH01")
    imports = commands.add_parser("import", help="import a school file").add_subparsers(
        dest="kind", required=True
    )
    for kind, what in (("edex", "an EDEXML 2.0 or 2.1 file"), ("csv", "a folder in the CSV template")):
        command = imports.add_parser(
            kind, help=f"import {what}: exit 0 applied or dry run, 2 refused, 3 held"
        )
        command.add_argument("path")
        command.add_argument(
            "--dry-run", action="store_true", help="report what would change; change nothing"
        )
        command.add_argument("--confirm", action="store_true", help="apply an import that was held")
        command.add_argument("--json", action="store_true", help="print the report as JSON")
    export = commands.add_parser("export", help="write data out").add_subparsers(dest="format", required=True)
    edex = export.add_parser("edex", help="a school's current data as EDEXML 2.1 on stdout")
    edex.add_argument("code", help="the school's code, e.g. 16AH00")
    edex.add_argument("--school-year", help="a school year such as 2026-2027 (the current one by default)")
    roster = export.add_parser(
        "oneroster", help="a school's OneRoster 1.2 CSV bulk export as a partner reads it"
    )
    roster.add_argument("code", help="the school's code, e.g. 16AH00")
    roster.add_argument("--partner", required=True, help="the partner's id, as `partner create` printed it")
    roster.add_argument("--output", help="the ZIP file to write (CODE-oneroster.zip by default)")


def _export_oneroster(arguments: argparse.Namespace, settings: Settings) -> str:
    shown = from_global_id(arguments.partner)
    number = shown[1] if shown is not None and shown[0] == "Partner" else arguments.partner
    export = oneroster.write_export(settings, arguments.code, number, arguments.partner, arguments.output)
    return json.dumps(asyncio.run(export))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="server.py", description="Leerpoort: data and access hub for primary schools"
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="migrate, seed an empty sandbox, and serve (the default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="apply the database migrations")
    seed = commands.add_parser("seed", help="fill an empty database with a deterministic synthetic world")
    seed.add_argument("--schools", type=int, default=SANDBOX_SCHOOLS)
    seed.add_argument("--students-per-school", type=int, default=SANDBOX_STUDENTS_PER_SCHOOL)
    seed.add_argument("--seed", type=int, default=SANDBOX_SEED)
    token = commands.add_parser("token", help="mint a token")
    token.add_argument("kind", choices=["operator"])
    keys = commands.add_parser("keys", help="signing keys")
    keys.add_argument("action", choices=["rotate"])
    partner = commands.add_parser("partner", help="partners").add_subparsers(dest="action", required=True)
    create = partner.add_parser("create", help="register a partner; prints its credentials as JSON")
    create.add_argument("name")
    create.add_argument("--kind", required=True, choices=["publisher", "network-provider"])
    create.add_argument(
        "--categories", default="", help="declared categories, e.g. STUDENT_BASIC,student.name"
    )
    create.add_argument("--eck-chain", action="store_true", help="the partner is a member of the ECK chain")
    allow = partner.add_parser(
        "allow-operations",
        help="set a partner's allow-list of operations (SHA-256 of each document); none removes it",
    )
    allow.add_argument("partner_id", help="the partner's id, as `partner create` printed it")
    allow.add_argument("hashes", nargs="*", help="the SHA-256 (lowercase hex) of each operation it may run")
    staff = commands.add_parser("staff", help="school staff accounts").add_subparsers(
        dest="action", required=True
    )
    coordinator = staff.add_parser("add-coordinator", help="bootstrap a school's ICT coordinator")
    coordinator.add_argument("--school", required=True)
    coordinator.add_argument("--email", required=True)
    coordinator.add_argument("--password-stdin", action="store_true", required=True)
    # No coordinator without the board's signed request: its particulars as flags, or as a JSON file.
    coordinator.add_argument(
        "--request", help="a JSON file with the signed request's fields (the flags' names)"
    )
    for flag, text in _REQUEST_FLAGS.items():
        coordinator.add_argument(f"--{flag}", help=text)
    _add_data_commands(commands)
    feed = commands.add_parser("feed", help="the change feed").add_subparsers(dest="action", required=True)
    prune = feed.add_parser("prune", help="drop change events past the retention period; prints JSON")
    prune.add_argument("--days", type=int, help="days to keep (default LEERPOORT_FEED_RETENTION_DAYS, 90)")
    mail = commands.add_parser("mail", help="outgoing mail").add_subparsers(dest="action", required=True)
    mail.add_parser("send-queued", help="send the queued mail that is due now; prints the counts as JSON")
    network = commands.add_parser("school-network", help="a school's network registration").add_subparsers(
        dest="action", required=True
    )
    network_update = network.add_parser(
        "update",
        help="report this network's current address to the hub (the school's network token on stdin);"
        " prints the recorded range as JSON",
    )
    network_update.add_argument("--url", required=True, help="the hub's address, such as https://hub.example")
    network_update.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the hub")
    export_schema = commands.add_parser("export-schema", help="print the subgraph SDL")
    export_schema.add_argument(
        "--client",
        action="store_true",
        help="print the client SDL (schema.client.graphql: no federation plumbing) instead",
    )
    return parser


def _partner(arguments: argparse.Namespace, settings: Settings) -> str:
    if arguments.action == "allow-operations":
        return _allow_operations(arguments, settings)
    return _partner_create(arguments, settings)


def _allow_operations(arguments: argparse.Namespace, settings: Settings) -> str:
    """Replace a partner's allow-list of operations; prints `{"partner_id", "allowed"}` (null: no list)."""
    shown = from_global_id(arguments.partner_id)
    number = shown[1] if shown is not None and shown[0] == "Partner" else arguments.partner_id
    if not number.isdigit():
        raise admin.CommandError(f"not a partner id: {arguments.partner_id[:40]}")
    hashes = sorted(set(arguments.hashes))
    malformed = [sha256 for sha256 in hashes if not re.fullmatch(r"[0-9a-f]{64}", sha256)]
    if malformed:
        raise admin.CommandError(f"not a SHA-256 in lowercase hex: {malformed[0][:70]}")

    async def store() -> bool:
        async with admin.command_engine(settings) as engine:
            return await persisted_operations.set_allow_list(engine, int(number), hashes)

    if not asyncio.run(store()):
        raise admin.CommandError(f"no partner {arguments.partner_id[:40]}")
    return json.dumps({"partner_id": to_global_id("Partner", number), "allowed": hashes or None})


def _partner_create(arguments: argparse.Namespace, settings: Settings) -> str:
    kind = arguments.kind.upper().replace("-", "_")
    categories = admin.parse_categories(arguments.categories)
    created = asyncio.run(
        admin.create_partner(settings, arguments.name, kind, categories, arguments.eck_chain)
    )
    return json.dumps(created | {"partner_id": to_global_id("Partner", str(created["partner_id"]))})


#: The signed request's particulars `staff add-coordinator` requires (besides --school and --email).
_REQUEST_FLAGS = {
    "board-name": "the board's name as the request gives it",
    "board-number": "DUO's board number of the school",
    "school-name": "the school's name as the request gives it",
    "director": "the director on whose behalf the request was signed",
    "coordinator-name": "the coordinator's name",
    "document-sha256": "the SHA-256 of the signed document (64 hexadecimal digits)",
    "received-at": "when the signed document arrived (ISO 8601 with a time zone)",
}


def _signed_request(arguments: argparse.Namespace) -> SignedRequest:
    """The signed request from --request FILE and the flags (a flag wins over the file); refused with the
    missing fields named."""
    fields: dict[str, Any] = {}
    if arguments.request:
        try:
            loaded = json.loads(Path(arguments.request).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise admin.CommandError(f"cannot read the request file: {error}") from None
        if not isinstance(loaded, dict):
            raise admin.CommandError("the request file holds one JSON object")
        fields.update({str(key).replace("_", "-"): value for key, value in loaded.items()})
    for flag in _REQUEST_FLAGS:
        value = getattr(arguments, flag.replace("-", "_"))
        if value is not None:
            fields[flag] = value
    missing = [f"--{flag}" for flag in _REQUEST_FLAGS if not str(fields.get(flag) or "").strip()]
    if missing:
        raise admin.CommandError(
            "a coordinator is added only on the board's signed request; missing: " + ", ".join(missing)
        )
    try:
        received_at = dt.datetime.fromisoformat(str(fields["received-at"]))
    except ValueError:
        raise admin.CommandError(
            "--received-at is an ISO 8601 date-time, e.g. 2026-11-30T09:15:00+01:00"
        ) from None
    code = arguments.school.strip().upper()
    return SignedRequest(
        board_name=str(fields["board-name"]),
        board_number=str(fields["board-number"]),
        school_name=str(fields["school-name"]),
        brin=code[:4],
        location_code=code[4:],
        director_name=str(fields["director"]),
        coordinator_name=str(fields["coordinator-name"]),
        coordinator_email=arguments.email,
        document_sha256=str(fields["document-sha256"]),
        received_at=received_at,
    )


def _add_coordinator(arguments: argparse.Namespace, settings: Settings) -> str:
    request = _signed_request(arguments)
    password = sys.stdin.readline().rstrip("\r\n")
    added = asyncio.run(admin.open_school_account(settings, request, password))
    return json.dumps(added)


class _Held(Exception):  # noqa: N818 - control flow: the import was held (exit code 3)
    def __init__(self, output: str) -> None:
        super().__init__(output)
        self.output = output


def _import(arguments: argparse.Namespace, settings: Settings) -> str:
    path = Path(arguments.path)
    if arguments.kind == "edex":
        if not path.is_file():
            raise admin.CommandError(f"no such file: {path}")

        def read() -> SchoolFile:
            with path.open("rb") as file:
                progress = cast("BinaryIO", _Progress(file, path.stat().st_size))
                return read_edexml(progress, max_bytes=settings.max_import_bytes)

    else:
        if not path.is_dir():
            raise admin.CommandError(f"no such folder: {path}")

        def read() -> SchoolFile:
            return read_csv_folder(path)

    report = asyncio.run(
        admin.import_file(settings, read, dry_run=arguments.dry_run, confirm=arguments.confirm)
    )
    output = json.dumps(report_json(report)) if arguments.json else report_table(report)
    if report.errors:
        print(output)
        raise admin.CommandError(report.errors[0])
    if report.held:
        raise _Held(output)
    return output


class _Progress(io.RawIOBase):
    """A file wrapper that draws a progress bar on a terminal's stderr while a large file is read."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self._file, self._size, self._read, self._shown = file, max(size, 1), 0, -1
        self._visible = size > 5_000_000 and sys.stderr.isatty()

    def readable(self) -> bool:
        return True

    # The reader re-reads a file to find the line of a schema error: seeking goes to the file itself.
    def seekable(self) -> bool:
        return bool(self._file.seekable())

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        count = self._file.readinto(buffer)  # type: ignore[attr-defined]
        self._read += count or 0
        percent = 100 * self._read // self._size
        if self._visible and percent != self._shown:
            self._shown = percent
            bar = "#" * (percent // 4)
            print(f"\rreading [{bar:<25}] {percent:3}%", end="" if percent < 100 else "\n", file=sys.stderr)
        return int(count or 0)


def _location(arguments: argparse.Namespace, settings: Settings) -> str:
    if arguments.action == "add":
        return json.dumps(
            asyncio.run(
                registry_commands.add_location(settings, arguments.code, arguments.name, arguments.board)
            )
        )
    if arguments.action == "rename":
        return json.dumps(
            asyncio.run(registry_commands.rename_location(settings, arguments.code, arguments.name))
        )
    if arguments.action == "end":
        return json.dumps(asyncio.run(registry_commands.end_location(settings, arguments.code)))
    active = arguments.action == "reopen"
    return json.dumps(
        asyncio.run(registry_commands.set_location_active(settings, arguments.code, active=active))
    )


def _registry(arguments: argparse.Namespace, settings: Settings) -> str:
    if arguments.action == "load":
        return json.dumps(asyncio.run(registry_commands.load_registry_file(settings, arguments.file)))
    return json.dumps(asyncio.run(registry_commands.link_brin(settings, arguments.old, arguments.new)))


_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], str | None]] = {
    "migrate": lambda _arguments, _settings: None,
    "seed": lambda arguments, settings: json.dumps(
        asyncio.run(admin.seed(settings, arguments.schools, arguments.students_per_school, arguments.seed))
    ),
    "token": lambda _arguments, settings: asyncio.run(admin.operator_token(settings)),
    "keys": lambda _arguments, settings: asyncio.run(admin.rotate(settings)),
    "partner": _partner,
    "staff": _add_coordinator,
    "location": _location,
    "registry": _registry,
    "las": lambda arguments, settings: json.dumps(
        asyncio.run(admin.create_las_client(settings, arguments.name, arguments.schools.split(",")))
    ),
    "import": _import,
    "feed": lambda arguments, settings: json.dumps(asyncio.run(admin.prune_feed(settings, arguments.days))),
    "mail": lambda _arguments, settings: json.dumps(asyncio.run(mail_commands.send_queued_command(settings))),
    "export": lambda arguments, settings: (
        _export_oneroster(arguments, settings)
        if arguments.format == "oneroster"
        else asyncio.run(admin.export_edex(settings, arguments.code, arguments.school_year)).decode()
    ),
}


def _run(command: str, arguments: argparse.Namespace, settings: Settings) -> str | None:
    """Carry out one command; returns what to print on stdout."""
    if command == "export-schema":
        schema = build_schema(settings)
        return client_sdl(schema) if arguments.client else federation_sdl(schema)
    if command == "school-network":
        # Runs on a school's machine against a remote hub: no database here to migrate.
        return network_client.report_address(arguments.url, sys.stdin.read(), timeout=arguments.timeout)
    migrate(settings.database_url)
    return _COMMANDS[command](arguments, settings)


def _settings_problems(error: ValidationError) -> str:
    """One readable line: a setting's own error says what is wrong; a field error names the field."""
    problems = []
    for problem in error.errors():
        cause = (problem.get("ctx") or {}).get("error")
        message = str(cause) if cause is not None else problem["msg"]
        location = ".".join(str(part) for part in problem["loc"])
        problems.append(f"{location}: {message}" if location else message)
    return "; ".join(problems)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 2 usage error or refused input)."""
    parser = _parser()
    given = list(sys.argv[1:] if argv is None else argv)
    # Serving is the default command, with its options too: `server.py --port 8123` serves on 8123.
    if not given or (given[0].startswith("-") and given[0] not in ("-h", "--help")):
        given = ["serve", *given]
    arguments = parser.parse_args(given)
    command = arguments.command
    try:
        settings = Settings()
        if command == "serve":
            _serve(settings, arguments.host, arguments.port, arguments.workers)
            return 0
        output = _run(command, arguments, settings)
    except _Held as held:
        print(held.output)
        return 3
    except (admin.CommandError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:
        print(f"error: invalid settings: {_settings_problems(error)}", file=sys.stderr)
        return 2
    if output is not None:
        print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
