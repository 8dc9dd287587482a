"""The CSV template sent as one upload: a ZIP of its files, unpacked safely into a temporary folder."""

from __future__ import annotations

import io
import tempfile
import zipfile
import zlib
from pathlib import Path

from datasources.school_files.csv_folder import read_csv_folder
from datasources.school_files.model import ImportFileError, SchoolFile

#: The files of the template (reference/csv-template/README.md); nothing else is unpacked.
TEMPLATE_FILES = frozenset({"school.csv", "groups.csv", "students.csv", "staff.csv"})
ZIP_MAGIC = b"PK\x03\x04"
#: The general-purpose flag bit of an entry stored encrypted (APPNOTE.TXT 4.4.4).
_ENCRYPTED = 0x1


def is_zip(content: bytes) -> bool:
    """Whether an upload is a ZIP archive (the CSV template) rather than an EDEXML file."""
    return content.startswith(ZIP_MAGIC)


def read_csv_archive(content: bytes, *, max_bytes: int) -> SchoolFile:
    """The school file of a ZIP of the CSV template. Only the template's file names are read (at any folder
    depth, never written by their own paths), and the unpacked size is capped, so an archive can neither
    write outside the temporary folder nor unpack into a bomb."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):  # a damaged central directory
        raise ImportFileError("the upload is neither an EDEXML file nor a ZIP of the CSV template") from None
    with archive, tempfile.TemporaryDirectory(prefix="leerpoort-csv-") as folder:
        unpacked = 0
        for entry in archive.infolist():
            name = Path(entry.filename).name
            if entry.is_dir() or name not in TEMPLATE_FILES:
                continue
            if unpacked + entry.file_size > max_bytes:
                raise ImportFileError(f"the archive unpacks to more than {max_bytes:,} bytes")
            # The sizes an archive declares may lie: what is actually unpacked counts against the cap.
            data = _unpacked(archive, entry, room=max_bytes - unpacked, cap=max_bytes)
            unpacked += len(data)
            (Path(folder) / name).write_bytes(data)
        return read_csv_folder(Path(folder), max_bytes=max_bytes)


def _unpacked(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, *, room: int, cap: int) -> bytes:
    """An entry's bytes, at most `room` of them (what is left of the archive's `cap`). A file that cannot
    be unpacked (encrypted, an unknown compression method, corrupt data, a checksum that does not match)
    is refused, saying which."""
    name = Path(entry.filename).name
    if entry.flag_bits & _ENCRYPTED:
        raise ImportFileError(f"{name} in the archive is encrypted: send the archive without a password")
    try:
        with archive.open(entry) as source:
            data = source.read(room + 1)
    except NotImplementedError:
        raise ImportFileError(
            f"{name} in the archive uses a compression method the hub does not read: use deflate"
        ) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError):
        # zipfile reports a damaged entry in all of these, depending on where the damage is.
        raise ImportFileError(f"{name} in the archive is damaged and cannot be unpacked") from None
    if len(data) > room:
        raise ImportFileError(f"the archive unpacks to more than {cap:,} bytes")
    return data
