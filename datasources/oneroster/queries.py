"""The query parameters of OneRoster 1.2's REST binding: filter, sort, orderBy, fields, limit and offset.

The filter grammar is the binding's ("Filtering"): a predicate is `field` `op` `'value'`, with `op` one
of `=`, `!=`, `>`, `>=`, `<`, `<=` and `~` (contains), and predicates join with ` AND ` or ` OR ` (one kind
of join per filter, as the binding asks). A field may be a property (`givenName`) or the `sourcedId` of a
reference (`school.sourcedId`). Anything else is refused with the binding's 400 and code minor
(`invalid_filter_field`, `invalid_selection_field`, `invaliddata`), never ignored, so a client never takes
an unfiltered answer for a filtered one.

Paging is by `offset`, as the binding prescribes, over a total order (the sort field, then the row's key),
so consecutive pages neither repeat nor skip a row while the data stands still. OFFSET costs in proportion
to the rows it skips, which is why the hub pages by keyset everywhere else: here `limit` is capped at the
hub's page cap (larger values are served as the cap, and `X-Total-Count` with the `Link` header tells the
client how far to go), and a partner that wants everything takes the CSV bulk export instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from errors import BadUserInput

Operator = Literal["=", "!=", ">", ">=", "<", "<=", "~"]
#: A filter is a chain of predicates joined all by AND or all by OR; a longer chain is refused.
MAX_PREDICATES: Final = 4
DEFAULT_LIMIT: Final = 100

_PREDICATE = re.compile(
    r"\s*(?P<field>[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)?)\s*"
    r"(?P<op>!=|>=|<=|=|>|<|~)\s*'(?P<value>[^']*)'\s*"
)
_JOIN = re.compile(r"(AND|OR)(?=\s)")


class BadQuery(BadUserInput):
    """A query parameter the binding does not allow: answered 400 with this code minor."""

    def __init__(self, code_minor: str, message: str) -> None:
        super().__init__(message)
        self.code_minor = code_minor


@dataclass(frozen=True, slots=True)
class Predicate:
    """One comparison of a filter: `field op 'value'`."""

    field: str
    op: Operator
    value: str


@dataclass(frozen=True, slots=True)
class Filter:
    """A parsed filter: its predicates and how they join."""

    predicates: tuple[Predicate, ...]
    join: Literal["AND", "OR"] = "AND"


@dataclass(frozen=True, slots=True)
class Query:
    """The validated parameters of one collection request."""

    filter: Filter | None = None
    sort: str | None = None
    descending: bool = False
    fields: tuple[str, ...] | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def parse_filter(text: str) -> Filter:
    """The filter of `text`; `BadQuery` (invalid_filter_field) when it does not follow the grammar."""
    predicates: list[Predicate] = []
    joins: set[str] = set()
    position = 0
    while True:
        match = _PREDICATE.match(text, position)
        if match is None:
            raise BadQuery("invalid_filter_field", "the filter does not follow field<op>'value' [AND|OR …]")
        predicates.append(Predicate(match["field"], match["op"], match["value"]))  # type: ignore[arg-type]
        position = match.end()
        if position == len(text):
            break
        join = _JOIN.match(text, position)
        if join is None:
            raise BadQuery("invalid_filter_field", "predicates of a filter are joined by ' AND ' or ' OR '")
        joins.add(join[1])
        position = join.end()
    if len(joins) > 1:
        raise BadQuery("invalid_filter_field", "a filter joins its predicates all with AND or all with OR")
    if len(predicates) > MAX_PREDICATES:
        raise BadQuery("invalid_filter_field", f"a filter has at most {MAX_PREDICATES} predicates")
    return Filter(tuple(predicates), "OR" if joins == {"OR"} else "AND")


def _integer(name: str, text: str | None, default: int, minimum: int) -> int:
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < minimum:
        raise BadQuery("invaliddata", f"`{name}` must be a whole number of at least {minimum}")
    return int(text)


def parse_query(
    parameters: dict[str, str],
    *,
    selectable: tuple[str, ...],
    sortable: frozenset[str],
    filterable: frozenset[str],
    page_cap: int,
) -> Query:
    """Validate a request's query parameters against what its object offers (`selectable` fields for
    `fields`, `sortable` ones for `sort`, `filterable` ones for `filter`)."""
    raw_filter = parameters.get("filter")
    parsed = None if raw_filter is None or not raw_filter.strip() else parse_filter(raw_filter)
    for predicate in parsed.predicates if parsed else ():
        if predicate.field not in filterable:
            raise BadQuery("invalid_filter_field", f"cannot filter on {predicate.field!r}")
    sort = parameters.get("sort") or None
    if sort is not None and sort not in sortable:
        raise BadQuery("invaliddata", f"cannot sort on {sort!r}; sortable: {', '.join(sorted(sortable))}")
    order = parameters.get("orderBy", "asc")
    if order not in {"asc", "desc"}:
        raise BadQuery("invaliddata", "`orderBy` is asc or desc")
    fields = None
    if (raw_fields := parameters.get("fields")) is not None:
        fields = tuple(name.strip() for name in raw_fields.split(",") if name.strip())
        unknown = [name for name in fields if name not in selectable]
        if unknown or not fields:
            raise BadQuery("invalid_selection_field", f"unknown field(s) in `fields`: {', '.join(unknown)}")
    limit = _integer("limit", parameters.get("limit"), DEFAULT_LIMIT, 1)
    return Query(
        filter=parsed,
        sort=sort,
        descending=order == "desc",
        fields=fields,
        limit=min(limit, page_cap),
        offset=_integer("offset", parameters.get("offset"), 0, 0),
    )
