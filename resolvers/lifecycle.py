"""School lifecycle through the graph and the command line: mergers, splits, closures, board transfers
and their end (operator only; datasources.lifecycle does the work in one transaction each). Who may is
asked here, before anything is read or written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auth.permissions import may_change_school_lifecycle
from auth.viewer import Viewer, ViewerKind
from datasources.lifecycle.closure import close_school, purge_closed_schools
from datasources.lifecycle.merger import merge_schools
from datasources.lifecycle.split import split_school
from datasources.lifecycle.transfer import finish_lifecycle, transfer_school
from datasources.store.scoping import internal_id
from errors import BadUserInput, Forbidden, PublicError
from resolvers.admin import OPERATOR_ID, CommandError, command_engine

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.lifecycle.report import LifecycleReport
    from resolvers.context import Context
    from settings import Settings

_REFUSED = "only the hub's operator may merge, split, close or transfer schools"


def _operator_only(viewer: Viewer) -> None:
    if not may_change_school_lifecycle(viewer):
        raise Forbidden(_REFUSED)


def _ids(ctx: Context, entity_type: str, shown: Sequence[str], argument: str) -> list[int]:
    ids = []
    for value in shown:
        found = internal_id(ctx.scope, entity_type, value)
        if found is None:
            raise BadUserInput(f"`{argument}` holds a value that is not a {entity_type} id this API returned")
        ids.append(found)
    return ids


async def merge(
    ctx: Context, source_codes: Sequence[str], target_code: str, *, dry_run: bool
) -> LifecycleReport:
    """Merge schools into one location (operator)."""
    _operator_only(ctx.viewer)
    return await merge_schools(
        ctx.engine,
        source_codes=source_codes,
        target_code=target_code,
        dry_run=dry_run,
        performed_by=ctx.viewer.subject,
        require_dpa=ctx.settings.dpa_required,
        now=ctx.now,
    )


async def split(
    ctx: Context,
    source_code: str,
    target_code: str,
    group_ids: Sequence[str],
    copy_consents_of: Sequence[str],
    *,
    dry_run: bool,
) -> LifecycleReport:
    """Move chosen groups of a school, with their people, to another location (operator). The ids are
    the inner values of global ids the operator was shown."""
    _operator_only(ctx.viewer)
    return await split_school(
        ctx.engine,
        source_code=source_code,
        target_code=target_code,
        group_ids=_ids(ctx, "Group", group_ids, "groupIds"),
        copy_partner_ids=_ids(ctx, "Partner", copy_consents_of, "copyConsentsOf"),
        dry_run=dry_run,
        performed_by=ctx.viewer.subject,
        require_dpa=ctx.settings.dpa_required,
        now=ctx.now,
    )


async def close(ctx: Context, code: str, *, dry_run: bool) -> LifecycleReport:
    """Close a location for good (operator)."""
    _operator_only(ctx.viewer)
    return await close_school(
        ctx.engine,
        code=code,
        dry_run=dry_run,
        performed_by=ctx.viewer.subject,
        require_dpa=ctx.settings.dpa_required,
        now=ctx.now,
    )


async def transfer(ctx: Context, code: str, board_number: str, *, dry_run: bool) -> LifecycleReport:
    """Move a location to another board (operator)."""
    _operator_only(ctx.viewer)
    return await transfer_school(
        ctx.engine,
        code=code,
        board_number=board_number,
        dry_run=dry_run,
        performed_by=ctx.viewer.subject,
        require_dpa=ctx.settings.dpa_required,
        now=ctx.now,
    )


async def finish(ctx: Context, code: str) -> LifecycleReport:
    """End a merger or split at a location: its automatic LAS coupling resumes (operator)."""
    _operator_only(ctx.viewer)
    return await finish_lifecycle(ctx.engine, code=code, performed_by=ctx.viewer.subject, now=ctx.now)


async def purge_due(engine: AsyncEngine, settings: Settings, now: dt.datetime) -> list[LifecycleReport]:
    """Delete the personal data of locations closed longer than the retention period ago (the server's
    maintenance loop and `school purge-closed`)."""
    return await purge_closed_schools(engine, now=now, retention_days=settings.closed_retention_days)


# --- the command line (`python server.py school …`) --------------------------------------------------

_OPERATOR = Viewer(ViewerKind.OPERATOR, OPERATOR_ID)


def report_json(report: LifecycleReport) -> dict[str, Any]:
    """The report as the command line prints it (and as scripts read it)."""
    return {
        "operation": report.operation,
        "dry_run": report.dry_run,
        "school_codes": list(report.school_codes),
        "target_code": report.target_code,
        "counts": dict(sorted(report.counts.items())),
        "consents": [
            {
                "partner_id": consent.partner_id,
                "partner_name": consent.partner_name,
                "school_code": consent.school_code,
                "outcome": consent.outcome,
                "categories": list(consent.categories),
            }
            for consent in report.consents
        ],
    }


def _numbers(values: Sequence[str], what: str) -> list[int]:
    """Ids on the command line: the operator's plain numbers (as the graph shows the operator)."""
    numbers = []
    for value in values:
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise CommandError(f"{what} {value!r} is not an id (a number, as the graph shows the operator)")
        numbers.append(int(text))
    return numbers


async def command(settings: Settings, action: str, **arguments: Any) -> dict[str, Any]:
    """Run one `school` command as the operator; refused input raises CommandError (exit code 2)."""
    by, now = _OPERATOR.subject, settings.now()
    dry_run = bool(arguments.get("dry_run"))
    async with command_engine(settings) as engine:
        try:
            if action == "merge":
                report = await merge_schools(
                    engine,
                    source_codes=arguments["sources"],
                    target_code=arguments["into"],
                    dry_run=dry_run,
                    require_dpa=settings.dpa_required,
                    performed_by=by,
                    now=now,
                )
            elif action == "split":
                report = await split_school(
                    engine,
                    source_code=arguments["source"],
                    target_code=arguments["into"],
                    group_ids=_numbers(arguments["groups"], "group"),
                    copy_partner_ids=_numbers(arguments["copy_consents_of"], "partner"),
                    dry_run=dry_run,
                    require_dpa=settings.dpa_required,
                    performed_by=by,
                    now=now,
                )
            elif action == "close":
                report = await close_school(
                    engine,
                    code=arguments["code"],
                    dry_run=dry_run,
                    require_dpa=settings.dpa_required,
                    performed_by=by,
                    now=now,
                )
            elif action == "transfer":
                report = await transfer_school(
                    engine,
                    code=arguments["code"],
                    board_number=arguments["board"],
                    dry_run=dry_run,
                    require_dpa=settings.dpa_required,
                    performed_by=by,
                    now=now,
                )
            elif action == "finish":
                report = await finish_lifecycle(engine, code=arguments["code"], performed_by=by, now=now)
            else:
                reports = await purge_due(engine, settings, settings.now())
                return {"purged": [report_json(report) for report in reports]}
        except PublicError as error:
            raise CommandError(error.message) from None
    return report_json(report)
