"""A partner's pseudonyms keep their values: the HMAC-SHA-256 of ARCHITECTURE.md, computed any way."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from auth.identifiers import KEPT_PARTNERS, PartnerIdentifiers, kept_partner_identifiers


def test_pseudonyms_are_the_keyed_hash_of_the_person_per_partner() -> None:
    master = b"k" * 32
    cases = [(1, "student", 7), (2, "student", 7), (1, "staff", 2**40)]
    cases += [(partner, "student", person * 7919) for partner in (3, 10**6) for person in range(50)]
    for partner_id, kind, person_id in cases:
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=96,
            salt=None,
            info=f"leerpoort/partner/{partner_id}/v1".encode(),
        ).derive(master)[64:]
        expected = hmac.new(key, f"{kind}:{person_id}".encode(), hashlib.sha256).digest()[:16].hex()
        identifiers = PartnerIdentifiers(partner_id, master)
        assert identifiers.pseudonym(kind, person_id) == expected
        assert identifiers.pseudonym(kind, person_id) == expected  # remembered, still the same
    assert PartnerIdentifiers(1, master).pseudonym("student", 7) != PartnerIdentifiers(2, master).pseudonym(
        "student", 7
    )


def test_kept_identifiers_are_per_partner_and_key_and_give_fresh_values() -> None:
    master, other_key = b"k" * 32, b"o" * 32
    kept = kept_partner_identifiers(11, master)
    assert kept_partner_identifiers(11, master) is kept  # the next request of the partner: the same memory
    assert kept_partner_identifiers(12, master) is not kept  # another partner never reads this one's
    assert kept_partner_identifiers(11, other_key) is not kept  # nor does the same partner under another key
    fresh = PartnerIdentifiers(11, master)
    for person in range(20):
        assert kept.show("Student", person) == fresh.show("Student", person)
        assert kept.pseudonym("student", person) == fresh.pseudonym("student", person)
    assert kept_partner_identifiers(11, other_key).show("Student", 1) != kept.show("Student", 1)
    # Bounded: only the most recently used partners are kept.
    for partner in range(100, 100 + KEPT_PARTNERS + 1):
        kept_partner_identifiers(partner, master)
    assert kept_partner_identifiers(11, master) is not kept
