"""Rebuild a CDXJ index from a WARC file, and rescue WARCs a crash left open.

The WARC is the truth: everything the recorder puts in an index (including each article's
extraction result, kept in its metadata record) can be read back from the WARC alone.
"""

from __future__ import annotations

import json
import logging
import os
import re
import zlib
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator

from archive.warc import cdxj
from archive.warc.recorder import index_spill, metadata_fields, request_fields
from archive.warc.records import page_of

logger = logging.getLogger(__name__)

_CONTENT_LENGTH = re.compile(rb"\r\nContent-Length:\s*(\d+)\s*\r\n", re.IGNORECASE)
_CHUNK = 1 << 20


def _mime(record) -> str:
    value = record.http_headers.get_header("Content-Type") if record.http_headers else None
    return (value or "unk").split(";")[0].strip().lower() or "unk"


def index_warc(stream: BinaryIO, filename: str, warc_key: str) -> list[cdxj.CdxjEntry]:
    """The same entries the recorder wrote while writing the file (see archive.warc.recorder)."""
    entries: list[cdxj.CdxjEntry] = []
    fields_of: dict[str, dict] = {}  # response record ID -> its index fields (a POST adds some)
    by_id: dict[str, dict] = {}
    texts: dict[str, dict] = {}  # response record ID -> its conversion (text) record
    iterator = ArchiveIterator(stream)
    for record in iterator:
        headers = record.rec_headers
        kind = record.rec_type
        url = headers.get_header("WARC-Target-URI")
        payload = record.content_stream().read() if kind in ("metadata", "request") else None
        iterator.read_to_end()
        offset, length = iterator.get_record_offset(), iterator.get_record_length()
        date = headers.get_header("WARC-Date")
        record_id = headers.get_header("WARC-Record-ID")
        refers = headers.get_header("WARC-Refers-To")
        location = {"warc": warc_key, "offset": offset, "length": length}
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
            by_id[record_id] = location
            fields_of[record_id] = fields
        elif kind == "request":
            response = fields_of.pop(headers.get_header("WARC-Concurrent-To"), None)
            if response is not None and record.http_headers:
                content_type = record.http_headers.get_header("Content-Type")
                method = record.http_headers.protocol  # warcio's name for a request's method
                response.update(request_fields(method, content_type, payload or b""))
            continue
        elif kind == "conversion":
            texts[refers] = {**location, "id": record_id}
            continue
        elif kind == "metadata":
            text = texts.pop(refers, None)
            fields = {
                "mime": "application/json",
                "type": "metadata",
                "digest": headers.get_header("WARC-Payload-Digest"),
                "length": str(length),
                "offset": str(offset),
                "filename": filename,
                "id": record_id,
                "page": page_of(url),
                "refers_to": {**by_id.get(refers, {}), "id": refers},
                **({"text_record": text} if text else {}),
            }
            fields.update(metadata_fields(fields, json.loads(payload or b"{}")))
        else:
            continue
        entries.append(cdxj.CdxjEntry(url, cdxj.timestamp14(date), fields))
    return entries


def whole_records_length(stream: BinaryIO) -> int:
    """Bytes from the start of ``stream`` that are whole records: each gzip member must end
    (its CRC and size checked by zlib) and hold one WARC record of exactly its declared length.
    A crash or a full disk can leave the last member cut anywhere; everything after the first
    bad member is dropped."""
    good = 0
    pending = b""
    at_eof = False
    while True:
        inflater = zlib.decompressobj(wbits=31)
        record = bytearray()
        consumed = 0
        while not inflater.eof:
            if not pending:
                pending = stream.read(_CHUNK)
                if not pending:
                    at_eof = True
                    break
            try:
                record += inflater.decompress(pending)
            except zlib.error:
                return good
            used = len(pending) - len(inflater.unused_data)
            consumed += used
            pending = inflater.unused_data
        if not inflater.eof or not _is_whole_record(bytes(record)):
            if consumed or not at_eof:
                logger.warning("WARC cut short after %d bytes", good)
            return good
        good += consumed


def _is_whole_record(data: bytes) -> bool:
    head, sep, _ = data.partition(b"\r\n\r\n")
    match = _CONTENT_LENGTH.search(head + b"\r\n")
    if not data.startswith(b"WARC/") or not sep or match is None:
        return False
    return len(data) == len(head) + 4 + int(match.group(1)) + 4


def rescue_open_warc(path: Path, warc_key: str) -> tuple[Path, Path] | None:
    """Seal a ``<key>.open`` file left by a crashed run: keep the whole records, index them.

    The index is written before the rename, as when a live run seals a file. Returns (warc
    path, index path), or None when no whole record survived (the file is removed). The dead
    writer's index lines (archive.warc.recorder's spill file) are not trusted: deleted.
    """
    index_spill(path).unlink(missing_ok=True)
    with path.open("rb") as stream:
        keep = whole_records_length(stream)
    if keep:
        with path.open("r+b") as stream:
            stream.truncate(keep)
            os.fsync(stream.fileno())
    sealed = path.with_name(path.name.removesuffix(".open"))
    index = write_index(path, sealed.name, warc_key) if keep else None
    if index is None or not index.stat().st_size:  # a warcinfo record alone: nothing to keep
        if index is not None:
            index.unlink()
        path.unlink()
        return None
    os.replace(path, sealed)
    return sealed, index


def write_index(warc_path: Path, filename: str, warc_key: str) -> Path:
    """Index a closed WARC in the spool into ``<name>.cdxj`` beside it (atomically)."""
    with warc_path.open("rb") as stream:
        entries = index_warc(stream, filename, warc_key)
    index = warc_path.with_name(filename.removesuffix(".warc.gz") + ".cdxj")
    tmp = index.with_name(index.name + ".tmp")
    tmp.write_bytes(cdxj.render(entries))
    os.replace(tmp, index)
    return index
