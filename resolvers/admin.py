"""The operator's commands (`python server.py …`): each opens its own engine, does one thing, closes it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from auth.categories import DataCategory
from auth.credentials import (
    WeakPassword,
    check_password_strength,
    hash_secret,
    new_client_id,
    new_client_secret,
)
from auth.viewer import Viewer, ViewerKind
from datasources.access import las_clients
from datasources.access.account_requests import open_school_account as open_recorded_school_account
from datasources.access.accounts import add_coordinator
from datasources.access.signing_keys import rotate_keys
from datasources.feed.retention import prune
from datasources.imports.export import school_file_from_store
from datasources.registry.duo import RegistryFormatError, read_registry
from datasources.sandbox import showcase
from datasources.sandbox.world import SeedError, seed_world
from datasources.school_files.edexml_writer import write_edexml
from datasources.store.database import create_engine
from errors import PublicError
from resolvers.accounts import register_partner
from resolvers.imports import import_school_file
from resolvers.signing import Keys

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.access.account_requests import SignedRequest
    from datasources.imports.report import ImportReport
    from datasources.school_files.model import SchoolFile
    from settings import Settings

REGISTRY_FILE: Final = (
    Path(__file__).resolve().parent.parent
    / "reference"
    / "duo"
    / "vestigingen-bo-2013-drenthe-flevoland-groningen.csv"
)
OPERATOR_ID: Final = "helpdesk"
DEMO_COORDINATOR_EMAIL: Final = "coordinator@sandbox.example"


class CommandError(Exception):
    """A command was refused: its message is the one line printed on stderr (exit code 2)."""


@asynccontextmanager
async def command_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine for one command, disposed when it is done."""
    engine = create_engine(settings.database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def operator_token(settings: Settings) -> str:
    """A sandbox operator token, signed with the keys every process shares."""
    if not settings.sandbox:
        raise CommandError("operator tokens are minted on the command line in the sandbox only")
    async with command_engine(settings) as engine:
        token, _ = await Keys(engine, settings).mint(ViewerKind.OPERATOR, OPERATOR_ID, ["operator"])
    return token


async def seed(settings: Settings, schools: int, students_per_school: int, seed: int) -> dict[str, int]:
    """Seed a synthetic world from the DUO file; returns the counts."""
    try:
        registry = read_registry(settings.registry_file or REGISTRY_FILE)
    except (OSError, RegistryFormatError) as error:
        raise CommandError(f"cannot read the DUO registry file: {error}") from None
    async with command_engine(settings) as engine:
        try:
            summary = await seed_world(
                engine,
                registry=registry,
                schools=schools,
                students_per_school=students_per_school,
                seed=seed,
                today=settings.now().date(),
                require_dpa=settings.dpa_required,
            )
        except SeedError as error:
            raise CommandError(str(error)) from None
    return dataclasses.asdict(summary)


async def is_empty(settings: Settings) -> bool:
    """Whether the database holds no school yet (a fresh sandbox)."""
    async with command_engine(settings) as engine:
        return await showcase.is_empty(engine)


async def rotate(settings: Settings) -> str:
    """Start a key rollover; returns the new key's id."""
    async with command_engine(settings) as engine:
        keyset = await rotate_keys(engine, now=settings.now())
    return keyset.active.kid


def parse_categories(text: str) -> list[DataCategory]:
    """`STUDENT_BASIC,student.name` → categories; both the enum names and the dotted names are accepted."""
    found: list[DataCategory] = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        by_value = {category.value: category for category in DataCategory}
        category = DataCategory.__members__.get(part.upper()) or by_value.get(part.lower())
        if category is None:
            known = ", ".join(category.name for category in DataCategory)
            raise CommandError(f"unknown data category {part!r}; known: {known}")
        found.append(category)
    return found


async def create_partner(
    settings: Settings, name: str, kind: str, categories: Sequence[DataCategory], eck_chain: bool
) -> dict[str, Any]:
    """Register a partner; the credentials as API.md prints them (the secret only this once)."""
    async with command_engine(settings) as engine:
        try:
            credentials = await register_partner(
                engine, name=name, kind=kind, categories=categories, eck_chain=eck_chain, now=settings.now()
            )
        except PublicError as error:
            raise CommandError(error.message) from None
    return {
        "partner_id": credentials.partner_id,
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }


async def add_school_coordinator(
    settings: Settings, school_code: str, email: str, password: str
) -> dict[str, Any]:
    """Bootstrap a coordinator of a school (after the board's signed request reached the helpdesk)."""
    try:
        check_password_strength(password)
    except WeakPassword as error:
        raise CommandError(str(error)) from None
    async with command_engine(settings) as engine:
        try:
            account_id = await add_coordinator(
                engine,
                school_code=school_code,
                email=email,
                password_hash=hash_secret(password),
                created_by=f"operator:{OPERATOR_ID}",
                now=settings.now(),
            )
        except PublicError as error:
            raise CommandError(error.message) from None
    return {"account_id": account_id, "email": email.strip().lower(), "school": school_code.strip().upper()}


async def sandbox_tokens(settings: Settings) -> dict[str, str]:
    """Ready tokens for a sandbox: the operator, the first demo publisher, and a demo coordinator of the
    first school (created on first start with a random password nobody needs: the token is printed)."""
    async with command_engine(settings) as engine:
        keys = Keys(engine, settings)
        tokens = {"operator": (await keys.mint(ViewerKind.OPERATOR, OPERATOR_ID, ["operator"]))[0]}
        subjects = await showcase.subjects(engine, DEMO_COORDINATOR_EMAIL)
        publisher, school = subjects.publisher_client_id, subjects.school_code
        account = subjects.coordinator_account_id
        if publisher is not None:
            tokens["publisher"] = (await keys.mint(ViewerKind.PARTNER, publisher, ["partner"]))[0]
        if school is not None:
            if account is None:
                account = await add_coordinator(
                    engine,
                    school_code=school,
                    email=DEMO_COORDINATOR_EMAIL,
                    password_hash=hash_secret(secrets.token_urlsafe(24)),
                    created_by="sandbox",
                    now=settings.now(),
                )
            scopes = ["staff", "coordinator", f"school:{school}"]
            tokens["coordinator"] = (await keys.mint(ViewerKind.STAFF, str(account), scopes))[0]
    return tokens


async def create_las_client(settings: Settings, name: str, school_codes: Sequence[str]) -> dict[str, Any]:
    """Register a LAS client for its schools; the credentials (the secret only this once)."""
    client_id, secret = new_client_id(name), new_client_secret()
    async with command_engine(settings) as engine:
        try:
            las_id = await las_clients.create_las_client(
                engine,
                name=name,
                client_id=client_id,
                secret_hash=hash_secret(secret),
                school_codes=school_codes,
                now=settings.now(),
            )
        except PublicError as error:
            raise CommandError(error.message) from None
    return {"las_client_id": las_id, "client_id": client_id, "client_secret": secret}


async def import_file(
    settings: Settings, read: Callable[[], SchoolFile], *, dry_run: bool, confirm: bool
) -> ImportReport:
    """The operator imports a school file from the command line."""
    async with command_engine(settings) as engine:
        try:
            return await import_school_file(
                engine,
                settings,
                read,
                viewer=Viewer(ViewerKind.OPERATOR, OPERATOR_ID),
                scope=None,
                dry_run=dry_run,
                confirm=confirm,
            )
        except PublicError as error:
            raise CommandError(error.message) from None


async def export_edex(settings: Settings, code: str, school_year: str | None) -> bytes:
    """A school's current data written out as EDEXML 2.1 (validated against the schema on the way out)."""
    async with command_engine(settings) as engine:
        school_file = await school_file_from_store(
            engine, code.strip().upper(), settings.now().date(), school_year
        )
    if school_file is None:
        raise CommandError(f"no school with code {code}")
    try:
        return write_edexml(school_file)
    except ValueError as error:
        raise CommandError(f"the school cannot be written as EDEXML: {error}") from None


async def prune_feed(settings: Settings, days: int | None = None) -> dict[str, Any]:
    """Drop change events older than the retention period: `days`, or LEERPOORT_FEED_RETENTION_DAYS (90 by
    default). A partner whose cursor is older must then resync. Returns how many events went and the
    moment before which they were recorded."""
    retention = settings.feed_retention_days if days is None else days
    if retention < 1:
        raise CommandError("the retention period is at least one day")
    older_than = settings.now() - dt.timedelta(days=retention)
    async with command_engine(settings) as engine:
        pruned = await prune(engine, older_than)
    return {"pruned": pruned, "older_than": older_than.isoformat(), "retention_days": retention}


async def open_school_account(settings: Settings, request: SignedRequest, password: str) -> dict[str, Any]:
    """Open a school account and its first coordinator (with this password) on the board's signed request,
    which is recorded with it: the command line's `staff add-coordinator`."""
    try:
        check_password_strength(password)
    except WeakPassword as error:
        raise CommandError(str(error)) from None
    async with command_engine(settings) as engine:
        try:
            recorded = await open_recorded_school_account(
                engine,
                request,
                password_hash=hash_secret(password),
                recorded_by=f"operator:{OPERATOR_ID}",
                now=settings.now(),
            )
        except PublicError as error:
            raise CommandError(error.message) from None
    return {
        "account_id": recorded.account_id,
        "email": recorded.request.coordinator_email,
        "school": recorded.school_code,
        "request_id": recorded.id,
        "document_sha256": recorded.request.document_sha256,
    }
