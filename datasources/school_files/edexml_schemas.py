"""The EDEXML schemas as the hub validates with them, and parser and schema errors in words that quote
nothing from the file.

The XSDs are the published ones, shipped byte-identical in `reference/edexml/<version>/`, so the hub
validates on a machine without the design folder and without the network. One deliberate deviation
(see `shared/data/SOURCES.md`): `EDEXSchooljaarType` is an enumeration that ends at 2024-2025, so it is
replaced, in memory and before compiling, by the pattern YYYY-YYYY; that the years are consecutive is
checked in code (`check_school_year`). A second one: the content of the optional additional blocks
(`toevoegingen`) is not validated but skipped, because LAS and LVS vendors fill them with block types of
their own (`<blok xsi:type="...">`, as the public examples do) that the published schema does not define,
and the hub reads nothing of them (free text it must never keep); the reader warns about the blocks whose
type the schema does not know (`KNOWN_BLOCK_TYPES`). Everything else is compiled as published.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from lxml import etree

from datasources.school_files import safe_xml
from datasources.school_files.model import ImportFileError

if TYPE_CHECKING:
    from collections.abc import Iterator

SCHEMA_DIR: Final = Path(__file__).resolve().parents[2] / "reference" / "edexml"
VERSIONS: Final = ("2.0", "2.1")
_FILES: Final = (
    "EDEXML.structuur.xsd",
    "EDEXML.elementen.xsd",
    "EDEXML.types.vast.xsd",
    "EDEXML.types.variabel.xsd",
)
_XS: Final = "{http://www.w3.org/2001/XMLSchema}"
#: The published structure, plus each record type as a global element, so that a single record can be
#: validated on its own (with lines) once the streaming validation has said that something is wrong.
_RECORD_SCHEMA: Final = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:include schemaLocation="EDEXML.structuur.xsd"/>
  <xs:element name="school" type="SchoolType"/>
  <xs:element name="vestiging" type="VestigingType"/>
  <xs:element name="groep" type="GroepType"/>
  <xs:element name="samengestelde_groep" type="SamengesteldeGroepType"/>
  <xs:element name="leerling" type="LeerlingType"/>
  <xs:element name="leerkracht" type="LeerkrachtType"/>
</xs:schema>"""
#: The block types (extensions of ToevoegingsBlokType) that the published schemas define, 2.0 and 2.1 alike.
KNOWN_BLOCK_TYPES: Final = frozenset({"OpmerkingGegevensType"})
_VALIDATING: Final = threading.Lock()
_CONTAINERS: Final = frozenset({"vestigingen", "groepen", "leerlingen", "leerkrachten"})
_NAME: Final = r"[A-Za-z_][\w.:-]{0,63}"
_ERROR_NAMES: Final = {code: name for name, code in vars(etree.ErrorTypes).items() if isinstance(code, int)}
_SYNTAX_MESSAGES: Final = {
    "ERR_DOCUMENT_EMPTY": "the file is empty",
    "ERR_INVALID_ENCODING": "the file contains bytes that are not valid in its character encoding"
    " (UTF-8 unless its XML declaration says otherwise); save it as UTF-8",
    "ERR_INVALID_CHAR": "the file contains a character that XML does not allow",
    "ERR_UNDECLARED_ENTITY": "the file uses an entity that is not defined; the hub expands no entities",
    "ERR_RESOURCE_LIMIT": "the file exceeds a limit of the XML parser (entity expansion, nesting or size)",
    "ERR_TAG_NAME_MISMATCH": "an end tag does not match its start tag",
    "ERR_GT_REQUIRED": "a tag is not closed with '>'",
    "ERR_NAME_REQUIRED": "a '<' or '&' is not followed by a name (write &lt; or &amp; for the character)",
    "ERR_ENTITYREF_SEMICOL_MISSING": "an '&' does not start an entity such as &amp; (write &amp; for '&')",
    "ERR_ATTRIBUTE_WITHOUT_VALUE": "an attribute has no value",
    "ERR_LT_IN_ATTRIBUTE": "an attribute value contains '<' (write &lt;)",
    "ERR_TAG_NOT_FINISHED": "an element is not closed before the file ends",
    "ERR_DOCUMENT_END": "there is content after the end of the EDEX element",
}


@dataclass(frozen=True)
class EdexmlSchemas:
    """The compiled schemas of one EDEXML version."""

    #: The whole file, as published (but for the school year).
    document: etree.XMLSchema
    #: One record (school, vestiging, groep, samengestelde_groep, leerling, leerkracht) on its own.
    records: etree.XMLSchema


@functools.cache
def edexml_schemas(version: str) -> EdexmlSchemas:
    """The schemas of EDEXML `version` ("2.0" or "2.1"), compiled once per process (about 0.1 s)."""
    if version not in VERSIONS:
        raise ValueError(f"EDEXML {version} is not shipped; the hub has {', '.join(VERSIONS)}")
    directory = SCHEMA_DIR / version
    parser = safe_xml.parser()
    parser.resolvers.add(_SchemaFiles(directory))
    structure = etree.parse(str(directory / _FILES[0]), parser)
    records = etree.fromstring(_RECORD_SCHEMA, parser, base_url=str(directory / "records.xsd"))
    return EdexmlSchemas(etree.XMLSchema(structure), etree.XMLSchema(records))


class _SchemaFiles(etree.Resolver):
    """Serves the schema's includes from the shipped folder, the school-year type patched."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._directory = directory

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        """The shipped file that `system_url` names; nothing else is ever loaded."""
        name = (system_url or "").replace("\\", "/").rsplit("/", 1)[-1]
        if name not in _FILES:
            raise LookupError(f"the EDEXML schema includes {name!r}, which is not shipped")
        content = (self._directory / name).read_bytes()
        if name == "EDEXML.types.variabel.xsd":
            content = _school_year_as_pattern(content)
        elif name == "EDEXML.elementen.xsd":
            content = _additional_blocks_skipped(content)
        return self.resolve_string(content, context, base_url=str(self._directory / name))


def _school_year_as_pattern(content: bytes) -> bytes:
    document = etree.fromstring(content, safe_xml.parser())
    restriction = document.find(f"{_XS}simpleType[@name='EDEXSchooljaarType']/{_XS}restriction")
    if restriction is None:
        raise LookupError("EDEXSchooljaarType is missing from EDEXML.types.variabel.xsd")
    for facet in list(restriction):
        restriction.remove(facet)
    etree.SubElement(restriction, f"{_XS}pattern", value="[0-9]{4}-[0-9]{4}")
    return etree.tostring(document)


def _additional_blocks_skipped(content: bytes) -> bytes:
    """Each `toevoegingen` holds any elements, unvalidated (a skip wildcard): the hub ignores them."""
    document = etree.fromstring(content, safe_xml.parser())
    sequences = document.findall(f".//{_XS}element[@name='toevoegingen']/{_XS}complexType/{_XS}sequence")
    if not sequences:
        raise LookupError("toevoegingen is missing from EDEXML.elementen.xsd")
    for sequence in sequences:
        for particle in list(sequence):
            sequence.remove(particle)
        etree.SubElement(sequence, f"{_XS}any", minOccurs="0", maxOccurs="unbounded", processContents="skip")
    return etree.tostring(document)


def locate_invalid_record(stream: _Readable, version: str) -> ImportFileError | None:
    """Read the file once more and validate record by record, so that the refusal names the line; None
    when no single record is at fault (the overall structure, which the reader checks itself, or a key
    reference, which the builder checks). A file that is not well-formed after all (libxml2 may report
    the schema's complaint about a stray character before the character itself) gets the parser's error."""
    schema = edexml_schemas(version).records
    try:
        for element in _records(stream):
            # The schema object keeps the error log of its last validation: one validation at a time, so
            # that a refusal in another thread cannot swap the log under this one.
            with _VALIDATING:
                entry = None if schema.validate(element) else schema.error_log[0]
            if entry is not None:
                return ImportFileError(schema_message(entry.message), entry.line or element.sourceline)
    except etree.XMLSyntaxError as error:
        failure = parser_error(error)
    except ImportFileError as refusal:  # a DOCTYPE (safe_xml)
        failure = refusal
    else:
        return None
    return failure  # returned outside the except block: the lxml error, which may quote values, stays behind


def _records(stream: _Readable) -> Iterator[etree._Element]:
    """The school element and every record of a list, each freed after the caller has looked at it."""
    for _, element in safe_xml.iterparse(stream):
        parent = element.getparent()
        container = parent.getparent() if parent is not None else None
        if parent is None or (container is None and element.tag != "school"):
            continue
        if container is None or (container.getparent() is None and parent.tag in _CONTAINERS):
            yield element
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                del parent[0]


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def is_schema_error(error: etree.XMLSyntaxError) -> bool:
    """Whether lxml raised `error` for the schema (while streaming) rather than for the XML itself."""
    return _ERROR_NAMES.get(error.code, "").startswith("SCHEMAV")


def parser_error(error: etree.XMLSyntaxError) -> ImportFileError:
    """libxml2's messages may quote bytes of the file (a name cut in half by a bad encoding): say what is
    wrong in our own words and keep only libxml2's error name and line."""
    name = _ERROR_NAMES.get(error.code, "")
    message = _SYNTAX_MESSAGES.get(name)
    if name == "ERR_UNSUPPORTED_ENCODING":
        found = re.match(r"Unsupported encoding:? ([A-Za-z0-9._:-]{1,40})(?:[,\s]|\Z)", str(error.msg))
        encoding = f" ({found.group(1)})" if found else ""
        message = f"the file's character encoding{encoding} is not supported; save it as UTF-8"
    return ImportFileError(message or f"the file is not well-formed XML ({name or error.code})", error.lineno)


def schema_message(message: str) -> str:
    """A libxml2 schema error in words that never quote a value from the file.

    libxml2 quotes the offending value ("'2006-16-21' is not a valid value ..."), and a value may contain
    quotes itself, so nothing is passed through by cutting out values: the message is matched against
    the forms libxml2 uses, and only names from the schema (elements, attributes, types, facets, limits)
    are taken over. Anything else becomes a general sentence about the element."""
    head = re.match(rf"Element '({_NAME})'(?:, attribute '({_NAME})')?: (.*)\Z", message, re.DOTALL)
    if head is None:
        if message.startswith("No matching global declaration available for the validation root"):
            return "the root element is not EDEX: this is not an EDEXML file"
        return "the file does not match the EDEXML schema"
    element, attribute, rest = head.groups()
    where = f"element '{element}'" + (f", attribute '{attribute}'" if attribute else "")
    return f"{where}: {_problem(rest.strip())}"


def _problem(rest: str) -> str:
    fixed = {
        "This element is not expected.": "this element is not expected here",
        "Character content other than whitespace is not allowed because the content type is"
        " 'element-only'.": "text is not allowed here, only elements",
        "Element content is not allowed, because the content type is a simple type definition.": (
            "elements are not allowed inside, only a value"
        ),
    }
    if rest in fixed:
        return fixed[rest]
    names = r"\( ([\w.:, -]{1,2000}) \)"
    patterns: tuple[tuple[str, str], ...] = (
        (rf"This element is not expected\. Expected is (?:one of )?{names}\.", "expected instead: {0}"),
        (rf"Missing child element\(s\)\. Expected is (?:one of )?{names}\.", "missing child element: {0}"),
        (rf"The attribute '({_NAME})' is required but missing\.", "the attribute '{0}' is required"),
        (rf"The attribute '({_NAME})' is not allowed\.", "the attribute '{0}' is not allowed"),
        (
            rf".* is not a valid value of the (?:local )?(?:atomic|list|union) type '({_NAME})'\.",
            "the value is not a valid {0}",
        ),
        (
            r"\[facet 'enumeration'\] .* is not an element of the set \{.*\}\.",
            "the value is not one of the codes the schema allows",
        ),
        (
            r"\[facet 'pattern'\] .* is not accepted by the pattern '(.{1,200})'\.",
            "the value does not have the form the schema requires ({0})",
        ),
        (
            r"\[facet 'maxLength'\] .* this exceeds the allowed maximum length of '(\d+)'\.",
            "the value is longer than {0} characters",
        ),
        (
            r"\[facet 'minLength'\] .* this underruns the allowed minimum length of '(\d+)'\.",
            "the value is shorter than {0} character(s)",
        ),
        (r"\[facet '(\w+)'\] .*", "the value does not satisfy the schema's {0} rule"),
        (
            rf"Duplicate key-sequence \[.*\] in (?:key|unique) identity-constraint '({_NAME})'\.",
            "a duplicate value where the schema requires unique ones ({0})",
        ),
        (
            rf"No match found for key-sequence \[.*\] of keyref '({_NAME})'\.",
            "a reference to a key that is not in the file ({0})",
        ),
    )
    for pattern, words in patterns:
        match = re.fullmatch(pattern, rest, re.DOTALL)
        if match:
            return words.format(*match.groups())
    return "does not match the EDEXML schema"
