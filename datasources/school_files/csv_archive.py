"""The CSV template sent as one upload: a ZIP of its files, unpacked safely into a temporary folder."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from datasources.school_files.csv_folder import read_csv_folder
from datasources.school_files.model import ImportFileError, SchoolFile

#: The files of the template (reference/csv-template/README.md); nothing else is unpacked.
TEMPLATE_FILES = frozenset({"school.csv", "groups.csv", "students.csv", "staff.csv"})
ZIP_MAGIC = b"PK\x03\x04"


def is_zip(content: bytes) -> bool:
    """Whether an upload is a ZIP archive (the CSV template) rather than an EDEXML file."""
    return content.startswith(ZIP_MAGIC)


def read_csv_archive(content: bytes, *, max_bytes: int) -> SchoolFile:
    """The school file of a ZIP of the CSV template. Only the template's file names are read (at any folder
    depth, never written by their own paths), and the unpacked size is capped, so an archive can neither
    write outside the temporary folder nor unpack into a bomb."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise ImportFileError("the upload is neither an EDEXML file nor a ZIP of the CSV template") from None
    with archive, tempfile.TemporaryDirectory(prefix="leerpoort-csv-") as folder:
        unpacked = 0
        for entry in archive.infolist():
            name = Path(entry.filename).name
            if entry.is_dir() or name not in TEMPLATE_FILES:
                continue
            unpacked += entry.file_size
            if unpacked > max_bytes:
                raise ImportFileError(f"the archive unpacks to more than {max_bytes:,} bytes")
            with archive.open(entry) as source:
                data = source.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise ImportFileError(f"the archive unpacks to more than {max_bytes:,} bytes")
            (Path(folder) / name).write_bytes(data)
        return read_csv_folder(Path(folder), max_bytes=max_bytes)
