"""Every GraphQL type backed by a store record exposes only what its record holds.

A field added to a type must come from its record (a field of the same name that `from_record` reads), or
be named below as derived from other record fields; a type's field that its record lacks fails here, at
test time, instead of as an AttributeError (or a silently null field) in a partner's request.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
from typing import Any

import pytest
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.private import is_private

from datasources.store import records
from datasources.store.records import (
    BoardRecord,
    ConsentRecord,
    ConsentRequestRecord,
    DisclosureRecord,
    GroupRecord,
    LicenseRecord,
    PartnerRecord,
    ProductRecord,
    SchoolRecord,
    StaffRecord,
    StudentRecord,
)
from schema.assembly import build_schema

AT = dt.datetime(2026, 11, 29, 9, tzinfo=dt.UTC)
GROUP = GroupRecord(3, "g-3", 2, "Groep 5a", "5", "2026-2027", False, dt.date(2026, 8, 1))
#: One plausible record of each kind (values a type's conversions accept: enum names, role codes).
SAMPLES: dict[type[Any], Any] = {
    BoardRecord: BoardRecord(1, "b-1", "41234", "Stichting Noord", AT, "A. Director", "12345678", "2026-1"),
    SchoolRecord: SchoolRecord(2, "s-2", "16AH00", "16AH", "00", "De Wadden", 1, True, None),
    GroupRecord: GROUP,
    StudentRecord: StudentRecord(
        4, "st-4", 2, "p-4", "eck-4", "Sem", "van", "Dijk", "S.", dt.date(2017, 3, 1), "5", GROUP
    ),
    StaffRecord: StaffRecord(
        5,
        "sf-5",
        2,
        "p-5",
        "eck-5",
        "Anna",
        None,
        "Bos",
        "a.bos@school.example",
        ("TEACHER",),
        ("LRK",),
        True,
    ),
    PartnerRecord: PartnerRecord(6, "pa-6", "Uitgeverij X", "PUBLISHER", ("STUDENT_BASIC",), True),
    ProductRecord: ProductRecord(7, "pr-7", 6, "Taalreis", True, "https://taalreis.example/start"),
    LicenseRecord: LicenseRecord(8, "l-8", 2, 7, 30, dt.date(2026, 8, 1), None),
    ConsentRecord: ConsentRecord(
        9, "c-9", 2, 6, ("STUDENT_BASIC",), "coordinator:1", AT, None, None, "2026-1", "16AH00"
    ),
    ConsentRequestRecord: ConsentRequestRecord(
        10, "r-10", 2, 6, ("STUDENT_BASIC",), "lessons", AT, "PENDING"
    ),
    DisclosureRecord: DisclosureRecord(11, "d-11", 2, 6, ("STUDENT_BASIC",), "Roster", 12, AT),
}
#: Fields of a type that are built from record fields of other names (the global id from `public_id`).
DERIVED: dict[tuple[str, str], frozenset[str]] = {
    ("Board", "data_processing_agreement"): frozenset(
        {"dpa_signed_at", "dpa_signed_by", "dpa_chamber_of_commerce_number", "dpa_version"}
    ),
}
ID_FROM = frozenset({"public_id"})


class _Spy:
    """A record stand-in that remembers which of the record's attributes were read."""

    def __init__(self, record: Any) -> None:
        self._record = record
        self.read: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return getattr(self._record, name)


def _record_backed_types() -> list[tuple[StrawberryObjectDefinition, type[Any]]]:
    found = []
    for graphql_type in build_schema().schema_converter.type_map.values():
        definition = graphql_type.definition
        from_record = getattr(getattr(definition, "origin", None), "from_record", None)
        if not isinstance(definition, StrawberryObjectDefinition) or from_record is None:
            continue
        record = inspect.signature(from_record, eval_str=True).parameters["record"].annotation
        if getattr(record, "__module__", None) == records.__name__:
            found.append((definition, record))
    return sorted(found, key=lambda pair: pair[0].name)


TYPES = _record_backed_types()


def test_the_walk_finds_every_type_backed_by_a_store_record() -> None:
    assert {definition.name for definition, _ in TYPES} >= {
        "Board", "School", "Group", "Student", "StaffMember", "Partner", "Product", "License",
        "ConsentReceipt", "ConsentRequest", "Disclosure",
    }  # fmt: skip
    assert {record for _, record in TYPES} <= set(SAMPLES), "add a sample record for a new record type"


@pytest.mark.parametrize(("definition", "record_type"), TYPES, ids=[d.name for d, _ in TYPES])
def test_a_type_exposes_only_fields_its_record_holds(
    definition: StrawberryObjectDefinition, record_type: type[Any]
) -> None:
    record_fields = {field.name for field in dataclasses.fields(record_type)}
    spy = _Spy(SAMPLES[record_type])
    definition.origin.from_record(spy)

    assert spy.read <= record_fields, f"{definition.name} reads what {record_type.__name__} lacks"
    for field in definition.fields:
        if field.base_resolver is not None or is_private(field.type):
            continue  # resolved through loaders (or the record itself), not from the record's columns
        name = field.python_name
        wanted = ID_FROM if name == "id" else DERIVED.get((definition.name, name), frozenset({name}))
        assert wanted <= record_fields, f"{definition.name}.{name}: {record_type.__name__} has no {wanted}"
        assert wanted <= spy.read, f"{definition.name}.{name} is not filled from the record's {wanted}"
