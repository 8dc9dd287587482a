"""The CSV template: the documented example reads; bad folders are refused by file and line, like EDEXML."""

from __future__ import annotations

import codecs
import datetime as dt
import shutil
from pathlib import Path

import pytest

from datasources.school_files.csv_folder import read_csv_folder
from datasources.school_files.edexml import read_edexml
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, ImportFileError

TEMPLATE = Path(__file__).resolve().parents[2] / "reference" / "csv-template"
EDEXML_TWIN = Path(__file__).resolve().parents[1] / "data" / "edexml" / "school-2025-2026.xml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the template's example, for a test to change."""
    for name in ("school.csv", "groups.csv", "students.csv", "staff.csv"):
        shutil.copy(TEMPLATE / name, tmp_path / name)
    return tmp_path


def _edit(folder: Path, name: str, old: str, new: str) -> None:
    text = (folder / name).read_text("utf-8")
    assert old in text, old
    (folder / name).write_text(text.replace(old, new, 1), "utf-8")


def _refusal(folder: Path) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        read_csv_folder(folder)
    assert caught.value.__context__ is None
    return caught.value


def test_the_documented_example_reads_as_a_school_file() -> None:
    school = read_csv_folder(TEMPLATE)

    assert (school.code, school.school_year, school.reference_date) == (
        "99ZZ01",
        "2025-2026",
        dt.date(2025, 10, 1),
    )
    assert school.source == "CSV"
    assert school.groups[-1] == ImportedGroup(key="PLUS", name="Plusklas", year_level=None, composite=True)
    assert school.students[1] == ImportedStudent(
        key="1002",
        eck_id="https://id.school/LL_example0002",
        first_name="Daan",
        prefix="van der",
        last_name="Meer",
        initials="DP",
        date_of_birth=dt.date(2013, 12, 31),
        year_level="8",
        main_group="G8",
        composite_groups=("PLUS",),
    )
    assert school.staff[1] == ImportedStaff(
        key="T2",
        eck_id=None,
        first_name="Harm",
        prefix=None,
        last_name="Smit",
        email="h.smit@school.example",
        las_roles=("IB", "RT"),
        groups=("G8", "PLUS"),
    )
    assert school.warnings == ()


def test_the_template_and_edexml_give_the_same_records_for_the_same_people() -> None:
    from_csv = read_csv_folder(TEMPLATE)
    from_edexml = read_edexml(EDEXML_TWIN.read_bytes())

    assert from_csv.students[0].last_name == from_edexml.students[0].last_name
    assert from_csv.staff[0].las_roles == from_edexml.staff[0].las_roles == ("LRK", "ICT")


def test_semicolons_a_byte_order_mark_crlf_and_columns_in_another_order_read_alike(folder: Path) -> None:
    expected = read_csv_folder(folder)
    rows = [line.split(",") for line in (folder / "staff.csv").read_text("utf-8").splitlines()]
    reordered = "\r\n".join(";".join(reversed(row)) for row in rows) + "\r\n"
    (folder / "staff.csv").write_bytes(codecs.BOM_UTF8 + reordered.encode("utf-8"))

    assert read_csv_folder(folder) == expected


def test_optional_columns_may_be_left_out(folder: Path) -> None:
    (folder / "staff.csv").write_text("key,last_name\nT1,Bakker\n", "utf-8")
    (folder / "school.csv").write_text("brin,school_year\n99ZZ,2025-2026\n", "utf-8")

    school = read_csv_folder(folder)

    assert school.location_code == "00"
    assert school.staff == (ImportedStaff("T1", None, None, None, "Bakker", None, (), ()),)


def test_a_parent_row_is_left_out_with_a_warning(folder: Path) -> None:
    _edit(folder, "staff.csv", "T3,,Marloes,de,Vries,,LRK,G12", "T3,,Marloes,de,Vries,,oud,")

    school = read_csv_folder(folder)

    assert [member.key for member in school.staff] == ["T1", "T2"]
    assert school.warnings == ("1 parent record(s) (role OUD) were not imported",)


def test_a_missing_file_is_refused_by_name(folder: Path) -> None:
    (folder / "staff.csv").unlink()

    assert _refusal(folder).message.startswith("staff.csv is missing")


def test_files_over_the_size_limit_are_refused(folder: Path) -> None:
    with pytest.raises(ImportFileError, match="larger than the limit of 100 bytes"):
        read_csv_folder(folder, max_bytes=100)


def test_bytes_that_are_not_utf_8_are_refused_with_their_line(folder: Path) -> None:
    content = (folder / "students.csv").read_bytes().replace(b"Visser", b"Vi\xdfer")
    (folder / "students.csv").write_bytes(content)

    error = _refusal(folder)

    assert (error.message, error.line) == ("students.csv: the file is not UTF-8 (save it as CSV UTF-8)", 4)


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("key,name,year_level,composite,bsn", "groups.csv: unknown column 'bsn'; the columns are key, name,"),
        ("key,year_level,composite", "groups.csv: the header lacks the column(s) name"),
        ("key,name,name,year_level", "groups.csv: the column 'name' appears twice"),
    ],
)
def test_a_header_with_an_unknown_missing_or_repeated_column_is_refused(
    folder: Path, header: str, words: str
) -> None:
    _edit(folder, "groups.csv", "key,name,year_level,composite", header)

    error = _refusal(folder)

    assert error.message.startswith(words)
    assert error.line == 1


def test_a_row_with_the_wrong_number_of_cells_is_refused_with_its_line(folder: Path) -> None:
    _edit(folder, "groups.csv", "G8,Groep 8,8,no", "G8,Groep 8,8")

    error = _refusal(folder)

    assert (error.message, error.line) == ("groups.csv: the row has 3 cells, the header 4", 3)


def test_an_unclosed_quote_is_refused_without_quoting_the_row(folder: Path) -> None:
    _edit(folder, "students.csv", "1003,,Noor,", '1003,,"Noor,')

    error = _refusal(folder)

    assert error.message == "students.csv: the row is not valid CSV (check its quotes)"
    assert "Noor" not in str(error)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("99ZZ,", "99zz,", "school.csv: brin must be two digits and two capital letters, such as 16AH"),
        (",01,", ",1,", "school.csv: location_code must be two digits, such as 00"),
        ("2025-2026", "2025-2027", "school.csv: the school year (schooljaar) must be two consecutive years"),
        ("2025-10-01", "2025-10-32", "school.csv: reference_date is not a valid date (YYYY-MM-DD)"),
    ],
)
def test_a_school_row_of_the_wrong_form_is_refused_on_line_2(
    folder: Path, old: str, new: str, message: str
) -> None:
    _edit(folder, "school.csv", old, new)

    error = _refusal(folder)

    assert error.message.startswith(message)
    assert error.line == 2


_ROW_REFUSALS = [
    ("groups.csv", "G8,Groep 8,8,", "G8,Groep 8,9,", "group 'G8' has an unknown year-level code '9'", 3),
    ("groups.csv", "PLUS,Plusklas,,yes", "PLUS,Plusklas,,maybe", "composite must be yes or no", 5),
    ("groups.csv", "PLUS,Plusklas,,yes", "G3,Plusklas,,yes", "duplicate group key 'G3' (first on line 2)", 5),
    ("students.csv", "8,G8,PLUS", "Q,G8,PLUS", "student '1002' has an unknown year-level code 'Q'", 3),
    ("students.csv", "1003,", "1001,", "duplicate student key '1001' (first on line 2)", 4),
    (
        "students.csv",
        "8,G8,PLUS",
        "8,G9,PLUS",
        "student '1002' refers to group 'G9', which is not in groups.csv",
        3,
    ),
    ("students.csv", "8,G8,PLUS", "8,PLUS,", "student '1002' lists group 'PLUS' as a main group", 3),
    ("students.csv", "2013-12-31", "2013-13-31", "date_of_birth is not a valid date (YYYY-MM-DD)", 3),
    (
        "students.csv",
        "LL_example0002",
        "LL_example0001",
        "student '1002' has the same ECK-iD as student '1001'",
        3,
    ),
    ("staff.csv", "IB|RT", "IB|XX", "staff 'T2' has an unknown role code 'XX' (rol)", 3),
    ("staff.csv", "T3,", "T1,", "duplicate staff key 'T1' (first on line 2)", 4),
    ("staff.csv", "G8|PLUS", "G8|NOPE", "staff 'T2' refers to group 'NOPE', which is not in groups.csv", 3),
    (
        "staff.csv",
        ",Smit,",
        f",{'Smit' * 60},",
        "the surname (achternaam) of a staff record is longer than 200",
        3,
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "message", "line"), _ROW_REFUSALS)
def test_a_row_is_refused_by_the_same_checks_as_edexml_with_its_file_and_line(
    folder: Path, name: str, old: str, new: str, message: str, line: int
) -> None:
    _edit(folder, name, old, new)

    error = _refusal(folder)

    assert error.message.startswith(f"{name}: {message}")
    assert error.line == line
    assert "Smit" not in error.message


def test_a_student_row_without_any_name_is_refused(folder: Path) -> None:
    _edit(folder, "students.csv", "Noor,,Visser", ",,")

    error = _refusal(folder)

    assert error.message == "students.csv: student '1003' has neither a surname nor a first name"
    assert error.line == 4
