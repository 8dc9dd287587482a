"""Paths of the reference data the tests read (shipped in the repository, see reference/README.md)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: A byte-identical copy of the real DUO export of 778 school locations.
DUO_FILE = ROOT / "reference" / "duo" / "vestigingen-bo-2013-drenthe-flevoland-groningen.csv"
