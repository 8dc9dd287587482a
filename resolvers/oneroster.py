"""OneRoster 1.2 for a partner: the REST rostering collections and objects, and a school's CSV bulk export.

Each runs inside a request of the pipeline (`resolvers.requests.open_request`): the partner's scope comes
from the one policy, as for the graph, and the close records in the disclosure audit what was handed out
(every school, class, user and enrollment, counted by its school). Only partners read OneRoster
(`auth.permissions.may_read_rosters`): its sourcedIds are a partner's own sealed ids.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auth.permissions import may_read_rosters
from auth.viewer import Viewer, ViewerKind
from datasources.access.accounts import partner_client_id
from datasources.graph.schools import schools_by_code
from datasources.oneroster.bulk import bulk_files, bulk_zip, school_roster
from datasources.oneroster.objects import json_object, selected
from datasources.oneroster.queries import BadQuery, Query, parse_query
from datasources.oneroster.records import COLLECTIONS
from datasources.oneroster.rosters import iso_now, read_one, read_page
from datasources.oneroster.vocabulary import REST_FIELDS
from errors import Forbidden, PublicError, Unauthenticated
from resolvers.admin import CommandError, command_engine
from resolvers.requests import Services, open_request
from resolvers.signing import Keys

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from resolvers.context import Context
    from settings import Settings

#: The operation name the disclosure audit records for a bulk export.
EXPORT_OPERATION = "OneRoster bulk export"


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a REST collection: the JSON objects under their collection's name, and paging facts."""

    key: str
    objects: list[dict[str, Any]]
    total: int
    query: Query


@dataclass(frozen=True, slots=True)
class BulkExport:
    """A school's bulk export: the ZIP and what it holds."""

    content: bytes
    #: Data rows per file (files without rows are absent from the ZIP).
    rows: dict[str, int]


def _check(ctx: Context) -> None:
    if not may_read_rosters(ctx.viewer):
        raise Forbidden("OneRoster is read with a partner's token")


def _disclose(ctx: Context, school_ids: Iterable[int | None]) -> None:
    if ctx.scope.partner_id is not None:
        ctx.reader.disclose(school for school in school_ids if school is not None)


def _fields(roster_singular: str, parameters: Mapping[str, str]) -> tuple[str, ...] | None:
    """`fields` of a single object's request (the only parameter it takes)."""
    query = parse_query(
        {"fields": parameters["fields"]} if "fields" in parameters else {},
        selectable=REST_FIELDS[roster_singular],
        sortable=frozenset(),
        filterable=frozenset(),
        page_cap=1,
    )
    return query.fields


async def collection(ctx: Context, name: str, parameters: Mapping[str, str], base: str) -> Listing:
    """A page of a collection (`orgs`, `schools`, `classes`, `users`, `students`, `teachers`,
    `enrollments`) under the request's `filter`, `sort`, `orderBy`, `fields`, `limit` and `offset`."""
    _check(ctx)
    roster = COLLECTIONS[name]
    query = parse_query(
        dict(parameters),
        selectable=REST_FIELDS[roster.singular],
        sortable=roster.sortable,
        filterable=roster.filterable,
        page_cap=ctx.settings.max_page_size,
    )
    page = await read_page(ctx.reader, ctx.scope, roster, query, ctx.now)
    _disclose(ctx, (item.school_id for item in page.items))
    modified = iso_now(ctx.now)
    objects = selected((json_object(item, base, modified) for item in page.items), query.fields)
    return Listing(roster.plural, objects, page.total, query)


async def single(
    ctx: Context, name: str, sourced_id: str, parameters: Mapping[str, str], base: str
) -> tuple[str, dict[str, Any]] | None:
    """One object of a collection by its sourcedId, under its singular name (`user`); None when the
    partner's scope does not show it there (another partner's id, a school without consent, a teacher's id
    among students)."""
    _check(ctx)
    roster = COLLECTIONS[name]
    fields = _fields(roster.singular, parameters)
    found = await read_one(ctx.reader, ctx.scope, roster, sourced_id, ctx.now)
    if found is None:
        return None
    _disclose(ctx, [found.school_id])
    [shown] = selected([json_object(found, base, iso_now(ctx.now))], fields)
    return roster.singular, shown


async def bulk_export(ctx: Context, code: str) -> BulkExport | None:
    """The CSV bulk export of the school with this code, as the partner may read it; None when the partner
    sees no such school (no consent, no signed DPA, or no school by that code: one answer for all)."""
    _check(ctx)
    normalised = code.strip().upper()
    if len(normalised) != 6 or not normalised.isalnum():
        raise BadQuery("invaliddata", "a school code is a BRIN and a location code, such as 16AH00")
    school = (await schools_by_code(ctx.reader, ctx.scope, [normalised])).get(normalised)
    if school is None:
        return None
    roster = await school_roster(ctx.reader, ctx.scope, school.id, ctx.now)
    _disclose(ctx, [school.id] * roster.records)
    files = bulk_files(roster)
    return BulkExport(bulk_zip(files), {name: len(rows) for name, rows in files.items()})


async def write_export(
    settings: Settings, code: str, number: str, partner: str, output: str | None
) -> dict[str, Any]:
    """`python server.py export oneroster CODE --partner ID [--output FILE]`: write the bulk export the
    partner (`number`, the row id inside the id the operator typed as `partner`) would download, under
    the partner's own scope and recorded in the audit as a disclosure to it. Nothing is written when the
    export is refused. Returns the file's name and its data rows per CSV file."""
    partner_id = int(number) if number.isascii() and number.isdigit() and len(number) < 10 else None
    export = await export_for_partner(settings, code, partner_id, partner)
    path = Path(output or f"{code.strip().upper()}-oneroster.zip")
    try:
        await asyncio.to_thread(path.write_bytes, export.content)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror}") from None
    return {"file": str(path), "rows": export.rows}


async def export_for_partner(
    settings: Settings, code: str, partner_id: int | None, partner: str
) -> BulkExport:
    """The bulk export of a school as the partner `partner_id` would download it (`CommandError` when
    there is no such partner, or it sees no such school)."""
    async with command_engine(settings) as engine:
        client_id = None if partner_id is None else await partner_client_id(engine, partner_id)
        if client_id is None:
            raise CommandError(f"no partner {partner}")
        viewer = Viewer(ViewerKind.PARTNER, client_id)
        try:
            async with open_request(
                Services(settings, engine, Keys(engine, settings)), viewer, operation_name=EXPORT_OPERATION
            ) as ctx:
                export = await bulk_export(ctx, code)
        except PublicError as error:
            if isinstance(error, Unauthenticated):
                raise CommandError(f"no partner {partner}") from None
            raise CommandError(error.message) from None
    if export is None:
        raise CommandError(f"partner {partner} sees no school with code {code} (no consent in force there)")
    return export
