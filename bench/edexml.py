"""Benchmark of the EDEXML reader: `read_edexml` against a bare `lxml.etree.parse` of the same bytes.

    python bench/edexml.py [--students 1000,10000] [--repeat 3] [--json]

For each size the script generates a synthetic EDEXML 2.1 file shaped like a LAS export (one element per
line, 25 students a group, a teacher per 12 students, and the fields the hub drops: gender, country, BSN,
postcode, weight, free text), then in the same run times

- `read_edexml` (streaming, validated against the 2.1 schema, mapped to a `SchoolFile`),
- a bare `etree.parse` (the same safe parser options, no schema, nothing mapped): the floor,
- `etree.parse` plus `XMLSchema.validate` of the whole tree: what validating without streaming costs,

each the fastest of `--repeat` runs, and the peak memory of each for the largest file, measured in a child
process per variant (VmHWM over the child's own baseline after it has read the file's bytes), because
libxml2 allocates outside Python's allocator and tracemalloc would not see it. Names are random
combinations of common name parts (datasources/sandbox/names.py); no record describes a real person.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lxml import etree

from bench.harness import reset_peak, status_mb
from datasources.sandbox.names import PREFIXES, STAFF_FIRST_NAMES, STUDENT_FIRST_NAMES, SURNAMES
from datasources.school_files import safe_xml
from datasources.school_files.edexml import read_edexml
from datasources.school_files.edexml_schemas import edexml_schemas

if TYPE_CHECKING:
    from collections.abc import Callable

VARIANTS = ("read_edexml", "parse", "parse+validate")


def generate_edexml(students: int, *, seed: int = 1, school_year: str = "2025-2026") -> bytes:
    """A synthetic EDEXML 2.1 file of `students` students, deterministic for a seed."""
    rng = random.Random(seed)
    prefixes = [prefix for prefix, weight in PREFIXES for _ in range(weight)] + [""] * 68
    groups = max(1, students // 25)
    out = io.StringIO()
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write('<EDEX xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n\t<school>\n')
    out.write(f"\t\t<schooljaar>{school_year}</schooljaar>\n\t\t<brincode>99ZZ</brincode>\n")
    out.write("\t\t<dependancecode>00</dependancecode>\n\t\t<xsdversie>2.1</xsdversie>\n\t</school>\n")
    out.write("\t<groepen>\n")
    for number in range(groups):
        year = number % 8 + 1
        out.write(
            f'\t\t<groep key="G{number}">\n\t\t\t<naam>Groep {year}{chr(65 + number // 8 % 26)}</naam>\n'
        )
        out.write(f"\t\t\t<jaargroep>{year}</jaargroep>\n\t\t</groep>\n")
    out.write(
        '\t\t<samengestelde_groep key="PLUS">\n\t\t\t<naam>Plusklas</naam>\n\t\t</samengestelde_groep>\n'
    )
    out.write("\t</groepen>\n\t<leerlingen>\n")
    for number in range(students):
        group = number % groups
        first, prefix = rng.choice(STUDENT_FIRST_NAMES), rng.choice(prefixes)
        out.write(
            f'\t\t<leerling key="{100000 + number}" eckid="https://id.school/LL_{rng.getrandbits(96):024x}">\n'
        )
        out.write(f"\t\t\t<achternaam>{rng.choice(SURNAMES)}</achternaam>\n")
        if prefix:
            out.write(f"\t\t\t<voorvoegsel>{prefix}</voorvoegsel>\n")
        out.write(f"\t\t\t<voornamen>{first} {rng.choice(STUDENT_FIRST_NAMES)}</voornamen>\n")
        out.write(f"\t\t\t<voorletters-1>{first[0]}</voorletters-1>\n\t\t\t<roepnaam>{first}</roepnaam>\n")
        out.write(f"\t\t\t<geboortedatum>{2014 + number % 8}-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}")
        out.write(f"</geboortedatum>\n\t\t\t<geslacht>{rng.choice('12')}</geslacht>\n")
        out.write(f'\t\t\t<jaargroep>{group % 8 + 1}</jaargroep>\n\t\t\t<groep key="G{group}"/>\n')
        if number % 10 == 0:
            out.write('\t\t\t<samengestelde_groepen>\n\t\t\t\t<samengestelde_groep key="PLUS"/>\n')
            out.write("\t\t\t</samengestelde_groepen>\n")
        out.write(f"\t\t\t<land>NL</land>\n\t\t\t<bsn>{rng.randint(100_000_000, 999_999_999)}</bsn>\n")
        out.write(f"\t\t\t<gewicht_nieuw>0</gewicht_nieuw>\n\t\t\t<postcodenl>{rng.randint(1000, 9999)}AB")
        out.write('</postcodenl>\n\t\t\t<toevoegingen>\n\t\t\t\t<blok xsi:type="OpmerkingGegevensType">\n')
        out.write("\t\t\t\t\t<code>Notitie</code>\n\t\t\t\t\t<opmerking>Synthetisch</opmerking>\n")
        out.write("\t\t\t\t</blok>\n\t\t\t</toevoegingen>\n\t\t</leerling>\n")
    out.write("\t</leerlingen>\n\t<leerkrachten>\n")
    for number in range(max(1, students // 12)):
        first = rng.choice(STAFF_FIRST_NAMES)
        out.write(
            f'\t\t<leerkracht key="T{number}">\n\t\t\t<achternaam>{rng.choice(SURNAMES)}</achternaam>\n'
        )
        out.write(f"\t\t\t<roepnaam>{first}</roepnaam>\n")
        out.write(f"\t\t\t<emailadres>t{number}@school.example</emailadres>\n\t\t\t<rol>LRK</rol>\n")
        out.write(f'\t\t\t<groepen>\n\t\t\t\t<groep key="G{number % groups}"/>\n\t\t\t</groepen>\n')
        out.write("\t\t</leerkracht>\n")
    out.write("\t</leerkrachten>\n</EDEX>\n")
    return out.getvalue().encode("utf-8")


def _bare_parse(data: bytes) -> etree._ElementTree:
    return etree.parse(io.BytesIO(data), safe_xml.parser())


def _parse_and_validate(data: bytes) -> bool:
    return edexml_schemas("2.1").document.validate(_bare_parse(data))


def _run(variant: str, data: bytes) -> object:
    work: dict[str, Callable[[bytes], object]] = {
        "read_edexml": read_edexml,
        "parse": _bare_parse,
        "parse+validate": _parse_and_validate,
    }
    return work[variant](data)


def _fastest(variant: str, data: bytes, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = _run(variant, data)
        best = min(best, time.perf_counter() - start)
        del result
    return best


def _child(variant: str, path: str) -> None:
    """Run one variant on a file in this (fresh) process and print its peak memory over the baseline."""
    edexml_schemas("2.1")  # compiled before the baseline: a running hub has it already
    data = Path(path).read_bytes()
    reset_peak()
    baseline = status_mb("self", "VmHWM")
    result = _run(variant, data)
    if variant == "parse+validate" and result is not True:
        raise SystemExit("the generated file does not validate")
    print(json.dumps({"peak_mb": status_mb("self", "VmHWM") - baseline, "baseline_mb": baseline}))


def _peak_mb(variant: str, data: bytes) -> float:
    with tempfile.NamedTemporaryFile(suffix=".xml") as file:
        file.write(data)
        file.flush()
        output = subprocess.run(  # noqa: S603 - this very script, run by this interpreter
            [sys.executable, __file__, "--child", variant, file.name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return float(json.loads(output)["peak_mb"])


def main() -> None:
    """Parse the arguments, measure, print the table (and JSON lines with --json)."""
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--students", default="1000,10000", help="comma-separated file sizes")
    arguments.add_argument("--repeat", type=int, default=3, help="runs per variant; the fastest counts")
    arguments.add_argument("--json", action="store_true", help="also print one JSON line per size")
    arguments.add_argument("--child", nargs=2, metavar=("VARIANT", "FILE"), help=argparse.SUPPRESS)
    options = arguments.parse_args()
    if options.child:
        _child(*options.child)
        return
    sizes = [int(size) for size in options.students.split(",")]
    edexml_schemas("2.1")
    print(f"{'students':>9} {'file MB':>8} " + " ".join(f"{v + ' s':>17}" for v in VARIANTS) + "  read/parse")
    for students in sizes:
        data = generate_edexml(students)
        school = read_edexml(data)
        assert len(school.students) == students, "the reader lost students"
        seconds = {variant: _fastest(variant, data, options.repeat) for variant in VARIANTS}
        ratio = seconds["read_edexml"] / seconds["parse"]
        row = " ".join(f"{seconds[v]:>17.3f}" for v in VARIANTS)
        print(f"{students:>9,} {len(data) / 1e6:>8.2f} {row}  {ratio:>9.1f}x")
        figures: dict[str, object] = {"students": students, "bytes": len(data), "seconds": seconds}
        if students == max(sizes):
            peaks = {variant: _peak_mb(variant, data) for variant in VARIANTS}
            figures["peak_mb"] = peaks
            print(
                f"{'':>9} peak MB over baseline ({students:,} students): "
                + ", ".join(f"{v} {peaks[v]:.1f}" for v in VARIANTS)
            )
        if options.json:
            print(json.dumps(figures))


if __name__ == "__main__":
    main()
