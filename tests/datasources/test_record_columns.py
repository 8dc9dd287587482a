"""Every record the graph's loaders build is filled, field by field, from the column labelled for it.

Each loader runs its real statement against a reader that answers with one row whose every column holds
a value of its own, chosen by the column's label. A record field must then hold exactly the value of the
column labelled with its name: a field without a column, a builder reading the wrong label, or a column
that moved in the select list fails here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from auth.categories import DataCategory
from auth.policy import PartnerFacts, SchoolConsent, Scope, operator_scope, partner_scope
from auth.viewer import Viewer, ViewerKind
from datasources.graph.loaders import LOADER_NAMES, KeyLoader, Loaders, PageLoader
from datasources.store.pagination import PageArgs
from datasources.store.reader import Reader
from datasources.store.records import GroupRecord, MemberGroups, StudentRecord

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Select

TODAY = dt.date(2026, 11, 29)
#: Record fields computed in Python rather than read from a column of the same name.
COMPUTED = frozenset({"public_id", "pseudonym", "main_group"})
#: Columns that hold a list (JSON) in the database.
LISTS = frozenset({"categories", "declared_categories", "roles", "las_roles"})
#: The label of the key each loader is asked by (its parent, for a page loader).
KEY_LABEL = {
    "schools": "id",
    "schools_by_code": "code",
    "boards": "id",
    "groups": "id",
    "students": "id",
    "student_rows": "id",
    "student_rows_without_main_group": "id",
    "staff": "id",
    "students_by_person": "person_id",
    "staff_by_person": "person_id",
    "partners": "id",
    "products": "id",
    "licenses": "id",
    "groups_by_student": "member_id",
    "groups_by_staff": "member_id",
    "group_ids_by_license": "license_id",
    "license_ids_by_group": "group_id",
    "year_levels_by_license": "license_id",
    "product_ids_by_student": "member_id",
    "product_ids_by_staff": "member_id",
    "schools_by_board": "board_id",
    "groups_by_school": "school_id",
    "students_by_school": "school_id",
    "student_rows_by_school": "school_id",
    "staff_by_school": "school_id",
    "students_by_group": "group_id",
    "staff_by_group": "group_id",
    "licenses_by_school": "school_id",
    "consents_by_school": "school_id",
    "consent_requests_by_school": "school_id",
    "disclosures_by_school": "school_id",
}
#: Loaders whose values are facts derived from counts and flags (bool, int, the latest of two years),
#: not records whose fields are columns: tests/schema/test_readiness.py checks them against real rows.
DERIVED = frozenset({"readiness_by_school", "seats_used_by_license", "instelling_refs"})


class _Labels:
    """A distinct value for every column label (the same label gets the same value in every statement)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def __call__(self, label: str) -> Any:
        if label not in self._values:
            number = 1000 + len(self._values)
            if label in LISTS:
                self._values[label] = (f"{label}-{number}",)
            elif label == "id" or label.endswith("_id"):
                self._values[label] = number
            else:
                self._values[label] = f"{label}-{number}"
        return self._values[label]


class _Row(tuple[Any, ...]):
    """A result row: its values by position, and by label as attributes (as SQLAlchemy's rows)."""

    labels: tuple[str, ...] = ()

    def __getattr__(self, label: str) -> Any:
        if label not in self.labels:
            raise AttributeError(label)
        return self[self.labels.index(label)]


class _OneRowReader(Reader):
    """Answers every statement with one row of the values its column labels stand for."""

    def __init__(self, value: _Labels) -> None:
        super().__init__(engine=None)  # type: ignore[arg-type]  # never connects
        self._value = value

    async def rows(self, statement: Any, parameters: Any = None) -> Sequence[Any]:
        select: Select[Any] = statement
        labels = tuple(select.selected_columns.keys())
        row = _Row(self._value(label) for label in labels)
        row.labels = labels
        return [row]


def _partner_scope() -> Scope:
    # Granted some categories and not others: withheld columns are NULL literals, which must keep
    # their labels as well as the granted ones.
    granted = frozenset({DataCategory.STUDENT_BASIC, DataCategory.STAFF_BASIC, DataCategory.GROUP_BASIC})
    facts = PartnerFacts(7, granted, True, (SchoolConsent(1001, granted, True, True),))
    viewer = Viewer(ViewerKind.PARTNER, "client")
    return partner_scope(viewer, facts, require_dpa=True, pseudonym_key=b"k" * 32)


def _assert_filled(record: Any, value: _Labels, prefix: str = "") -> None:
    for field in dataclasses.fields(record):
        if field.name in COMPUTED:
            continue
        assert getattr(record, field.name) == value(f"{prefix}{field.name}"), (
            f"{type(record).__name__}.{field.name} is not the column labelled {prefix}{field.name}"
        )
    if isinstance(record, StudentRecord):
        assert isinstance(record.main_group, GroupRecord)
        _assert_filled(record.main_group, value, prefix="main_group_")


def _records(found: Any) -> list[Any]:
    if isinstance(found, MemberGroups):
        return list(found.groups)
    if hasattr(found, "items"):  # a page
        # A page of rows (the compiled read path's) holds no records: tests/schema/test_compiled.py checks
        # what is built from them against the records of the same statement.
        return [item for _, item in found.items if dataclasses.is_dataclass(item)]
    if not dataclasses.is_dataclass(found):
        # A row (the compiled feed's students): tests/schema/test_compiled_feed.py checks what is built
        # from it against the records of the same statement.
        return []
    return [] if isinstance(found, list) else [found]


ALL_RECORDS = frozenset({
    "BoardRecord", "SchoolRecord", "GroupRecord", "StudentRecord", "StaffRecord", "PartnerRecord",
    "ProductRecord", "LicenseRecord", "ConsentRecord", "ConsentRequestRecord", "DisclosureRecord",
})  # fmt: skip


@pytest.mark.parametrize(
    ("scope_of", "expected"),
    [
        pytest.param(lambda: operator_scope(Viewer(ViewerKind.OPERATOR, "x")), ALL_RECORDS, id="operator"),
        # A partner manages no school: it reads no consent requests and no disclosure audit.
        pytest.param(
            _partner_scope, ALL_RECORDS - {"ConsentRequestRecord", "DisclosureRecord"}, id="partner"
        ),
    ],
)
async def test_every_loader_fills_each_record_field_from_the_column_labelled_for_it(
    scope_of: Any, expected: frozenset[str]
) -> None:
    value = _Labels()
    loaders = Loaders.build(_OneRowReader(value), scope_of(), TODAY)
    checked = []
    for name in LOADER_NAMES:
        if name in DERIVED:
            continue
        loader = getattr(loaders, name)
        key = value(KEY_LABEL[name])
        if isinstance(loader, PageLoader):
            found: Any = await loader.page(key, PageArgs(first=10, after=None))
        else:
            assert isinstance(loader, KeyLoader)
            found = await loader.get(key)
        assert found is not None, f"{name} found nothing under its key"
        for record in _records(found):
            _assert_filled(record, value)
            checked.append(type(record).__name__)
    assert set(checked) == expected
