"""`among(column, ids)`: membership in a list of ids, sent as one bind parameter.

`column.in_(ids)` renders one placeholder per id, expanded on every execution: a partner that 80 schools
consented to puts 80 placeholders (each with its cast on PostgreSQL) into every statement that its scope
filters, and each different list is another SQL text for the driver to prepare. `among` sends the list as
one value instead: `= ANY($1::INTEGER[])` on PostgreSQL, `IN (SELECT value FROM json_each(?))` on SQLite
(the list as a JSON array). The SQL text no longer depends on the ids, so SQLAlchemy's compiled cache and
the driver's prepared statements are reused across scopes and pages; the ids stay bound values, never
rendered into the text.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, ColumnElement, Integer, String, TypeDecorator, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.sql.compiler import SQLCompiler


class _IdList(TypeDecorator[list[int]]):
    """A list of ids as one bind value: an integer array on PostgreSQL, a JSON array elsewhere."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(Integer))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: list[int] | None, dialect: Any) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return json.dumps(value)


_ID_LIST = _IdList()


class Among(ColumnElement[bool]):
    """`column` is one of a list of ids (see the module's docstring); build it with `among`."""

    type = Boolean()
    inherit_cache = True
    # A condition in its own right, as `IN` is: without this SQLite would be sent `(… IN …) = 1`.
    _is_implicitly_boolean = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's visitor protocol names it so
        ("column", InternalTraversal.dp_clauseelement),
        ("ids", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], ids: list[int] | None, name: str | None = None) -> None:
        self.column = column
        # Anonymous with its value (`among`), or named and bound when the statement runs (`among_bound`).
        self.ids = bindparam(None, ids, type_=_ID_LIST) if name is None else bindparam(name, type_=_ID_LIST)

    @property
    def _from_objects(self) -> list[Any]:
        # The column's table, so that a statement filtered by `among` alone still selects FROM it.
        return self.column._from_objects


def among(column: ColumnElement[Any], ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN ids` as one bind parameter (sorted, so equal sets bind equal values)."""
    return Among(column, sorted(ids))


def among_bound(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """`column IN :name`, the ids given when the statement runs (`{name: sorted(ids)}`): for a statement
    built once and kept (`datasources.store.statements.remembered`) whatever ids it is asked for."""
    return Among(column, None, name)


@compiles(Among, "postgresql")
def _on_postgresql(element: Among, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.ids, **kw)})"


@compiles(Among)
def _elsewhere(element: Among, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    # Both parts are compiled SQL (a column, a placeholder), never a value.
    return f"{column} IN (SELECT value FROM json_each({ids}))"  # noqa: S608
