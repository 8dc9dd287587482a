"""The one way the hub parses XML it is handed (EDEXML, and the schemas it validates them with).

Every parser is built here with the same options: entities are never expanded (`resolve_entities=False`),
no DTD is loaded (`load_dtd=False`), nothing is fetched over the network (`no_network=True`) and libxml2's
limits stay on (`huge_tree=False`). On top of that, `iterparse` refuses a document that declares a DOCTYPE
at all: a DTD is where entities are declared (billion laughs, external entities that read other files), and
no school file needs one. The readers that parse a file in another way (`edexml`'s first look, which feeds
a pull parser) check the same with `has_doctype`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from lxml import etree

from datasources.school_files.model import ImportFileError

if TYPE_CHECKING:
    from collections.abc import Iterator

#: What every parser of the hub is built with (see the module docstring for why).
_OPTIONS: Final[dict[str, Any]] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
}

DOCTYPE_REFUSED: Final = (
    "the file contains a document type declaration (DOCTYPE); the hub refuses DTDs and entities"
    " (they can expand without bound or read other files): export the file again from the LAS"
)


def iterparse(source: Any, *, schema: etree.XMLSchema | None = None) -> Iterator[tuple[str, etree._Element]]:
    """The ("end", element) events of `source` (a file-like object), comments and processing instructions
    left out, validated against `schema` while it streams when one is given.

    Raises ImportFileError (without a line) when the document declares a DOCTYPE, before anything of it is
    handed out; lxml's XMLSyntaxError for XML that is not well-formed (or, with a schema, not valid).
    """
    events = etree.iterparse(
        source, events=("end",), schema=schema, remove_comments=True, remove_pis=True, **_OPTIONS
    )
    # The DOCTYPE precedes the root element, so the first event already knows about it; checking that one
    # only keeps the stream at lxml's own speed (the rest is delegated as is).
    for event, element in events:
        if has_doctype(element):
            raise ImportFileError(DOCTYPE_REFUSED)
        yield event, element
        break
    yield from events


def pull_parser() -> etree.XMLPullParser:
    """A parser to feed chunk by chunk, with "start" and "end" events; the caller checks `has_doctype`
    on its first element."""
    return etree.XMLPullParser(events=("start", "end"), **_OPTIONS)


def parser() -> etree.XMLParser:
    """A parser for `etree.parse` and `etree.fromstring` of trusted, shipped files (the EDEXML schemas)."""
    built: etree.XMLParser = etree.XMLParser(**_OPTIONS)  # typed here: the stubs lose it through **
    return built


def has_doctype(element: etree._Element) -> bool:
    """Whether the document of `element` declares a document type (internal subset or external DTD)."""
    info = element.getroottree().docinfo
    return bool(info.doctype) or info.internalDTD is not None or info.externalDTD is not None
