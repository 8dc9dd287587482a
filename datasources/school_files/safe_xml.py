"""The one way the hub parses XML it is handed (EDEXML, and the schemas it validates them with).

Every parser is built here with the same options: entities are never expanded (`resolve_entities=False`),
no DTD is loaded (`load_dtd=False`), nothing is fetched over the network (`no_network=True`) and libxml2's
limits stay on (`huge_tree=False`). On top of that, `iterparse` refuses a document that declares a DOCTYPE
at all: a DTD is where entities are declared (billion laughs, external entities that read other files), and
no school file needs one. The readers that parse a file in another way (`edexml`'s first look, which feeds
a pull parser) check the same with `has_doctype`, and `declared_doctype` on the bytes read so far.

libxml2 2.14 (lxml 6.2) may stop inside the DTD already, with "maximum entity amplification factor exceeded",
before any element exists to ask about its DOCTYPE. Such an error before the first element is therefore
judged by the bytes read so far (`declared_doctype`): a file with a DOCTYPE gets the same refusal whichever
libxml2 checks first.
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

#: "<!DOCTYPE" as it appears in the bytes of a file in an ASCII-based encoding, in UTF-16 LE and in UTF-16 BE.
_DOCTYPE_TOKENS: Final = (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))
#: How much of the start of a file `iterparse` keeps to judge an error before the first element: a DOCTYPE
#: comes before the root element, so only a prolog longer than this could hide one (and it is refused anyway,
#: as a syntax error or by `has_doctype`).
_HEAD_BYTES: Final = 1 << 20

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
    head = _Head(source)
    events = etree.iterparse(
        head, events=("end",), schema=schema, remove_comments=True, remove_pis=True, **_OPTIONS
    )
    # The DOCTYPE precedes the root element, so the first event already knows about it; checking that one
    # only keeps the stream at lxml's own speed (the rest is delegated as is).
    try:
        first = next(events, None)
    except etree.XMLSyntaxError:
        if declared_doctype(head.kept())[0]:
            raise ImportFileError(DOCTYPE_REFUSED) from None
        raise
    if first is None:
        return
    if has_doctype(first[1]):
        raise ImportFileError(DOCTYPE_REFUSED)
    head.forget()
    yield first
    yield from events


def pull_parser() -> etree.XMLPullParser:
    """A parser to feed chunk by chunk, with "start" and "end" events; the caller checks `has_doctype`
    on its first element."""
    return etree.XMLPullParser(events=("start", "end"), **_OPTIONS)


def parser() -> etree.XMLParser:
    """A parser for `etree.parse` and `etree.fromstring` of trusted, shipped files (the EDEXML schemas)."""
    built: etree.XMLParser = etree.XMLParser(**_OPTIONS)  # typed here: the stubs lose it through **
    return built


def declared_doctype(prefix: bytes) -> tuple[bool, int | None]:
    """Whether the first bytes of a file hold a DOCTYPE, and its line (counted for ASCII-based encodings)."""
    for index, token in enumerate(_DOCTYPE_TOKENS):
        at = prefix.find(token)
        if at >= 0:
            return True, prefix.count(b"\n", 0, at) + 1 if index == 0 else None
    return False, None


class _Head:
    """`source` as lxml reads it, with its first bytes kept until `forget` (for `declared_doctype`)."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self._kept: list[bytes] | None = []
        self._size = 0

    def read(self, size: int = -1, /) -> bytes:
        chunk: bytes = self._source.read(size)
        if self._kept is not None and self._size < _HEAD_BYTES:
            self._kept.append(chunk)
            self._size += len(chunk)
        return chunk

    def kept(self) -> bytes:
        return b"".join(self._kept or ())

    def forget(self) -> None:
        self._kept = None


def has_doctype(element: etree._Element) -> bool:
    """Whether the document of `element` declares a document type (internal subset or external DTD)."""
    info = element.getroottree().docinfo
    return bool(info.doctype) or info.internalDTD is not None or info.externalDTD is not None
