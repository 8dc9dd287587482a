"""How identifiers leave the hub: the hub's own ids for its staff, per-partner values for partners.

A partner never sees an internal id. For each partner, two keys are derived from the hub's pseudonym key:
- ids (Relay global ids) are the internal id sealed with deterministic authenticated encryption (AES-SIV,
  the entity type as associated data): stable, different per partner, unforgeable, and reversible by the
  hub alone, so `node` and `_entities` resolve them without an index;
- cursors (a position in a connection or in the change feed) are sealed the same way under associated data
  of their own, so a partner's cursor tells nothing of row ids or hub-wide counts, cannot be joined with
  another partner's, and means nothing when another partner (or the hub's staff) presents it;
- pseudonyms are a keyed hash (HMAC-SHA-256) of the person's identity: one-way, stable across imports,
  school years, mergers and splits, and different per partner, so two partners cannot join on them.
The key material never rotates without a migration that keeps every partner's values (ARCHITECTURE.md).
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_ID_BYTES: Final = 8
_MAX_SHOWN: Final = 64
#: The hub's staff get readable cursors: base64url of this prefix and the number.
_HUB_CURSOR_PREFIX: Final = "c1:"
#: A number of more digits than this (2**63 has 19) cannot be a key of the database.
_MAX_DIGITS: Final = 19
#: The first associated-data component of a sealed cursor; an id has one component (its entity type),
#: a cursor two, so neither is ever accepted as the other.
_CURSOR: Final = b"cursor"
#: 128 bits of HMAC output, hex: long enough never to collide, short enough to store and index.
_PSEUDONYM_BYTES: Final = 16
#: SHA-256's block size: an HMAC key of at most this many bytes is padded to it (the derived key has 32).
_SHA256_BLOCK: Final = 64
#: How many shown ids and pseudonyms one `PartnerIdentifiers` remembers. The same row is often shown
#: again within a request (a group for each of its students, a feed event's entity and then its node)
#: and across requests: a partner's identifiers are kept between its requests (`kept_partner_identifiers`),
#: so its next full sync seals and hashes nothing it was shown before. Past this many the memory starts
#: afresh, so it stays bounded (~40 MB per 100,000 people, ids and pseudonyms together).
MEMO_SIZE: Final = 100_000
#: How many partners' identifiers the process keeps between requests, the most recently used first.
#: Memory is at most this times `MEMO_SIZE` of each; a partner past it derives its keys again, with the
#: very same values (they are deterministic), and starts remembering afresh.
KEPT_PARTNERS: Final = 2


class Identifiers(Protocol):
    """Turns row ids into what a viewer is shown, and back."""

    def show(self, entity_type: str, row_id: int) -> str:
        """The identifier of a row as this viewer sees it."""
        ...

    def resolve(self, entity_type: str, shown: str) -> int | None:
        """The row id behind an identifier this viewer was shown, or None for anything else."""
        ...

    def pseudonym(self, kind: str, person_id: int) -> str | None:
        """The person's pseudonym for this viewer, or None when the viewer gets none."""
        ...

    def cursor(self, position: str, key: int) -> str:
        """The opaque cursor of a non-negative key in a kind of position (`position`: "page", "feed")."""
        ...

    def cursor_key(self, position: str, cursor: str) -> int | None:
        """The key inside a cursor this viewer was given for that kind of position, or None otherwise."""
        ...


class HubIdentifiers:
    """The hub's own staff see the hub's own row ids and no pseudonyms."""

    def show(self, entity_type: str, row_id: int) -> str:
        """The row id as text."""
        del entity_type
        return str(row_id)

    def resolve(self, entity_type: str, shown: str) -> int | None:
        """The row id, when `shown` is a plain ASCII number."""
        del entity_type
        if not (shown.isascii() and shown.isdigit()) or len(shown) > 18 or shown != str(int(shown)):
            return None  # only the canonical spelling: "01" is not another name for 1
        return int(shown)

    def pseudonym(self, kind: str, person_id: int) -> str | None:
        """Staff of the hub are not a partner: no pseudonym."""
        del kind, person_id
        return None

    def cursor(self, position: str, key: int) -> str:
        """The key, readable (the hub's staff see row ids anyway): base64url of "c1:<key>"."""
        del position
        return base64.urlsafe_b64encode(f"{_HUB_CURSOR_PREFIX}{key}".encode()).decode().rstrip("=")

    def cursor_key(self, position: str, cursor: str) -> int | None:
        """The key of a hub cursor; a partner's sealed cursor (or anything else) is None."""
        del position
        if len(cursor) > _MAX_SHOWN or not cursor.isascii():
            return None
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        except (binascii.Error, UnicodeError, ValueError):
            return None
        number = text.removeprefix(_HUB_CURSOR_PREFIX)
        if not text.startswith(_HUB_CURSOR_PREFIX) or not number.isdigit() or len(number) > _MAX_DIGITS:
            return None
        return int(number)


class PartnerIdentifiers:
    """Identifiers sealed for one partner with keys derived from the hub's pseudonym key."""

    __slots__ = ("_inner", "_outer", "_pseudonyms", "_sealer", "_shown", "partner_id")

    def __init__(self, partner_id: int, master_key: bytes) -> None:
        material = HKDF(
            algorithm=hashes.SHA256(),
            length=96,
            salt=None,
            info=f"leerpoort/partner/{partner_id}/v1".encode(),
        ).derive(master_key)
        self.partner_id = partner_id
        self._sealer = AESSIV(material[:64])
        # HMAC-SHA-256 (RFC 2104) with the key's padded blocks hashed once: a pseudonym then costs two
        # copies of a SHA-256 state, a third of `hmac.new`'s price, with the very same bytes (a test pins it).
        block = material[64:].ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in block))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in block))
        # Deterministic values, so remembering them changes nothing but their cost.
        self._shown: dict[tuple[str, int], str] = {}
        self._pseudonyms: dict[tuple[str, int], str] = {}

    def __repr__(self) -> str:
        return f"PartnerIdentifiers(partner_id={self.partner_id})"

    def show(self, entity_type: str, row_id: int) -> str:
        """The row id sealed for this partner and entity type (sealed once per row while remembered)."""
        key = (entity_type, row_id)
        shown = self._shown.get(key)
        if shown is None:
            sealed = self._sealer.encrypt(row_id.to_bytes(_ID_BYTES, "big"), [entity_type.encode()])
            shown = base64.urlsafe_b64encode(sealed).decode().rstrip("=")
            _remember(self._shown, key, shown)
        return shown

    def resolve(self, entity_type: str, shown: str) -> int | None:
        """The row id inside a value this partner was shown for this type; None for anything else
        (another partner's value, another type's value, a forged or damaged value)."""
        if len(shown) > _MAX_SHOWN or not shown.isascii():
            return None
        try:
            sealed = base64.urlsafe_b64decode(shown + "=" * (-len(shown) % 4))
            plain = self._sealer.decrypt(sealed, [entity_type.encode()])
        except (binascii.Error, ValueError, InvalidTag):
            return None
        return int.from_bytes(plain, "big") if len(plain) == _ID_BYTES else None

    def cursor(self, position: str, key: int) -> str:
        """The key sealed for this partner and kind of position: one AES-SIV operation per cursor."""
        sealed = self._sealer.encrypt(key.to_bytes(_ID_BYTES, "big"), [_CURSOR, position.encode()])
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def cursor_key(self, position: str, cursor: str) -> int | None:
        """The key inside a cursor this partner was given for this kind of position; None for another
        partner's cursor, a hub cursor, another kind of position's, or a forged or damaged one."""
        if len(cursor) > _MAX_SHOWN or not cursor.isascii():
            return None
        try:
            sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            plain = self._sealer.decrypt(sealed, [_CURSOR, position.encode()])
        except (binascii.Error, ValueError, InvalidTag):
            return None
        return int.from_bytes(plain, "big") if len(plain) == _ID_BYTES else None

    def pseudonym(self, kind: str, person_id: int) -> str:
        """The person's pseudonym for this partner (`kind` keeps students' and staff's apart); hashed once
        per person while remembered."""
        key = (kind, person_id)
        found = self._pseudonyms.get(key)
        if found is None:
            inner = self._inner.copy()
            inner.update(f"{kind}:{person_id}".encode())
            outer = self._outer.copy()
            outer.update(inner.digest())
            digest = outer.digest()
            found = digest[:_PSEUDONYM_BYTES].hex()
            _remember(self._pseudonyms, key, found)
        return found


def global_id(type_name: str, shown_id: str) -> str:
    """The opaque global (Relay) id of an object: its type and the identifier this viewer sees, as the
    graph shows it in `id` (schema.relay) and the single sign-on's claims name groups."""
    return base64.urlsafe_b64encode(f"{type_name}:{shown_id}".encode()).decode().rstrip("=")


def decode_global_id(text: str) -> tuple[str, str] | None:
    """The (type, identifier) inside a global id of `global_id`, or None when it is not one this hub
    issued (not base64url, not "Type:identifier")."""
    try:
        decoded = base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return None
    type_name, separator, shown_id = decoded.partition(":")
    if not separator or not type_name.isalpha() or not shown_id:
        return None
    return type_name, shown_id


def _remember(memo: dict[tuple[str, int], str], key: tuple[str, int], value: str) -> None:
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    memo[key] = value


_kept: collections.OrderedDict[tuple[int, bytes], PartnerIdentifiers] = collections.OrderedDict()


def kept_partner_identifiers(partner_id: int, master_key: bytes) -> PartnerIdentifiers:
    """The identifiers of a partner, kept between its requests (at most `KEPT_PARTNERS` partners): ids and
    pseudonyms computed once per person while remembered. Keyed by the partner and a digest of the key,
    so another partner, or another key, never gets another's instance; the values are those a fresh
    `PartnerIdentifiers` gives."""
    key = (partner_id, hashlib.sha256(master_key).digest())
    found = _kept.get(key)
    if found is not None:
        _kept.move_to_end(key)
        return found
    made = _kept[key] = PartnerIdentifiers(partner_id, master_key)
    while len(_kept) > KEPT_PARTNERS:
        _kept.popitem(last=False)
    return made
