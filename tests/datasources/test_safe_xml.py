"""One safe way to parse XML: a DOCTYPE, entities, billion laughs and external entities are refused by every
reader of school files, and no reader builds an lxml parser of its own."""

from __future__ import annotations

import ast
import io
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from datasources.school_files import safe_xml
from datasources.school_files.edexml import read_edexml
from datasources.school_files.edexml_schemas import locate_invalid_record
from datasources.school_files.model import ImportFileError
from datasources.school_files.safe_xml import DOCTYPE_REFUSED

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[2]
CURRENT = ROOT / "tests" / "data" / "edexml" / "school-2025-2026.xml"
SECRET = "TOP-SECRET-CONTENT"
#: lxml's ways to build a parser of its own; only `safe_xml` may call them.
_PARSER_FACTORIES = frozenset({"iterparse", "XMLParser", "XMLPullParser", "HTMLParser", "HTMLPullParser"})
#: lxml's ways to parse a whole document; they fall back to lxml's default parser without a parser argument.
_DOCUMENT_PARSERS = frozenset({"parse", "fromstring", "XML", "fromstringlist"})


def _current(*replacements: tuple[str, str]) -> bytes:
    text = CURRENT.read_text("utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.encode("utf-8")


def _documents(secret: Path) -> dict[str, bytes]:
    """Valid school files but for what a DTD adds to them."""
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    return {
        "a DOCTYPE": _current(("<EDEX ", "<!DOCTYPE EDEX>\n<EDEX ")),
        "an internal entity": _current(
            ("<EDEX ", '<!DOCTYPE EDEX [<!ENTITY n "Groep 8">]>\n<EDEX '),
            ("<naam>Groep 8</naam>", "<naam>&n;</naam>"),
        ),
        "billion laughs": _current(
            ("<EDEX ", f'<!DOCTYPE EDEX [<!ENTITY l0 "lol">{laughs}]>\n<EDEX '),
            ("<naam>Groep 8</naam>", "<naam>&l9;</naam>"),
        ),
        "an external entity": _current(
            ("<EDEX ", f'<!DOCTYPE EDEX [<!ENTITY x SYSTEM "{secret.as_uri()}">]>\n<EDEX '),
            ("<naam>Groep 8</naam>", "<naam>&x;</naam>"),
        ),
        "an external DTD": _current(("<EDEX ", '<!DOCTYPE EDEX SYSTEM "http://192.0.2.1/edex.dtd">\n<EDEX ')),
    }


def _by_read_edexml(data: bytes) -> ImportFileError | None:
    try:
        read_edexml(data)
    except ImportFileError as error:
        return error
    return None


def _by_locate_invalid_record(data: bytes) -> ImportFileError | None:
    return locate_invalid_record(io.BytesIO(data), "2.1")


def _by_iterparse(data: bytes) -> ImportFileError | None:
    handed_out: list[object] = []
    try:
        handed_out.extend(element.tag for _, element in safe_xml.iterparse(io.BytesIO(data)))
    except ImportFileError as error:
        assert handed_out == []  # refused before any element of the document
        return error
    return None


CALLERS: dict[str, Callable[[bytes], ImportFileError | None]] = {
    "read_edexml": _by_read_edexml,
    "locate_invalid_record": _by_locate_invalid_record,
    "safe_xml.iterparse": _by_iterparse,
}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    "document", ["a DOCTYPE", "an internal entity", "billion laughs", "an external entity", "an external DTD"]
)
def test_every_reader_refuses_a_document_type_declaration_and_reads_nothing_it_declares(
    caller: str, document: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)

    refusal = CALLERS[caller](_documents(secret)[document])

    assert refusal is not None, f"{caller} accepted a file with {document}"
    assert refusal.message == DOCTYPE_REFUSED
    assert SECRET not in "".join(traceback.format_exception(refusal)) + repr(refusal)


def test_a_file_without_a_doctype_streams_through_every_element() -> None:
    tags = [element.tag for _, element in safe_xml.iterparse(io.BytesIO(_current()))]

    assert tags[-1] == "EDEX"
    assert tags.count("leerling") == _current().count(b"<leerling ")


def _lxml_calls(path: Path) -> list[tuple[str, int, bool]]:
    """(function name, line, whether a parser is passed) of every call of an lxml `etree` function."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "etree"
        ):
            with_parser = len(node.args) >= 2 or any(keyword.arg == "parser" for keyword in node.keywords)
            calls.append((node.func.attr, node.lineno, with_parser))
    return calls


def test_no_module_but_safe_xml_builds_an_xml_parser_of_its_own() -> None:
    own_parsers = []
    for path in sorted((ROOT / "datasources").rglob("*.py")):
        if path.name == "safe_xml.py" and path.parent.name == "school_files":
            continue
        for name, line, with_parser in _lxml_calls(path):
            if name in _PARSER_FACTORIES or (name in _DOCUMENT_PARSERS and not with_parser):
                own_parsers.append(f"{path.relative_to(ROOT)}:{line} etree.{name}")

    assert own_parsers == []
