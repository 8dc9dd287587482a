"""Reading EDEXML: the official example and a 2.0 file read; bad files are refused by line, in words that
quote nothing from the file; what the hub must not keep never reaches the result."""

from __future__ import annotations

import hashlib
import io
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from datasources.school_files.checks import LAS_ROLES, YEAR_LEVELS
from datasources.school_files.edexml import read_edexml
from datasources.school_files.edexml_schemas import SCHEMA_DIR, schema_message
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, ImportFileError
from tests.conftest import examples

if TYPE_CHECKING:
    from typing import BinaryIO

DATA = Path(__file__).resolve().parents[1] / "data" / "edexml"
EXAMPLE = DATA / "EDEXML.Voorbeeld.2.1.xml"
CURRENT = DATA / "school-2025-2026.xml"
OLDER = DATA / "school-2.0.xml"
#: Values of the current-year fixture that the hub must never keep nor repeat.
SECRETS = ("123456782", "6782", "9999ZZ", "0,3", "Vertrouwelijke", "Vrije tekst", "abakker", "bovenbouw")


def _current(*replacements: tuple[str, str]) -> bytes:
    """The current-year fixture with each (old, new) replaced once; old must be there."""
    text = CURRENT.read_text("utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.encode("utf-8")


def _line(data: bytes, marker: str, *, last: bool = False) -> int:
    """The line of the first (or last) occurrence of `marker`."""
    encoded = marker.encode("utf-8")
    return data[: data.rindex(encoded) if last else data.index(encoded)].count(b"\n") + 1


def _refusal(source: bytes | BinaryIO, **options: int) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        read_edexml(source, **options)
    return caught.value


def _quotes_nothing(error: ImportFileError, *values: str) -> None:
    """Neither the error nor anything chained to it (what a log with a traceback would show) holds a value."""
    assert error.__cause__ is None
    assert error.__context__ is None
    shown = "".join(traceback.format_exception(error)) + repr(error)
    for value in values:
        assert value not in shown, value


# --- files that read ------------------------------------------------------------------------------------


#: An LVS vendor's own block in the additional blocks (toevoegingen), of a type the schema does not define.
LVS_BLOCK = """<blok xsi:type="LVSToetsGegevensType">
					<code>LVS-REKENEN</code>
					<toets afname="2014-01-20"><vak>Rekenen-Wiskunde</vak><niveau>LVS-SCORE-B</niveau></toets>
				</blok>"""


def _example_with_lvs_blocks() -> bytes:
    """The shipped example with an LVS block added to a group and replacing one of a student's remarks."""
    text = EXAMPLE.read_text("utf-8")
    remark = """<blok xsi:type="OpmerkingGegevensType">
					<code>Opmerking Y</code>
					<opmerking/>
				</blok>"""
    assert remark in text
    text = text.replace(remark, LVS_BLOCK, 1)
    group = "<jaargroep>4</jaargroep>\n\t\t\t<toevoegingen>"
    assert group in text
    return text.replace(group, group + LVS_BLOCK, 1).encode("utf-8")


def test_a_file_with_lvs_blocks_is_read_and_the_blocks_ignored_with_a_warning() -> None:
    plain = read_edexml(EXAMPLE.read_bytes())
    school = read_edexml(_example_with_lvs_blocks())
    assert school.students == plain.students
    assert school.groups == plain.groups
    assert school.staff == plain.staff
    assert school.warnings == (
        "the file has 2 additional block(s) (toevoegingen) of a type the EDEXML schema does not define,"
        " such as an LVS block; the hub ignored them",
    )
    assert plain.warnings == ()
    for value in ("LVS", "Rekenen", "2014-01-20"):
        assert value not in repr(school).replace("such as an LVS block", "")


def test_an_lvs_block_keeps_the_safety_rules() -> None:
    """Skipped content is still parsed safely: an entity inside an LVS block is refused, not expanded."""
    data = _example_with_lvs_blocks().replace(b"LVS-SCORE-B", b"&secret;")
    in_a_name = EXAMPLE.read_bytes().replace(b"<naam>Vlinders</naam>", b"<naam>&secret;</naam>")
    assert str(_refusal(data)) == str(_refusal(in_a_name))
    doctype = b'<!DOCTYPE EDEX [<!ENTITY secret "x">]>\n<EDEX'
    assert "DOCTYPE" in str(_refusal(_example_with_lvs_blocks().replace(b"<EDEX", doctype, 1)))


def test_the_rest_of_a_file_with_lvs_blocks_is_still_checked_against_the_schema() -> None:
    data = _example_with_lvs_blocks().replace(b"<jaargroep>4</jaargroep>", b"<jaargroep>4</jaargroep><x/>", 1)
    assert "element 'x'" in str(_refusal(data))


def test_the_official_example_reads_with_its_groups_students_and_staff() -> None:
    school = read_edexml(EXAMPLE.read_bytes())

    assert (school.code, school.school_year, school.source) == ("99ZZ00", "2014-2015", "EDEXML 2.1")
    assert str(school.reference_date) == "2014-10-01"
    assert [(g.key, g.year_level, g.composite) for g in school.groups][:3] == [
        ("001", "0", False),
        ("sg3", None, True),
        ("002", "1", False),
    ]
    first = school.students[0]
    assert first == ImportedStudent(
        key="00001",
        eck_id=first.eck_id,
        first_name="Wimpie",
        prefix="imp",
        last_name="ie",
        initials="W",
        date_of_birth=first.date_of_birth,
        year_level="4",
        main_group="GRP4B",
        composite_groups=("sg1", "sg2"),
    )
    assert first.eck_id is not None
    assert first.eck_id.startswith("https://id.school/LL_")
    assert [s.year_level for s in school.students] == ["4", "4", "H"]
    assert [(m.key, m.las_roles, m.groups) for m in school.staff] == [
        ("LK1", ("TAL",), ("GRP4A",)),
        ("LK2", (), ("002", "sg1", "001", "sg2", "sg3")),
        ("LK3", ("STA", "OWA"), ("GRP4A",)),
    ]
    assert school.warnings == ()


def test_a_student_without_roepnaam_goes_by_the_first_of_the_given_names() -> None:
    school = read_edexml(EXAMPLE.read_bytes())

    assert school.students[1].first_name == "Ismaël"  # voornamen "Ismaël Hassan", no roepnaam
    current = read_edexml(CURRENT.read_bytes())
    assert current.students[0].first_name == "Fien"  # a roepnaam wins over the given names


def test_a_2_0_file_reads_and_is_reported_as_2_0() -> None:
    school = read_edexml(OLDER.read_bytes())

    assert (school.source, school.code, school.school_year) == ("EDEXML 2.0", "99ZZ00", "2024-2025")
    assert school.groups[0] == ImportedGroup(
        key="G1", name="Groep 1/2 Uilen", year_level="C", composite=False
    )
    assert [s.first_name for s in school.students] == ["Noor", "Teun"]
    assert school.staff[0].email == "m.dijkstra@school.example"


def test_a_2_0_file_is_held_to_the_2_0_schema_which_has_no_eckid() -> None:
    data = OLDER.read_bytes().replace(
        b'<leerling key="2001">', b'<leerling key="2001" eckid="https://id.school/x">'
    )

    error = _refusal(data)

    assert "attribute 'eckid'" in error.message
    assert error.line == _line(data, 'key="2001"')


def test_a_file_that_states_no_version_is_read_as_2_1_with_a_warning() -> None:
    school = read_edexml(_current(("<xsdversie>2.1</xsdversie>", "")))

    assert school.source == "EDEXML 2.1"
    assert any("xsdversie" in warning for warning in school.warnings)


def test_a_school_year_after_the_schemas_list_is_accepted() -> None:
    school = read_edexml(_current(("2025-2026", "2031-2032")))

    assert school.school_year == "2031-2032"


def test_a_file_object_and_a_stream_that_cannot_seek_read_like_bytes() -> None:
    expected = read_edexml(CURRENT.read_bytes())

    with CURRENT.open("rb") as file:
        assert read_edexml(file) == expected
    assert read_edexml(_unseekable(CURRENT.read_bytes())) == expected


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "UTF-16"])
def test_a_file_in_another_declared_encoding_reads(encoding: str) -> None:
    text = EXAMPLE.read_text("utf-8").replace('encoding="UTF-8"', f'encoding="{encoding}"')

    school = read_edexml(text.encode(encoding))

    assert school.students[1].first_name == "Ismaël"


# --- what is dropped ------------------------------------------------------------------------------------


def test_bsn_gender_country_postcode_weight_and_free_text_appear_nowhere_in_the_result() -> None:
    school = read_edexml(CURRENT.read_bytes())

    shown = repr(school)
    for value in SECRETS:
        assert value not in shown, value
    assert "ouder@thuis.example" not in shown


def test_a_parent_record_is_left_out_and_counted_in_a_warning() -> None:
    school = read_edexml(CURRENT.read_bytes())

    assert [m.key for m in school.staff] == ["T1", "T2"]
    assert school.warnings == ("1 parent record(s) (role OUD) were not imported",)


def test_las_role_codes_such_as_ict_and_ib_are_kept_as_strings_only() -> None:
    school = read_edexml(CURRENT.read_bytes())

    assert school.staff[0] == ImportedStaff(
        key="T1",
        eck_id="https://id.school/LK_testsynthetic0001",
        first_name="Anneke",
        prefix=None,
        last_name="Bakker",
        email="a.bakker@school.example",
        las_roles=("LRK", "ICT"),
        groups=("G3",),
    )
    # A role per group counts as a role; the free-text role description does not.
    assert school.staff[1].las_roles == ("IB", "RT")


def test_a_staff_member_who_is_also_a_parent_keeps_the_other_roles_only() -> None:
    school = read_edexml(_current(("<rol>LRK</rol>", "<rol>OUD</rol><rol>LRK</rol>")))

    assert school.staff[0].las_roles == ("LRK", "ICT")


def test_a_person_known_by_roepnaam_only_has_an_empty_surname_and_a_warning() -> None:
    data = _current(
        ("<achternaam>Meer</achternaam>\n\t\t\t<voorvoegsel>van der</voorvoegsel>\n", ""),
        (
            "<voornamen>Daan Pieter</voornamen>\n\t\t\t<voorletters-1>DP</voorletters-1>",
            "<roepnaam>Daan</roepnaam>",
        ),
    )

    school = read_edexml(data)

    assert (school.students[1].first_name, school.students[1].last_name) == ("Daan", "")
    assert any("no surname" in warning for warning in school.warnings)


# --- refusals -------------------------------------------------------------------------------------------


def test_malformed_xml_is_refused_with_its_line() -> None:
    data = _current(("<naam>Groep 8</naam>", "<naam>Groep 8</nam>"))

    error = _refusal(data)

    assert error.message == "an end tag does not match its start tag"
    assert error.line == _line(data, "Groep 8")


def test_an_empty_file_is_refused() -> None:
    assert _refusal(b"").message == "the file is empty"


def test_a_doctype_is_refused_with_its_line() -> None:
    data = _current(("<EDEX ", "<!DOCTYPE EDEX>\n<EDEX "))

    error = _refusal(data)

    assert "DOCTYPE" in error.message
    assert error.line == _line(data, "<!DOCTYPE")


def test_a_billion_laughs_file_is_refused_without_expanding() -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE EDEX [<!ENTITY l0 "lol">{entities}]>\n<EDEX>&l9;</EDEX>'.encode()
    )

    error = _refusal(data)

    assert "DOCTYPE" in error.message
    assert error.line == 2


def test_an_external_entity_is_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    data = _current(
        ("<EDEX ", f'<!DOCTYPE EDEX [<!ENTITY x SYSTEM "{secret.as_uri()}">]>\n<EDEX '),
        ("<naam>Groep 8</naam>", "<naam>&x;</naam>"),
    )

    error = _refusal(data)

    assert "DOCTYPE" in error.message
    _quotes_nothing(error, "TOP-SECRET-CONTENT")


def test_an_external_dtd_is_refused_without_touching_the_network() -> None:
    data = _current(("<EDEX ", '<!DOCTYPE EDEX SYSTEM "http://192.0.2.1/edex.dtd">\n<EDEX '))

    assert "DOCTYPE" in _refusal(data).message


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed() -> None:
    error = _refusal(CURRENT.read_bytes(), max_bytes=1_000)

    assert error.message == "the file is larger than the limit of 1,000 bytes"


def test_a_stream_over_the_size_limit_is_refused_while_it_is_read() -> None:
    endless = _Endless()

    error = _refusal(cast("BinaryIO", endless), max_bytes=200_000)

    assert "larger than the limit" in error.message
    assert endless.handed_out <= 200_000 + 64 * 1024


def test_bytes_that_are_not_valid_utf_8_are_refused_with_their_line() -> None:
    data = _current().replace(b"Bakker", b"Bakk\xe9r")

    error = _refusal(data)

    assert "not valid in its character encoding" in error.message
    assert error.line == _line(data, "Bakk")
    _quotes_nothing(error, "Bakk")


def test_an_unsupported_encoding_is_refused_by_name() -> None:
    data = _current(('encoding="UTF-8"', 'encoding="X-NO-SUCH-CODEC"'))

    error = _refusal(data)

    assert (
        error.message == "the file's character encoding (X-NO-SUCH-CODEC) is not supported; save it as UTF-8"
    )


def test_a_file_that_is_not_edexml_is_refused() -> None:
    error = _refusal(b"<?xml version='1.0'?>\n<html><body/></html>")

    assert "this is not an EDEXML file" in error.message
    assert error.line == 2


def test_an_edexml_version_the_hub_does_not_read_is_refused() -> None:
    data = _current(("<xsdversie>2.1</xsdversie>", "<xsdversie>1.03</xsdversie>"))

    error = _refusal(data)

    assert error.message == "the file is EDEXML version (xsdversie) '1.03'; the hub reads 2.0 and 2.1"
    assert error.line == _line(data, "<xsdversie>")


def test_a_schema_violation_is_refused_with_the_line_and_without_the_value() -> None:
    data = _current(("<geslacht>1</geslacht>", "<geslacht>7</geslacht>"))

    error = _refusal(data)

    assert error.message == "element 'geslacht': the value is not one of the codes the schema allows"
    assert error.line == _line(data, "<geslacht>7")


def test_an_element_the_schema_does_not_expect_is_refused_with_its_line() -> None:
    data = _current(
        ("<jaargroep>8</jaargroep>\n\t\t\t<groep", "<jaargroep>8</jaargroep><hobby>x</hobby>\n<groep")
    )

    error = _refusal(data)

    assert error.message.startswith("element 'hobby': expected instead: ")
    assert error.line == _line(data, "<hobby>")


def test_a_schema_violation_in_a_stream_that_cannot_seek_is_refused_without_a_line() -> None:
    data = _current(("<geslacht>1</geslacht>", "<geslacht>7</geslacht>"))

    error = _refusal(_unseekable(data))

    assert "geslacht" in error.message
    assert error.line is None


@pytest.mark.parametrize(
    ("old", "new", "record", "words"),
    [
        ("<jaargroep>3</jaargroep>", "<jaargroep>9</jaargroep>", '<groep key="G3">', "group 'G3'"),
        (
            "<jaargroep>8</jaargroep>\n\t\t\t<groep",
            "<jaargroep>Q</jaargroep>\n\t\t\t<groep",
            '<leerling key="1002"',
            "student '1002'",
        ),
    ],
)
def test_an_unknown_year_level_code_is_refused_with_the_records_line(
    old: str, new: str, record: str, words: str
) -> None:
    data = _current((old, new))

    error = _refusal(data)

    assert error.message.startswith(f"{words} has an unknown year-level code ")
    assert "(jaargroep); known codes: 0-8, 11-16, B, D, S, V, C, N, H" in error.message
    assert error.line == _line(data, record)


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ('<groep key="G8">', '<groep key="G3">', "group"),
        (
            '<samengestelde_groep key="PLUS">\n\t\t\t<naam>',
            '<samengestelde_groep key="G3">\n\t\t\t<naam>',
            "group",
        ),
        ('<leerling key="1002"', '<leerling key="1001"', "student"),
        ('<leerkracht key="T2">', '<leerkracht key="T1">', "staff"),
    ],
)
def test_a_duplicate_key_is_refused_with_both_lines(old: str, new: str, kind: str) -> None:
    data = _current((old, new))
    key = new.split('"')[1]

    error = _refusal(data)

    first = _line(data, f'key="{key}"')
    assert error.message == f"duplicate {kind} key '{key}' (first on line {first})"
    assert error.line == _line(data, new, last=True)


@pytest.mark.parametrize(
    ("old", "new", "who"),
    [
        ('<groep key="G3"/>\n\t\t\t<vestiging', '<groep key="G9"/>\n\t\t\t<vestiging', "student '1001'"),
        (
            '<samengestelde_groep key="PLUS"/>\n\t\t\t</samengestelde_groepen>',
            '<samengestelde_groep key="X"/>\n\t\t\t</samengestelde_groepen>',
            "student '1002'",
        ),
        ('<groep key="G3"/>\n\t\t\t</groepen>', '<groep key="G9"/>\n\t\t\t</groepen>', "staff 'T1'"),
    ],
)
def test_a_reference_to_a_group_not_in_the_file_is_refused_with_the_records_line(
    old: str, new: str, who: str
) -> None:
    data = _current((old, new))

    error = _refusal(data)

    assert error.message.startswith(f"{who} refers to group ")
    assert error.message.endswith(", which is not in the file")
    record = "leerling" if who.startswith("student") else "leerkracht"
    assert error.line == _line(data, f'<{record} key="{who.split(chr(39))[1]}"')


def test_a_composite_group_named_as_main_group_is_refused() -> None:
    error = _refusal(_current(('<groep key="G3"/>', '<groep key="PLUS"/>')))

    assert error.message == "student '1001' lists group 'PLUS' as a main group (groep), which it is not"


@pytest.mark.parametrize("year", ["2025-2027", "2026-2025"])
def test_a_school_year_that_is_not_two_consecutive_years_is_refused_with_its_line(year: str) -> None:
    data = _current(("2025-2026", year))

    error = _refusal(data)

    assert error.message == "the school year (schooljaar) must be two consecutive years, such as 2025-2026"
    assert error.line == _line(data, "<schooljaar>")


def test_a_school_year_in_another_form_is_refused_by_the_pattern() -> None:
    data = _current(("2025-2026", "2025/26"))

    assert "schooljaar" in _refusal(data).message


def test_an_impossible_date_is_refused_with_the_records_line() -> None:
    data = _current(("2018-05-09", "2018-02-30"))

    error = _refusal(data)

    assert error.message == "geboortedatum is not a valid date (YYYY-MM-DD)"
    assert error.line == _line(data, '<leerling key="1001"')
    _quotes_nothing(error, "2018-02-30")


def test_a_record_without_a_key_is_refused_with_its_line() -> None:
    data = _current(('<leerling key="1002" ', "<leerling "))

    error = _refusal(data)

    assert error.message == "a leerling element has no key attribute"
    assert error.line == _line(data, 'eckid="https://id.school/LL_testsynthetic0002"')


def test_a_list_out_of_order_is_refused_with_its_line() -> None:
    text = CURRENT.read_text("utf-8")
    groups = text[text.index("\t<groepen>") : text.index("\t<leerlingen>")]
    data = text.replace(groups, "").replace("\t<leerkrachten>", groups + "\t<leerkrachten>").encode()

    error = _refusal(data)

    assert error.message.startswith("element 'groepen' is out of place")
    assert error.line == _line(data, "<groepen>")


def test_an_element_that_does_not_belong_in_edex_is_refused_with_its_line() -> None:
    data = _current(("\t<leerkrachten>", "\t<ouders/>\n\t<leerkrachten>"))

    error = _refusal(data)

    assert error.message == "element 'ouders' does not belong in EDEX"
    assert error.line == _line(data, "<ouders/>")


def test_a_file_without_students_is_refused() -> None:
    text = CURRENT.read_text("utf-8")
    data = (text[: text.index("\t<leerlingen>")] + text[text.index("\t<leerkrachten>") :]).encode()

    error = _refusal(data)

    assert error.message == "the file has no students (leerlingen) before 'leerkrachten'"
    assert error.line == _line(data, "<leerkrachten>")


def test_a_reference_to_a_location_not_in_the_file_is_refused() -> None:
    error = _refusal(_current(('<vestiging key="HOOFD"/>', '<vestiging key="ELDERS"/>')))

    assert error.message == "student '1001' refers to location (vestiging) 'ELDERS', which is not in the file"


# --- privacy of refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "replacement",
    [
        ("<bsn>123456782</bsn>", "<bsn>12345678X</bsn>"),
        ("<bsn>123456782</bsn>", "<bsn>123456782</bsn><bsn>123456782</bsn>"),
        ("<postcodenl>9999ZZ</postcodenl>", "<postcodenl>9999zz</postcodenl>"),
        ("<achternaam>Jansen</achternaam>", f"<achternaam>O'Jansen 123456782 {'x' * 200}</achternaam>"),
        ("<roepnaam>Fien</roepnaam>", "<roepnaam>Fien</roepnaam><roepnaam>123456782</roepnaam>"),
        ("<geboortedatum>2018-05-09</geboortedatum>", "<geboortedatum>123456782</geboortedatum>"),
        ("<gewicht_nieuw>0,3</gewicht_nieuw>", "<gewicht_nieuw>0,7</gewicht_nieuw>"),
        ('<groep key="G3"/>', '<groep key="G3"/><groep key="G3"/>'),
        ("Jansen", "Jans\udcff"),
    ],
)
def test_no_refusal_of_a_file_with_a_bsn_repeats_the_bsn_or_other_values(
    replacement: tuple[str, str],
) -> None:
    old, new = replacement
    data = CURRENT.read_bytes().replace(old.encode(), new.encode("utf-8", "surrogateescape"), 1)

    error = _refusal(data)

    _quotes_nothing(error, *SECRETS, "12345678X", "9999zz", "Jansen", "0,7", "2018-05-09")


def test_schema_messages_keep_names_from_the_schema_and_drop_quoted_values() -> None:
    assert (
        schema_message(
            "Element 'bsn': [facet 'pattern'] The value 'O'Brien 123' is not accepted by the pattern"
            " '\\p{Nd}{9}'."
        )
        == "element 'bsn': the value does not have the form the schema requires (\\p{Nd}{9})"
    )
    assert (
        schema_message(
            "Element 'geboortedatum': '2006-16-21' is not a valid value of the atomic type 'xs:date'."
        )
        == "element 'geboortedatum': the value is not a valid xs:date"
    )
    assert (
        schema_message(
            "Element 'achternaam': [facet 'maxLength'] The value 'Jansen' has a length of '300';"
            " this exceeds the allowed maximum length of '200'."
        )
        == "element 'achternaam': the value is longer than 200 characters"
    )
    assert schema_message("Element 'x': something libxml2 may say one day about 'Jansen'.") == (
        "element 'x': does not match the EDEXML schema"
    )


# --- the shipped schemas --------------------------------------------------------------------------------


def test_the_shipped_schemas_are_the_published_ones_byte_for_byte() -> None:
    # The SHA-256 of the files in shared/data/edexml (SOURCES.md), first 16 hex digits.
    digests = {
        str(path.relative_to(SCHEMA_DIR)): hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        for path in sorted(SCHEMA_DIR.glob("*/*.xsd"))
    }

    assert digests == {
        "2.0/EDEXML.elementen.xsd": "d33a64cc299ccb56",
        "2.0/EDEXML.structuur.xsd": "6305cba8dd850b35",
        "2.0/EDEXML.types.variabel.xsd": "e879268b499eb3a9",
        "2.0/EDEXML.types.vast.xsd": "9cd4063930e751ce",
        "2.1/EDEXML.elementen.xsd": "f63153abe0149350",
        "2.1/EDEXML.structuur.xsd": "a3f8f0fdb04980cd",
        "2.1/EDEXML.types.variabel.xsd": "58144b356e812bfd",
        "2.1/EDEXML.types.vast.xsd": "81d9a5c72b1169a4",
    }


@pytest.mark.parametrize(
    ("type_name", "codes"), [("EDEXJaargroepType", YEAR_LEVELS), ("EDEXLeerkrachtRolType", LAS_ROLES)]
)
def test_the_year_level_and_role_codes_are_those_of_the_2_1_schema(
    type_name: str, codes: frozenset[str]
) -> None:
    schema = etree.parse(str(SCHEMA_DIR / "2.1" / "EDEXML.types.variabel.xsd"))

    listed = schema.xpath(
        f"//xs:simpleType[@name='{type_name}']//xs:enumeration/@value",
        namespaces={"xs": "http://www.w3.org/2001/XMLSchema"},
    )

    assert isinstance(listed, list)
    assert {str(value) for value in listed} == codes


def _unseekable(data: bytes) -> BinaryIO:
    return cast("BinaryIO", _Unseekable(data))


class _Unseekable(io.RawIOBase):
    """A stream that can only be read forward, as a request body may be."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class _Endless(_Unseekable):
    """A stream of students that never ends; counts what it hands out."""

    def __init__(self) -> None:
        super().__init__(b"")
        self.handed_out = 0
        self._pending = CURRENT.read_bytes().split(b"\t<leerlingen>")[0] + b"<leerlingen>"
        self._students = 0

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer):
            self._students += 1
            self._pending += b'<leerling key="%d"><roepnaam>x</roepnaam></leerling>\n' % self._students
        chunk, self._pending = self._pending[: len(buffer)], self._pending[len(buffer) :]
        buffer[: len(chunk)] = chunk
        self.handed_out += len(chunk)
        return len(chunk)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.integers(min_value=0, max_value=len(CURRENT.read_bytes())),
    length=st.integers(min_value=0, max_value=40),
    insert=st.text(alphabet="<>/=\"'&;!?-:ab1 \n\x00é", max_size=12),
)
def test_any_damage_to_a_file_is_read_or_refused_and_never_repeats_a_secret(
    start: int, length: int, insert: str
) -> None:
    original = CURRENT.read_bytes()
    data = original[:start] + insert.encode("utf-8") + original[start + length :]

    try:
        school = read_edexml(data)
    except ImportFileError as error:
        _quotes_nothing(error, *SECRETS)
    else:
        assert not any(value in repr(school) for value in SECRETS)
