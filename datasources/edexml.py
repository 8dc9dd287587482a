"""EDEXML 2.0 and 2.1, the export of a student administration (LAS), read safely and as a stream.

Safety first: a DOCTYPE is refused (so no entity is ever declared, expanded or fetched), the parser never
touches the network, keeps libxml2's limits on (no `huge_tree`) and reads at most `max_bytes`. The file
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

from datasources.edexml_checks import SchoolFileBuilder, check_school_year, parse_date, shown
from datasources.edexml_schemas import edexml_schemas, locate_invalid_record, schema_message
from datasources.school_files import ImportedGroup, ImportedStaff, ImportedStudent, ImportFileError

if TYPE_CHECKING:
    from datasources.school_files import SchoolFile

_CHUNK: Final = 64 * 1024
#: The children of EDEX in the order the schema requires them (school and leerlingen are mandatory).
_TOP_LEVEL: Final = ("school", "vestigingen", "groepen", "leerlingen", "leerkrachten")
_RECORDS: Final = {
    ("groepen", "groep"),
    ("groepen", "samengestelde_groep"),
    ("leerlingen", "leerling"),
    ("leerkrachten", "leerkracht"),
    ("vestigingen", "vestiging"),
}
_NAME_PARTS: Final = frozenset({"achternaam", "voorvoegsel", "voornamen", "voorletters-1", "roepnaam"})
_DOCTYPE_TOKENS: Final = (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))
_ERROR_NAMES: Final = {code: name for name, code in vars(etree.ErrorTypes).items() if isinstance(code, int)}
_SYNTAX_MESSAGES: Final = {
    "ERR_DOCUMENT_EMPTY": "the file is empty",
    "ERR_INVALID_ENCODING": "the file contains bytes that are not valid in its character encoding"
    " (UTF-8 unless its XML declaration says otherwise); save it as UTF-8",
    "ERR_INVALID_CHAR": "the file contains a character that XML does not allow",
    "ERR_UNDECLARED_ENTITY": "the file uses an entity that is not defined; the hub expands no entities",
    "ERR_RESOURCE_LIMIT": "the file exceeds a limit of the XML parser (entity expansion, nesting or size)",
    "ERR_TAG_NAME_MISMATCH": "an end tag does not match its start tag",
    "ERR_TAG_NOT_FINISHED": "an element is not closed before the file ends",
    "ERR_DOCUMENT_END": "there is content after the end of the EDEX element",
}
_DOCTYPE_REFUSED: Final = (
    "the file contains a document type declaration (DOCTYPE); the hub refuses DTDs and entities"
    " (they can expand without bound or read other files): export the file again from the LAS"
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
    version, warnings = _first_look(stream)
    stream.play_back()
    builder = SchoolFileBuilder(f"EDEXML {version}")
    for warning in warnings:
        builder.warn(warning)
    failure: ImportFileError | None = None
    try:
        return _read_records(stream, version, builder)
    except etree.XMLSyntaxError as error:
        failure = _syntax_failure(error) if not _is_schema_error(error) else None
        schema_text = schema_message(str(error.msg)) if failure is None else ""
    # Outside the except block, so that the refusal carries no lxml error (which quotes values) as context.
    if failure is not None:
        raise failure
    builder.check_references()
    located = locate_invalid_record(stream, version) if stream.rewind() else None
    raise located or ImportFileError(schema_text)


def _read_records(stream: _Source, version: str, builder: SchoolFileBuilder) -> SchoolFile:
    school: tuple[str, str, str, str | None] | None = None
    place = -1
    for _, element in etree.iterparse(
        stream,
        events=("end",),
        schema=edexml_schemas(version).document,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    ):
        parent = element.getparent()
        if parent is None:
            continue
        container = parent.getparent()
        if container is None:
            place = _check_place(element, place)
            if element.tag == "school":
                school = _school(element)
            _clear(element)
        elif container.getparent() is None:
            _add_record(builder, parent.tag, element)
            _clear(element)
    if school is None:  # the schema has already refused a file without a school element
        raise ImportFileError("the file has no school element")
    brin, location, year, reference_date = school
    return builder.build(
        brin=brin,
        location_code=location,
        school_year=year,
        reference_date=parse_date(reference_date, "peildatum", None) if reference_date else None,
    )


def _check_place(element: etree._Element, previous: int) -> int:
    """EDEX holds school, vestigingen, groepen, leerlingen, leerkrachten, each at most once, in this order.
    Checked here (not only by the schema) so that a misplaced list is named with its line."""
    tag = element.tag
    if tag not in _TOP_LEVEL:
        raise ImportFileError(f"element {shown(tag)} does not belong in EDEX", element.sourceline)
    index = _TOP_LEVEL.index(str(tag))
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
        builder.add_student(_student(record), line)
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


def _student(record: etree._Element) -> ImportedStudent:
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
    return ImportedStudent(
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
        location=location,
    )


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


def _school(element: etree._Element) -> tuple[str, str, str, str | None]:
    fields = _fields(element)
    year_element = element.find("schooljaar")
    line = year_element.sourceline if year_element is not None else element.sourceline
    year = check_school_year(fields.get("schooljaar") or "", line)
    brin = fields.get("brincode")
    if not brin:
        raise ImportFileError(
            "the school has no BRIN code (brincode); the hub imports Dutch school locations only",
            element.sourceline,
        )
    # The schema: dependancecode "00" means the same as none.
    return brin, fields.get("dependancecode") or "00", year, fields.get("peildatum")


def _fields(record: etree._Element) -> dict[str, str]:
    """The text of the record's simple children the hub reads (the first of each); nothing else is read."""
    fields: dict[str, str] = {}
    for child in record:
        tag = child.tag
        if isinstance(tag, str) and tag not in fields and (tag in _NAME_PARTS or tag in _KEPT):
            text = _text(child)
            if text is not None:
                fields[tag] = text
    return fields


_KEPT: Final = frozenset(
    {"naam", "jaargroep", "geboortedatum", "emailadres", "schooljaar", "peildatum", "brincode"}
    | {"dependancecode"}
)


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
        raise ImportFileError(f"a {record.tag} element has no key attribute", record.sourceline)
    return key


def _text(element: etree._Element) -> str | None:
    return "".join(element.itertext()).strip() or None


def _clear(element: etree._Element) -> None:
    """Free a processed element and the siblings before it, so the tree never holds more than a record."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _first_look(stream: _Source) -> tuple[str, tuple[str, ...]]:
    """Read up to the end of the school element: refuse a DOCTYPE or a root other than EDEX, and find the
    version the file states (xsdversie), which picks the schema for the real pass."""
    parser = etree.XMLPullParser(
        events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    root: etree._Element | None = None
    while True:
        chunk = stream.read(_CHUNK)
        failure: ImportFileError | None = None
        try:
            if chunk:
                parser.feed(chunk)
            else:
                parser.close()
        except etree.XMLSyntaxError as error:
            doctype = root is None and _doctype_line(stream.kept()) is not False
            failure = ImportFileError(_DOCTYPE_REFUSED, _line(stream)) if doctype else _syntax_failure(error)
        if failure is not None:
            raise failure
        for event, element in parser.read_events():
            if root is None:
                root = element
                _check_root(root, stream)
            elif event == "end" and (element is root or element.getparent() is root):
                return _stated_version(element)
        if not chunk:
            return "2.1", ()


def _check_root(root: etree._Element, stream: _Source) -> None:
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise ImportFileError(_DOCTYPE_REFUSED, _line(stream))
    if root.tag != "EDEX":
        raise ImportFileError(
            f"the root element is {shown(root.tag)} where EDEXML has EDEX (without a namespace):"
            " this is not an EDEXML file",
            root.sourceline,
        )


def _stated_version(first: etree._Element) -> tuple[str, tuple[str, ...]]:
    stated = first.find("xsdversie") if first.tag == "school" else None
    value = _text(stated) if stated is not None else None
    if value is None:
        return "2.1", ("the file does not state its EDEXML version (xsdversie); it was read as 2.1",)
    if match := re.fullmatch(r"2\.([01])(?:\.\d+)*", value):
        return f"2.{match.group(1)}", ()
    raise ImportFileError(
        f"the file is EDEXML version (xsdversie) {shown(value)}; the hub reads 2.0 and 2.1",
        stated.sourceline if stated is not None else None,
    )


def _line(stream: _Source) -> int | None:
    found = _doctype_line(stream.kept())
    return found or None


def _doctype_line(prefix: bytes) -> int | bool:
    """The line of a DOCTYPE in the bytes read so far; True when there is one in UTF-16, False when none."""
    for index, token in enumerate(_DOCTYPE_TOKENS):
        at = prefix.find(token)
        if at >= 0:
            return prefix.count(b"\n", 0, at) + 1 if index == 0 else True
    return False


def _is_schema_error(error: etree.XMLSyntaxError) -> bool:
    return _ERROR_NAMES.get(error.code, "").startswith("SCHEMAV")


def _syntax_failure(error: etree.XMLSyntaxError) -> ImportFileError:
    """libxml2's messages may quote bytes of the file (a name cut in half by a bad encoding): say what is
    wrong in our own words and keep only libxml2's error name and line."""
    name = _ERROR_NAMES.get(error.code, "")
    message = _SYNTAX_MESSAGES.get(name)
    if name == "ERR_UNSUPPORTED_ENCODING":
        found = re.search(r"encoding:? ([A-Za-z0-9._:-]{1,40})\s*$", str(error.msg))
        encoding = f" ({found.group(1)})" if found else ""
        message = f"the file's character encoding{encoding} is not supported; save it as UTF-8"
    return ImportFileError(message or f"the file is not well-formed XML ({name or error.code})", error.lineno)


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
