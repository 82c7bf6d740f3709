"""Rebuild a CDXJ index from a WARC file, and rescue WARCs a crash left open.

The WARC is the truth: everything the recorder puts in an index (including each article's
extraction result, kept in its metadata record) can be read back from the WARC alone.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archive import cdxj

logger = logging.getLogger(__name__)


def _mime(record) -> str:
    value = record.http_headers.get_header("Content-Type") if record.http_headers else None
    return (value or "unk").split(";")[0].strip().lower() or "unk"


def index_warc(stream: BinaryIO, filename: str, warc_key: str) -> list[cdxj.CdxjEntry]:
    """The same entries the recorder wrote while writing the file (see archive.recorder)."""
    entries: list[cdxj.CdxjEntry] = []
    by_id: dict[str, dict] = {}
    iterator = ArchiveIterator(stream)
    for record in iterator:
        headers = record.rec_headers
        kind = record.rec_type
        url = headers.get_header("WARC-Target-URI")
        payload = record.content_stream().read() if kind == "metadata" else None
        iterator.read_to_end()
        offset, length = iterator.get_record_offset(), iterator.get_record_length()
        date = headers.get_header("WARC-Date")
        record_id = headers.get_header("WARC-Record-ID")
        if kind in ("response", "revisit"):
            fields = {
                "mime": "warc/revisit" if kind == "revisit" else _mime(record),
                "status": str(record.http_headers.get_statuscode()),
                "digest": headers.get_header("WARC-Payload-Digest"),
                "length": str(length),
                "offset": str(offset),
                "filename": filename,
                "id": record_id,
                "date": date,
            }
            by_id[record_id] = {"warc": warc_key, "offset": offset, "length": length}
        elif kind == "metadata":
            refers = headers.get_header("WARC-Refers-To")
            fields = {
                "mime": "application/json",
                "type": "metadata",
                "digest": headers.get_header("WARC-Payload-Digest"),
                "length": str(length),
                "offset": str(offset),
                "filename": filename,
                "refers_to": {**by_id.get(refers, {}), "id": refers},
                **json.loads(payload or b"{}"),
            }
        else:
            continue
        entries.append(cdxj.CdxjEntry(url, cdxj.timestamp14(date), fields))
    return entries


def complete_length(path: Path) -> int:
    """Bytes of ``path`` that hold whole records (a crash can cut the last one short)."""
    good = 0
    with path.open("rb") as stream:
        iterator = ArchiveIterator(stream)
        try:
            for _record in iterator:
                iterator.read_to_end()
                good = iterator.get_record_offset() + iterator.get_record_length()
        except (ArchiveLoadFailed, EOFError, OSError, ValueError) as exc:
            logger.warning("%s: cut short after %d bytes (%s)", path, good, exc)
    return good


def rescue_open_warc(path: Path, warc_key: str) -> tuple[Path, Path] | None:
    """Seal a ``<key>.open`` file left by a crashed run: keep the whole records, index them.

    Returns (warc path, index path), or None when no whole record survived.
    """
    keep = complete_length(path)
    if keep == 0:
        path.unlink()
        return None
    with path.open("r+b") as stream:
        stream.truncate(keep)
    sealed = path.with_name(path.name.removesuffix(".open"))
    os.replace(path, sealed)
    with sealed.open("rb") as stream:
        entries = index_warc(stream, sealed.name, warc_key)
    index = sealed.with_name(sealed.name.removesuffix(".warc.gz") + ".cdxj")
    index.write_bytes(cdxj.render(entries))
    return sealed, index
