"""EDEXML 2.0 and 2.1, the export of a student administration (LAS), read safely and as a stream.

Safety first: a DOCTYPE is refused (so no entity is ever declared, expanded or fetched), the parser never
touches the network, keeps libxml2's limits on (no `huge_tree`; all of this in `safe_xml`) and reads at
most `max_bytes`. The file
is validated against the published schema of its version (`reference/edexml/<version>/`, see
`edexml_schemas`) while it streams: lxml plugs the validator into the parser, so memory stays at one
record plus the schema's key tables (about 7 MB for 10,000 students, where a whole tree costs about
50 MB). libxml2 knows no line numbers in that mode and reports schema errors only at the end, so the
checks a person most often trips over (keys, group references, codes, dates, the school year) run in
code with the record's line, and a schema error found at the end is located afterwards by validating the
records one by one (`locate_invalid_record`).

Only the fields of `SchoolFile` are read; everything else (BSN, gender, country, postcode, weight,
free text) stays in the parser's buffer until the record is cleared, and no message ever quotes a value
from the file: messages name the element, the key and the line.
"""

from __future__ import annotations

import collections
import io
import re
from typing import TYPE_CHECKING, BinaryIO, Final

from lxml import etree

from datasources.school_files import safe_xml
from datasources.school_files.checks import SchoolFileBuilder, check_school_year, parse_date, shown
from datasources.school_files.edexml_schemas import (
    KNOWN_BLOCK_TYPES,
    edexml_schemas,
    is_schema_error,
    locate_invalid_record,
    parser_error,
    schema_message,
)
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, ImportFileError
from datasources.school_files.safe_xml import DOCTYPE_REFUSED

if TYPE_CHECKING:
    import datetime as dt

    from datasources.school_files.model import SchoolFile

_CHUNK: Final = 64 * 1024
#: The children of EDEX in the order the schema requires them (school and leerlingen are mandatory).
_TOP_LEVEL: Final = ("school", "vestigingen", "groepen", "leerlingen", "leerkrachten")
_STUDENTS: Final = _TOP_LEVEL.index("leerlingen")
_CONTAINERS: Final = frozenset({"vestigingen", "groepen", "leerlingen", "leerkrachten"})
_RECORDS: Final = {
    ("groepen", "groep"),
    ("groepen", "samengestelde_groep"),
    ("leerlingen", "leerling"),
    ("leerkrachten", "leerkracht"),
    ("vestigingen", "vestiging"),
}
#: The simple children the hub reads; every other element of a record is never looked at.
_KEPT: Final = frozenset(
    {"achternaam", "voorvoegsel", "voornamen", "voorletters-1", "roepnaam", "naam", "jaargroep"}
    | {"geboortedatum", "emailadres", "schooljaar", "peildatum", "brincode", "dependancecode"}
)
_XSI_TYPE: Final = "{http://www.w3.org/2001/XMLSchema-instance}type"
#: A file without xsdversie is read as the newer version, which accepts every valid 2.0 file too.
_UNSTATED: Final[tuple[str, tuple[str, ...]]] = (
    "2.1",
    ("the file does not state its EDEXML version (xsdversie); it was read as 2.1",),
)


def read_edexml(source: bytes | BinaryIO, *, max_bytes: int = 50_000_000) -> SchoolFile:
    """Read one EDEXML 2.0 or 2.1 file (the version from its `xsdversie`; 2.1 when it states none).

    Raises ImportFileError, with the line where it is known, for anything the hub refuses: a file over
    `max_bytes`, malformed XML, a DOCTYPE or entity, a wrong or unsupported encoding, a schema violation,
    an unknown year-level code, a duplicate key, a reference to a group that is not in the file, a school
    year that is not two consecutive years. First name (first_name) is the roepnaam, or when the file has
    none the first of the given names (voornamen); staff whose only role is OUD (parent) are left out.
    """
    stream = _Source(source, max_bytes)
    version, warnings, root_line = _first_look(stream)
    stream.play_back()
    builder = SchoolFileBuilder(f"EDEXML {version}")
    for warning in warnings:
        builder.warn(warning)
    failure: ImportFileError | None = None
    try:
        return _read_records(stream, version, builder)
    except etree.XMLSyntaxError as error:
        failure = parser_error(error) if not is_schema_error(error) else None
        schema_text = schema_message(str(error.msg)) if failure is None else ""
    # Outside the except block, so that the refusal carries no lxml error (which quotes values) as context.
    if failure is not None:
        raise failure
    builder.check_references()
    located = locate_invalid_record(stream, version) if stream.rewind() else None
    # What no single record explains is about EDEX itself (an attribute, a missing list): its line.
    raise located or ImportFileError(
        schema_text, root_line if schema_text.startswith("element 'EDEX'") else None
    )


def _read_records(stream: _Source, version: str, builder: SchoolFileBuilder) -> SchoolFile:
    school: tuple[str, str, str, dt.date | None] | None = None
    place = -1
    unknown_blocks = 0
    for _, element in safe_xml.iterparse(stream, schema=edexml_schemas(version).document):
        parent = element.getparent()
        if parent is None:
            continue
        container = parent.getparent()
        if container is None:
            place = _check_place(element, place)
            if element.tag == "school":
                school = _school(element)
                unknown_blocks += _unknown_blocks(element)
            _clear(element)
        elif container.getparent() is None and parent.tag in _CONTAINERS:
            _add_record(builder, parent.tag, element)
            unknown_blocks += _unknown_blocks(element)
            _clear(element)
    if school is None:  # the schema has already refused a file without a school element
        raise ImportFileError("the file has no school element")
    if unknown_blocks:
        # Counted, never quoted: the block's type name and content come from the file.
        builder.warn(
            f"the file has {unknown_blocks} additional block(s) (toevoegingen) of a type the EDEXML schema"
            " does not define, such as an LVS block; the hub ignored them"
        )
    brin, location, year, reference_date = school
    return builder.build(brin=brin, location_code=location, school_year=year, reference_date=reference_date)


def _check_place(element: etree._Element, previous: int) -> int:
    """EDEX holds school, vestigingen, groepen, leerlingen, leerkrachten, each at most once, in this order.
    Checked here (not only by the schema) so that a misplaced list is named with its line."""
    tag = element.tag
    if tag not in _TOP_LEVEL:
        raise ImportFileError(f"element {shown(tag)} does not belong in EDEX", element.sourceline)
    index = _TOP_LEVEL.index(str(tag))
    if previous < _STUDENTS < index:
        raise ImportFileError(f"the file has no students (leerlingen) before '{tag}'", element.sourceline)
    if index <= previous or (previous < 0 and index > 0):
        raise ImportFileError(
            f"element '{tag}' is out of place: EDEX holds {', '.join(_TOP_LEVEL)}, each once and in this"
            " order (school first)",
            element.sourceline,
        )
    return index


def _add_record(builder: SchoolFileBuilder, container: object, record: etree._Element) -> None:
    kind = (container, record.tag)
    line = record.sourceline
    if kind not in _RECORDS:
        raise ImportFileError(f"element {shown(record.tag)} does not belong in {shown(container)}", line)
    if record.tag == "leerling":
        student, location = _student(record)
        if location is not None:
            builder.check_location(location, student.key, line)
        builder.add_student(student, line)
    elif record.tag == "leerkracht":
        builder.add_staff(_staff(record), line)
    elif record.tag == "vestiging":
        builder.add_location(_key(record), line)
    else:
        composite = record.tag == "samengestelde_groep"
        fields = _fields(record)
        builder.add_group(
            ImportedGroup(
                key=_key(record),
                name=fields.get("naam") or "",
                year_level=None if composite else fields.get("jaargroep"),
                composite=composite,
            ),
            line,
        )


def _student(record: etree._Element) -> tuple[ImportedStudent, str | None]:
    """The student and the key of its location (vestiging), which the hub checks but does not keep."""
    fields = _fields(record)
    main_group: str | None = None
    composite: list[str] = []
    location: str | None = None
    for child in record:
        if child.tag == "groep":
            main_group = child.get("key")
        elif child.tag == "samengestelde_groepen":
            composite.extend(ref.get("key") or "" for ref in child if ref.tag == "samengestelde_groep")
        elif child.tag == "vestiging":
            location = child.get("key")
    birth = fields.get("geboortedatum")
    student = ImportedStudent(
        key=_key(record),
        eck_id=record.get("eckid"),
        first_name=_first_name(fields),
        prefix=fields.get("voorvoegsel"),
        last_name=fields.get("achternaam") or "",
        initials=fields.get("voorletters-1"),
        date_of_birth=parse_date(birth, "geboortedatum", record.sourceline) if birth else None,
        year_level=fields.get("jaargroep"),
        main_group=main_group,
        composite_groups=tuple(composite),
    )
    return student, location


def _staff(record: etree._Element) -> ImportedStaff:
    fields = _fields(record)
    roles: list[str] = []
    groups: list[str] = []
    for child in record:
        if child.tag == "rol":
            roles.append(_text(child) or "")
        elif child.tag == "groepen":
            for ref in child:
                if ref.tag in ("groep", "samengestelde_groep"):
                    groups.append(ref.get("key") or "")
                    # A role per group (rol inside the group reference) is a role all the same.
                    roles.extend(_text(role) or "" for role in ref if role.tag == "rol")
    return ImportedStaff(
        key=_key(record),
        eck_id=record.get("eckid"),
        first_name=_first_name(fields),
        prefix=fields.get("voorvoegsel"),
        last_name=fields.get("achternaam") or "",
        email=fields.get("emailadres"),
        las_roles=tuple(dict.fromkeys(roles)),
        groups=tuple(dict.fromkeys(groups)),
    )


def _school(element: etree._Element) -> tuple[str, str, str, dt.date | None]:
    fields = _fields(element)
    year = check_school_year(fields.get("schooljaar") or "", _line_of(element, "schooljaar"))
    day = fields.get("peildatum")
    reference_date = parse_date(day, "peildatum", _line_of(element, "peildatum")) if day else None
    brin = fields.get("brincode")
    if not brin:
        raise ImportFileError(
            "the school has no BRIN code (brincode); the hub imports Dutch school locations only",
            element.sourceline,
        )
    # The schema: dependancecode "00" means the same as none.
    return brin, fields.get("dependancecode") or "00", year, reference_date


def _unknown_blocks(record: etree._Element) -> int:
    """The additional blocks (toevoegingen/blok) of `record` whose xsi:type the published schema does not
    define (an LVS vendor's own): the schema skips their content (edexml_schemas), the hub ignores them."""
    count = 0
    for block in record.iterfind("toevoegingen/blok"):
        block_type = str(block.get(_XSI_TYPE) or "").rpartition(":")[2]
        count += block_type not in KNOWN_BLOCK_TYPES
    return count


def _line_of(parent: etree._Element, tag: str) -> int | None:
    child = parent.find(tag)
    return (child if child is not None else parent).sourceline


def _fields(record: etree._Element) -> dict[str, str]:
    """The text of the record's simple children the hub reads (the first of each); nothing else is read."""
    fields: dict[str, str] = {}
    for child in record:
        tag = child.tag
        if isinstance(tag, str) and tag in _KEPT and tag not in fields:
            text = _text(child)
            if text is not None:
                fields[tag] = text
    return fields


def _first_name(fields: dict[str, str]) -> str | None:
    # The roepnaam is the name a person goes by; without one, the first given name is the best guess
    # (a roepnaam holds at most 64 characters, so a longer given name is not taken).
    if "roepnaam" in fields:
        return fields["roepnaam"]
    given = (fields.get("voornamen") or "").split()
    return given[0] if given and len(given[0]) <= 64 else None


def _key(record: etree._Element) -> str:
    key = record.get("key")
    if not key:
        raise ImportFileError(f"a {record.tag!s} element has no key attribute", record.sourceline)
    return key


def _text(element: etree._Element) -> str | None:
    # Nearly every element is a plain value: its .text, without walking the subtree.
    text = element.text if len(element) == 0 else "".join(element.itertext())
    return (text.strip() or None) if text else None


def _clear(element: etree._Element) -> None:
    """Free a processed element and the siblings before it, so the tree never holds more than a record."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _first_look(stream: _Source) -> tuple[str, tuple[str, ...], int | None]:
    """Read as far as the version the file states (xsdversie, in the school element), which picks the
    schema for the real pass; refuse a DOCTYPE or a root other than EDEX on the way. Returns the version,
    warnings, and the line of EDEX. Stops at the first element that is not part of the school element,
    and frees what it has passed, so a file in the wrong order is not built up in memory here."""
    parser = safe_xml.pull_parser()
    root: etree._Element | None = None
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk and root is None and not stream.kept().strip():
            raise ImportFileError("the file is empty")
        failure: ImportFileError | None = None
        try:
            if chunk:
                parser.feed(chunk)
            else:
                parser.close()
        except etree.XMLSyntaxError as error:
            found, line = safe_xml.declared_doctype(stream.kept())
            failure = ImportFileError(DOCTYPE_REFUSED, line) if found and root is None else None
            failure = failure or parser_error(error)
        if failure is not None:
            raise failure
        for event, element in parser.read_events():
            if root is None:
                root = _checked_root(element, stream)
            elif (version := _version_at(event, element, root)) is not None:
                return (*version, root.sourceline)
        if not chunk:
            return (*_UNSTATED, None)


def _version_at(
    event: str, element: etree._Element, root: etree._Element
) -> tuple[str, tuple[str, ...]] | None:
    """The version with its warnings once the first look has seen enough; else None, and what has been
    passed is freed."""
    parent = element.getparent()
    if event == "start":
        return _UNSTATED if parent is root and element.tag != "school" else None
    if element.tag == "xsdversie" and parent is not None and parent.getparent() is root:
        return _stated_version(element)
    if element is root or parent is root:
        return _UNSTATED
    element.clear(keep_tail=False)
    return None


def _checked_root(root: etree._Element, stream: _Source) -> etree._Element:
    if safe_xml.has_doctype(root):
        raise ImportFileError(DOCTYPE_REFUSED, safe_xml.declared_doctype(stream.kept())[1])
    if root.tag != "EDEX":
        raise ImportFileError(
            f"the root element is {shown(root.tag)} where EDEXML has EDEX (without a namespace):"
            " this is not an EDEXML file",
            root.sourceline,
        )
    return root


def _stated_version(stated: etree._Element) -> tuple[str, tuple[str, ...]]:
    value = _text(stated) or ""
    if match := re.fullmatch(r"2\.([01])(?:\.\d+)*", value):
        return f"2.{match.group(1)}", ()
    raise ImportFileError(
        f"the file is EDEXML version (xsdversie) {shown(value)}; the hub reads 2.0 and 2.1", stated.sourceline
    )


class _Source:
    """The file as lxml reads it: never more than `limit` bytes, what the first look read is handed out
    again for the real pass, and a further pass is possible when the source can be re-read."""

    def __init__(self, source: bytes | BinaryIO, limit: int) -> None:
        if isinstance(source, bytes | bytearray | memoryview):
            if len(source) > limit:
                raise _too_large(limit)
            source = io.BytesIO(source)
        self._file = source
        self._limit = limit
        self._start = source.tell() if source.seekable() else None
        self._count = 0
        self._kept: list[bytes] | None = []
        self._replay: collections.deque[bytes] = collections.deque()

    def read(self, size: int = -1) -> bytes:
        """At most `size` bytes (a chunk when unbounded); ImportFileError once the total passes the limit."""
        if self._replay:
            return self._replay.popleft()
        chunk = self._file.read(size if 0 < size <= _CHUNK else _CHUNK)
        self._count += len(chunk)
        if self._count > self._limit:
            raise _too_large(self._limit)
        if self._kept is not None:
            self._kept.append(chunk)
        return chunk

    def kept(self) -> bytes:
        """What the first look has read so far."""
        return b"".join(self._kept or ())

    def play_back(self) -> None:
        """Hand out what the first look read once more, then continue where it stopped."""
        self._replay.extend(self._kept or ())
        self._kept = None

    def rewind(self) -> bool:
        """Start again from the beginning; False when the source cannot be re-read."""
        if self._start is None:
            return False
        self._file.seek(self._start)
        self._count = 0
        self._replay.clear()
        return True


def _too_large(limit: int) -> ImportFileError:
    return ImportFileError(f"the file is larger than the limit of {limit:,} bytes")
