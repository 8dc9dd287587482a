"""Writing EDEXML 2.1: the output validates against the shipped schema and reads back to the same school."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from datasources.school_files.checks import LAS_ROLES, PARENT_ROLE, YEAR_LEVELS
from datasources.school_files.csv_folder import read_csv_folder
from datasources.school_files.edexml import read_edexml
from datasources.school_files.edexml_schemas import SCHEMA_DIR, edexml_schemas
from datasources.school_files.edexml_writer import write_edexml
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from tests.conftest import examples

DATA = Path(__file__).resolve().parents[1] / "data" / "edexml"
TEMPLATE = Path(__file__).resolve().parents[2] / "reference" / "csv-template"


def _read_back(school: SchoolFile) -> SchoolFile:
    """Write, validate against the 2.1 schema as the hub compiles it, read back; source and warnings aside."""
    written = write_edexml(school)
    schema = edexml_schemas("2.1").document
    assert schema.validate(etree.fromstring(written)), schema.error_log
    return dataclasses.replace(read_edexml(written), source=school.source, warnings=school.warnings)


@pytest.mark.parametrize("name", ["EDEXML.Voorbeeld.2.1.xml", "school-2025-2026.xml", "school-2.0.xml"])
def test_a_school_read_from_edexml_is_written_valid_and_reads_back_equal(name: str) -> None:
    school = read_edexml((DATA / name).read_bytes())

    assert _read_back(school) == school


def test_the_csv_template_example_is_written_valid_and_reads_back_equal() -> None:
    school = read_csv_folder(TEMPLATE)

    assert _read_back(school) == school


def test_the_written_file_states_version_2_1_and_carries_only_what_the_hub_keeps() -> None:
    written = write_edexml(read_edexml((DATA / "school-2025-2026.xml").read_bytes()))

    assert written.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<EDEX>")
    assert b"<xsdversie>2.1</xsdversie>" in written
    for dropped in (
        b"bsn",
        b"geslacht",
        b"land",
        b"postcode",
        b"gewicht",
        b"toevoegingen",
        b"OUD",
        b"vestiging",
    ):
        assert dropped not in written


def test_a_current_school_year_validates_only_because_of_the_pattern_deviation() -> None:
    written = write_edexml(read_edexml((DATA / "school-2025-2026.xml").read_bytes()))
    published = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "2.1" / "EDEXML.structuur.xsd")))

    assert not published.validate(etree.fromstring(written))
    assert "EDEXSchooljaarType" in str(published.error_log) or "schooljaar" in str(published.error_log)
    assert edexml_schemas("2.1").document.validate(etree.fromstring(written))


def test_a_person_known_by_first_name_only_is_written_in_the_roepnaam_form() -> None:
    school = read_csv_folder(TEMPLATE)
    nameless = dataclasses.replace(school.students[0], last_name="", prefix=None, initials=None)
    school = dataclasses.replace(school, students=(nameless, *school.students[1:]))

    assert _read_back(school).students[0] == nameless


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda s: dataclasses.replace(s, students=()), "EDEXML needs at least one student"),
        (
            lambda s: dataclasses.replace(s, staff=(dataclasses.replace(s.staff[0], groups=("NOPE",)),)),
            "staff T1 is linked to group NOPE, which the school does not have",
        ),
        (
            lambda s: dataclasses.replace(
                s, students=(dataclasses.replace(s.students[0], last_name="", first_name=None),)
            ),
            "leerling 1001 has neither a surname nor a first name",
        ),
    ],
)
def test_what_edexml_cannot_say_is_refused(change: object, words: str) -> None:
    school = read_csv_folder(TEMPLATE)

    with pytest.raises(ValueError, match=words):
        write_edexml(change(school))  # type: ignore[operator]


# --- any school the readers can produce -----------------------------------------------------------------

_TEXT = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")


def _name(limit: int) -> st.SearchStrategy[str]:
    # Readers trim values, so a value the hub holds never starts or ends with white space.
    return st.text(_TEXT, min_size=1, max_size=limit).map(str.strip).filter(bool)


_KEYS = st.text(_TEXT, min_size=1, max_size=20).filter(lambda key: key.strip() == key and key != "")


@st.composite
def _schools(draw: st.DrawFn) -> SchoolFile:
    keys = draw(st.lists(_KEYS, min_size=3, max_size=12, unique=True))
    group_count = draw(st.integers(min_value=0, max_value=len(keys) - 2))
    groups = [
        ImportedGroup(
            key=key,
            name=draw(_name(64)),
            year_level=None if composite else draw(st.sampled_from(sorted(YEAR_LEVELS))),
            composite=composite,
        )
        for key in keys[:group_count]
        for composite in [draw(st.booleans())]
    ]
    main = [g.key for g in groups if not g.composite]
    composite_keys = [g.key for g in groups if g.composite]
    people = keys[group_count:]
    students = []
    for index, key in enumerate(people[: max(1, len(people) // 2)]):
        surname = draw(st.one_of(st.just(""), _name(200)))
        students.append(
            ImportedStudent(
                key=key,
                eck_id=draw(st.none() | st.just(f"https://id.school/LL_{index}")),
                first_name=draw(_name(64)) if not surname else draw(st.none() | _name(64)),
                prefix=draw(st.none() | _name(10)) if surname else None,
                last_name=surname,
                initials=draw(st.none() | _name(6)) if surname else None,
                date_of_birth=draw(st.none() | st.dates(dt.date(2005, 1, 1), dt.date(2024, 12, 31))),
                year_level=draw(st.none() | st.sampled_from(sorted(YEAR_LEVELS))),
                main_group=draw(st.none() | st.sampled_from(main)) if main else None,
                composite_groups=tuple(draw(st.lists(st.sampled_from(composite_keys), unique=True)))
                if composite_keys
                else (),
            )
        )
    staff = [
        ImportedStaff(
            key=key,
            eck_id=draw(st.none() | st.just(f"https://id.school/LK_{key}"[:256])),
            first_name=draw(st.none() | _name(64)),
            prefix=draw(st.none() | _name(10)),
            last_name=draw(_name(200)),
            email=draw(st.none() | st.emails().filter(lambda e: len(e) <= 256)),
            las_roles=tuple(draw(st.lists(st.sampled_from(sorted(LAS_ROLES - {PARENT_ROLE})), unique=True))),
            groups=tuple(draw(st.lists(st.sampled_from([g.key for g in groups]), unique=True)))
            if groups
            else (),
        )
        for key in people[len(students) :]
    ]
    return SchoolFile(
        brin=draw(st.from_regex(r"[0-9]{2}[A-Z]{2}", fullmatch=True)),
        location_code=draw(st.from_regex(r"[0-9]{2}", fullmatch=True)),
        school_year=(year := f"{draw(st.integers(1991, 2098))}") + f"-{int(year) + 1}",
        reference_date=draw(st.none() | st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))),
        groups=tuple(groups),
        students=tuple(students),
        staff=tuple(staff),
        source="EDEXML 2.1",
    )


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(school=_schools())
def test_any_school_the_readers_accept_is_written_valid_and_reads_back_equal(school: SchoolFile) -> None:
    assert _read_back(school) == school
