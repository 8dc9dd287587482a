"""A partner's pseudonyms keep their values: the HMAC-SHA-256 of ARCHITECTURE.md, computed any way."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from auth.identifiers import PartnerIdentifiers


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
