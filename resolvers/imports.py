"""Imports of school files: who may import for which school, and the one path every entry point takes
(the command line, `POST /las/edex`, and the `importEdex` mutation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.permissions import (
    may_import,
    may_import_unknown_school,
    may_set_coupling,
    may_upload_imports,
    stopped_by_suspended_coupling,
)
from auth.viewer import Viewer, ViewerKind
from datasources.access import las_clients
from datasources.access.accounts import school_id_by_code
from datasources.imports.report import ImportRefused, ImportReport
from datasources.imports.sync import sync_school
from datasources.lifecycle.guards import unfinished_at
from datasources.school_files.csv_archive import is_zip, read_csv_archive
from datasources.school_files.edexml import read_edexml
from datasources.school_files.model import ImportFileError, SchoolFile
from errors import Conflict, Forbidden, PublicError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import Scope
    from datasources.store.records import SchoolRecord
    from resolvers.context import Context
    from settings import Settings


class CouplingSuspended(PublicError):  # noqa: N818 - reads as the school's state
    """The school suspended its automatic LAS coupling: pushes are refused until it resumes (HTTP 423)."""

    code = "FORBIDDEN"


def refused_report(error: ImportFileError, *, dry_run: bool) -> ImportReport:
    """The report of a file that could not be read: nothing to say about a school but the error."""
    report = ImportReport(school_code="", school_year="", dry_run=dry_run)
    report.errors.append(str(error))
    return report


async def check_sender(
    engine: AsyncEngine, viewer: Viewer, scope: Scope | None, school_id: int, code: str
) -> None:
    """The operator imports for any school; a coordinator for the schools it coordinates; a LAS client
    for the schools it serves, while their automatic coupling is not suspended."""
    # Only a LAS client's served schools are loaded: another kind's subject id is no LAS client id.
    served = (
        await las_clients.las_school_ids(engine, viewer.subject_id)
        if viewer.kind is ViewerKind.LAS
        else frozenset[int]()
    )
    if not may_import(viewer, scope, school_id, las_school_ids=served):
        raise Forbidden(f"you may not import for school {code}")
    if stopped_by_suspended_coupling(viewer) and await las_clients.coupling_suspended(engine, school_id):
        raise CouplingSuspended(
            f"school {code} has suspended its automatic LAS coupling; its coordinator can resume it"
        )


async def import_school_file(
    engine: AsyncEngine,
    settings: Settings,
    read: Callable[[], SchoolFile],
    *,
    viewer: Viewer,
    scope: Scope | None,
    dry_run: bool,
    confirm: bool,
) -> ImportReport:
    """Read a file, check the sender, and sync the school. A refused file gives a report with errors
    (nothing changed); a sender who may not import for the school gets FORBIDDEN."""
    try:
        school_file = read()
    except ImportFileError as error:
        return refused_report(error, dry_run=dry_run)
    school_id = await school_id_by_code(engine, school_file.code)
    if school_id is not None:
        await check_sender(engine, viewer, scope, school_id, school_file.code)
    elif not may_import_unknown_school(viewer):
        raise Forbidden(f"you may not import for school {school_file.code}")
    try:
        return await sync_school(
            engine,
            school_file,
            today=settings.now().date(),
            dry_run=dry_run,
            confirm=confirm,
            removal_limit=settings.import_removal_limit,
            now=settings.now(),
        )
    except ImportRefused as refused:
        return refused.report


def report_json(report: ImportReport) -> dict[str, object]:
    """The report as JSON, with the field names of the GraphQL `ImportReport` (API.md)."""

    def counts(value: object) -> dict[str, int]:
        return {name: getattr(value, name) for name in ("added", "changed", "removed", "unchanged")}

    return {
        "schoolCode": report.school_code,
        "schoolYear": report.school_year,
        "dryRun": report.dry_run,
        "held": report.held,
        "groups": counts(report.groups),
        "students": counts(report.students),
        "staff": counts(report.staff),
        "warnings": list(report.warnings),
        "errors": list(report.errors),
    }


def report_table(report: ImportReport) -> str:
    """The report as a small text table for people at a terminal."""
    state = (
        "refused"
        if report.errors
        else "held for confirmation"
        if report.held
        else "dry run"
        if report.dry_run
        else "applied"
    )
    lines = [f"{report.school_code or '(unknown school)'} {report.school_year}: {state}", ""]
    lines.append(f"{'':10}{'added':>8}{'changed':>9}{'removed':>9}{'unchanged':>11}")
    for name in ("groups", "students", "staff"):
        c = getattr(report, name)
        lines.append(f"{name:10}{c.added:>8}{c.changed:>9}{c.removed:>9}{c.unchanged:>11}")
    lines += [f"warning: {warning}" for warning in report.warnings]
    lines += [f"error: {error}" for error in report.errors]
    return "\n".join(lines)


async def upload(ctx: Context, content: bytes, *, dry_run: bool, confirm: bool) -> ImportReport:
    """A coordinator's (or the operator's) hand upload through the graph: an EDEXML file, or a ZIP of the
    CSV template (schools without an EDEXML export); both take the same validation, sync and report."""
    if not may_upload_imports(ctx.viewer):
        raise Forbidden("only a school's coordinator or the operator uploads imports")
    cap = ctx.settings.max_import_bytes
    return await import_school_file(
        ctx.engine,
        ctx.settings,
        lambda: (
            read_csv_archive(content, max_bytes=cap)
            if is_zip(content)
            else read_edexml(content, max_bytes=cap)
        ),
        viewer=ctx.viewer,
        scope=ctx.scope,
        dry_run=dry_run,
        confirm=confirm,
    )


async def set_coupling(ctx: Context, school_code: str, suspended: bool) -> SchoolRecord:
    """A coordinator suspends or resumes the school's automatic LAS coupling."""
    school_id = await school_id_by_code(ctx.engine, school_code)
    if school_id is None or not may_set_coupling(ctx.viewer, ctx.scope, school_id):
        raise Forbidden(f"you do not coordinate school {school_code}")
    if not suspended and await unfinished_at(ctx.engine, school_code.strip().upper()):
        raise Conflict(
            f"school {school_code} is in a merger or split that the helpdesk has not finished; its LAS"
            " coupling resumes when it finishes (finishLifecycle)"
        )
    await las_clients.set_coupling_suspended(ctx.engine, school_id, suspended)
    school = await ctx.loaders.schools.get(school_id)
    if school is None:
        raise Forbidden(f"you do not coordinate school {school_code}")
    return school
