"""The disclosure audit: which school's records a partner read, recorded in the same database.

Loaders and root reads tally every record they hand to a partner by school; at the end of the request
the server writes one row per school (partner, categories, operation, number of records, time). The
audit has no write path in the graph, so a partner can neither add to it nor hide from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import ColumnElement, insert, select

from datasources.store.columns import Columns
from datasources.store.pagination import PageArgs, partitioned_page, split_pages
from datasources.store.records import DisclosureRecord, Page, SchoolRecord
from datasources.store.scoping import public_id
from datasources.store.tables import DISCLOSURES

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Mapping, Sequence

    from sqlalchemy import Insert
    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.categories import DataCategory
    from auth.policy import Scope
    from datasources.store.reader import AnyRow, Reader


def tally(reader: Reader, scope: Scope, records: Iterable[Any]) -> None:
    """Count the records handed to a partner by their school (other viewers are not audited here)."""
    if scope.partner_id is None:
        return
    reader.disclose(
        record.id if isinstance(record, SchoolRecord) else record.school_id
        for record in records
        if isinstance(record, SchoolRecord) or hasattr(record, "school_id")
    )


def tally_rows(reader: Reader, scope: Scope, rows: Iterable[Any], school_position: int) -> None:
    """Count rows handed to a partner by the school id at `school_position` of each: what `tally` counts
    for the records built from them."""
    if scope.partner_id is None:
        return
    reader.disclose(row[school_position] for row in rows)


def tally_school_pages(reader: Reader, scope: Scope, pages: Mapping[int, Page[Any]]) -> None:
    """Count the records of pages keyed by their school (every item of a page is that school's record):
    what `tally` counts for them, without reading a school id per record."""
    if scope.partner_id is None:
        return
    reader.disclose_counts({school: len(page.items) for school, page in pages.items() if page.items})


def disclosures_write(
    *,
    partner_id: int,
    operation_name: str | None,
    records_by_school: Mapping[int, int],
    categories_by_school: Mapping[int, Iterable[DataCategory]],
    at: dt.datetime,
) -> tuple[Insert, list[dict[str, Any]]] | None:
    """The audit rows of one partner request, one per school it read from (None: it read nothing): the
    statement and its rows, for the request's own reader to write as it closes (`Reader.close`). Sent as
    one INSERT of several rows (all or none, also on an autocommitted connection): SQLAlchemy's
    "insertmanyvalues", which the RETURNING asks for, batches the rows into one statement compiled once,
    where `insert().values(rows)` was compiled again for every request (~5% of a small one's CPU)."""
    if not records_by_school:
        return None
    rows = [
        {
            "partner_id": partner_id,
            "school_id": school_id,
            "categories": sorted(category.name for category in categories_by_school.get(school_id, ())),
            "operation_name": (operation_name or None) and operation_name[:200],
            "records": count,
            "at": at,
        }
        for school_id, count in sorted(records_by_school.items())
    ]
    return _AUDIT, rows


#: The audit's statement: with RETURNING, executed with many rows, it is one multi-row INSERT.
_AUDIT: Final = insert(DISCLOSURES).returning(DISCLOSURES.c.id)


async def record_disclosures(
    engine: AsyncEngine,
    *,
    partner_id: int,
    operation_name: str | None,
    records_by_school: Mapping[int, int],
    categories_by_school: Mapping[int, Iterable[DataCategory]],
    at: dt.datetime,
) -> None:
    """Write one audit row per school that a partner request read from, in a transaction of its own
    (for a read that has no request reader; a request's reader writes `disclosures_write` as it closes)."""
    write = disclosures_write(
        partner_id=partner_id,
        operation_name=operation_name,
        records_by_school=records_by_school,
        categories_by_school=categories_by_school,
        at=at,
    )
    if write is None:
        return
    async with engine.begin() as connection:
        await connection.execute(*write)


DISCLOSURE = Columns.of(DisclosureRecord, computed=["public_id"])


def disclosure_columns() -> tuple[ColumnElement[Any], ...]:
    """The columns of a disclosure record."""
    d = DISCLOSURES.c
    return DISCLOSURE.labelled(
        id=d.id,
        school_id=d.school_id,
        partner_id=d.partner_id,
        categories=d.categories,
        operation_name=d.operation_name,
        records=d.records,
        at=d.at,
    )


def disclosure_record(scope: Scope, row: AnyRow) -> DisclosureRecord:
    """A disclosure record from a row that starts with `disclosure_columns`."""
    return DisclosureRecord(
        id=row[DISCLOSURE.id],
        public_id=public_id(scope, "Disclosure", row[DISCLOSURE.id]),
        school_id=row[DISCLOSURE.school_id],
        partner_id=row[DISCLOSURE.partner_id],
        categories=tuple(row[DISCLOSURE.categories]),
        operation_name=row[DISCLOSURE.operation_name],
        records=row[DISCLOSURE.records],
        at=row[DISCLOSURE.at],
    )


async def disclosures_by_school(
    reader: Reader, scope: Scope, school_ids: Sequence[int], args: PageArgs
) -> dict[int, Page[DisclosureRecord]]:
    """One page of each managed school's disclosure audit, oldest first (other schools get empty pages)."""
    managed = [school for school in school_ids if scope.manages(school)]
    if not managed:
        return {}
    d = DISCLOSURES.c
    statement = select(*disclosure_columns()).where(d.school_id.in_(managed))
    rows = await reader.rows(partitioned_page(statement, d.school_id, d.id, args))
    return split_pages(
        ((row[DISCLOSURE.school_id], row[DISCLOSURE.id], disclosure_record(scope, row)) for row in rows),
        managed,
        args,
    )
