"""Column sets: the labelled columns a query selects for one record, read back from its rows by label.

A query builds its select list through a column set (`labelled(...)`), so every column carries the label
of the record field it fills, in the order the set declares. The set knows where each label sits in a row
(`row[STUDENT.first_name]`): code reads rows by name, while a read costs what an index costs. SQLAlchemy's
`row.first_name` would do the same by a lookup per field per row, several times the price on the graph's
hottest paths (a page of a thousand students is seventeen thousand reads).

A set derived from a record (`Columns.of`) lists the record's fields that come from the database; adding
a field to the record then fails every query of that record until it selects a column for the field.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy import ColumnElement

#: Names a label may not take, because the set itself answers to them.
_RESERVED: Final = frozenset({"labels", "sql_labels", "end", "labelled", "after", "of"})


class Columns:
    """The labels of one record's columns in select order, each an attribute holding its position.

    `start` places the set after the columns of another (a student's main group follows the student's
    own columns); `prefix` is put before every label in SQL, so two sets can share a statement.
    """

    labels: tuple[str, ...]
    #: The labels as the statement carries them (with the prefix).
    sql_labels: tuple[str, ...]
    #: The position just past the set's last column.
    end: int

    def __init__(self, labels: Iterable[str], *, start: int = 0, prefix: str = "") -> None:
        self.labels = tuple(labels)
        self.sql_labels = tuple(f"{prefix}{label}" for label in self.labels)
        self.end = start + len(self.labels)
        for position, label in enumerate(self.labels, start):
            if label in _RESERVED or label.startswith("_") or label in self.__dict__:
                raise ValueError(f"{label!r} cannot label a column of a set")
            setattr(self, label, position)

    @classmethod
    def of(cls, record: type[Any], *, computed: Iterable[str] = (), extra: Iterable[str] = ()) -> Columns:
        """The columns of a record: its fields except those `computed` in Python (a public id, a
        pseudonym, a nested record), then `extra` columns the record is derived from (a person id)."""
        skipped = set(computed)
        fields = [field.name for field in dataclasses.fields(record) if field.name not in skipped]
        return cls([*fields, *extra])

    def after(self, first: Columns, *, prefix: str = "") -> Columns:
        """The same set placed after `first` in one statement (its SQL labels prefixed, if need be)."""
        return Columns(self.labels, start=first.end, prefix=prefix)

    def labelled(self, **columns: ColumnElement[Any]) -> tuple[ColumnElement[Any], ...]:
        """The select list: one expression per label, labelled and in the set's order. A missing or an
        unknown label is refused, so the rows always hold what the positions say."""
        if set(columns) != set(self.labels):
            missing = sorted(set(self.labels) - set(columns))
            unknown = sorted(set(columns) - set(self.labels))
            raise ValueError(f"columns do not match the set: missing {missing}, unknown {unknown}")
        return tuple(
            columns[label].label(sql_label)
            for label, sql_label in zip(self.labels, self.sql_labels, strict=True)
        )

    def __getattr__(self, label: str) -> int:
        # Only reached for a label the set lacks (the positions are instance attributes); declared so
        # that type checkers accept `row[SET.label]`.
        raise AttributeError(f"no column labelled {label!r} in {self.labels}")
