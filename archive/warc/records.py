"""Writing WARC records: one HTTP exchange at a time, one gzip member per record.

The library half of the archiver: it takes plain values (an :class:`Exchange`, dicts) and a file
object, never a Scrapy object, so tests can pin the clock and the record IDs and compare bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from archive import faults

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]

# Headers describing how the bytes travelled, not what they are. The body we store is de-chunked,
# so a "chunked" header over it would make the record unreadable; the original value is kept
# under pywb's X-Archive-Orig- prefix so nothing the server said is lost.
_TRANSFER_HEADERS = {b"transfer-encoding"}


# Records about a page (its extracted text, its extraction result) are not the page: under the
# page's own URL pywb and a WACZ would serve them in its place at a nearby timestamp. They are
# named like Browsertrix's ``urn:text:<url>`` / ``urn:pageinfo:<url>`` records instead, so replay
# tools index them apart from the page, and the page URL still reads off the name.
TEXT_URN = "urn:text:"
EXTRACTION_URN = "urn:extraction:"


def page_of(target_uri: str) -> str:
    """The page a text or metadata record is about (older records name the page itself)."""
    for prefix in (TEXT_URN, EXTRACTION_URN):
        if target_uri.startswith(prefix):
            return target_uri.removeprefix(prefix)
    return target_uri


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def payload_digest(body: bytes) -> str:
    """The WARC-Payload-Digest warcio writes for ``body`` (SHA-1, base32)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and the response as the server sent it (decompression not applied)."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes
    request_body: bytes = b""
    protocol: str = "HTTP/1.1"
    ip_address: str | None = None
    date: datetime | None = None
    truncated: str | None = None  # WARC-Truncated reason ("length", "time"): the body was cut
    # The status line and header lines exactly as received, through the empty line that ends
    # them (crawler/rawhttp.py), and a chunked body's trailer lines; without them the head is
    # rebuilt from the parsed headers.
    http_head: bytes = b""
    trailers: bytes = b""


@dataclass(frozen=True)
class RecordRef:
    """Where a record landed: enough to read it back with one ranged GET."""

    warc: str  # file name (the store key is derived by the writer's caller)
    offset: int
    length: int
    record_id: str
    date: str
    digest: str | None = None
    extra: dict = field(default_factory=dict)


class HttpHead(StatusAndHeaders):
    """An HTTP head that warcio writes as exactly these bytes.

    warcio would rebuild the head from its parsed view and percent-encode every non-ASCII byte,
    so a raw UTF-8 ``Location`` would no longer resolve on replay. The parsed view (latin-1: one
    character per byte, so nothing is lost) is for warcio's readers; the bytes are what is
    written and digested.
    """

    def __init__(self, raw: bytes, *, is_http_request: bool = False):
        first, *rest = (line.rstrip("\r") for line in raw.decode("latin-1").split("\n"))
        headers: list[tuple[str, str]] = []
        for line in rest:
            if line[:1] in (" ", "\t") and headers:  # a folded line continues the field
                headers[-1] = (headers[-1][0], f"{headers[-1][1]} {line.strip()}")
            elif ":" in line:
                name, value = line.split(":", 1)
                headers.append((name.strip(), value.strip()))
        if is_http_request:
            super().__init__(first, headers, is_http_request=True)
        else:
            protocol, _, statusline = first.partition(" ")
            super().__init__(statusline, headers, protocol=protocol)
        self.headers_buff = raw

    def compute_headers_buffer(self, header_filter=None) -> None:
        """Keep the bytes: warcio calls this before writing a record."""


def _bytes(text: str) -> bytes:
    # Header text reached us decoded as latin-1 (one character per byte): encoding it back gives
    # the bytes sent. Anything wider was never on the wire as such; UTF-8 is its best form.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _lines(raw: bytes) -> list[bytes]:
    """Lines ending in LF, ends kept, as an HTTP parser splits them (not on a lone CR, and not
    on the 0x85 that UTF-8 encodings hold, as str.splitlines would)."""
    *lines, last = raw.split(b"\n")
    return [line + b"\n" for line in lines] + ([last] if last else [])


def _fields(lines: list[bytes]) -> list[list[bytes]]:
    """Header lines grouped per field: a folded line (leading space or tab) joins the one above."""
    fields: list[list[bytes]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    return fields


def _field_name(field: list[bytes]) -> bytes:
    return field[0].split(b":", 1)[0].strip().lower()


def _field_value(field: list[bytes]) -> bytes:
    return b"".join(field).partition(b":")[2].strip()


def response_head(exchange: Exchange) -> bytes:
    """The response's status line and header lines as received (or rebuilt from the parsed
    headers when the raw head is not known), made consistent with the stored body.

    The body is stored de-chunked, so ``Transfer-Encoding`` (and a ``Content-Length`` that does
    not match) keep their lines under pywb's ``X-Archive-Orig-`` prefix, and a matching
    ``Content-Length`` is added at the end; trailer fields of a chunked body follow as
    ``X-Archive-Trailer-<name>``. Every other byte (status line, reason phrase, header names,
    case, order, values, line ends) is as received.
    """
    if exchange.http_head:
        status, *lines = _lines(exchange.http_head)
        end = lines.pop() if lines and not lines[-1].strip() else b"\r\n"
    else:
        try:
            reason = HTTPStatus(exchange.status).phrase
        except ValueError:
            reason = "Unknown"
        protocol = exchange.protocol or "HTTP/1.1"
        status = _bytes(f"{protocol} {exchange.status} {reason}\r\n")
        lines = [_bytes(f"{name}: {value}\r\n") for name, value in exchange.response_headers]
        end = b"\r\n"
    length = str(len(exchange.body)).encode()
    eol = b"\r\n" if status.endswith(b"\r\n") else b"\n"  # added lines end like the others
    out, has_length = [status], False
    for lines_of_field in _fields(lines):
        name = _field_name(lines_of_field)
        if name in _TRANSFER_HEADERS or (
            name == b"content-length" and (has_length or _field_value(lines_of_field) != length)
        ):
            lines_of_field = [b"X-Archive-Orig-" + lines_of_field[0], *lines_of_field[1:]]
        elif name == b"content-length":
            has_length = True
        out += lines_of_field
    out += [b"X-Archive-Trailer-" + line for line in _lines(exchange.trailers)]
    if not has_length:
        out.append(b"Content-Length: " + length + eol)
    return b"".join(out) + end


def response_status_and_headers(exchange: Exchange) -> StatusAndHeaders:
    """HTTP headers for the response record (see :func:`response_head`)."""
    return HttpHead(response_head(exchange))


def request_status_and_headers(exchange: Exchange) -> StatusAndHeaders:
    parts = urlsplit(exchange.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [("Host", parts.netloc)]
    headers += [(k, v) for k, v in exchange.request_headers if k.lower() != "host"]
    if exchange.request_body:
        headers.append(("Content-Length", str(len(exchange.request_body))))
    lines = [f"{exchange.method} {target} {exchange.protocol or 'HTTP/1.1'}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers]
    return HttpHead(b"".join(map(_bytes, lines)) + b"\r\n", is_http_request=True)


class WarcFileWriter:
    """Appends records to one open WARC file object and reports where each one landed.

    Each record is built in memory as one gzip member and written with a single ``write``; if
    that fails (a full disk, an I/O error) the stream is cut back to where the record began, so
    the file only ever holds whole records, and the error goes to the caller.
    """

    def __init__(
        self,
        fileobj: BinaryIO,
        filename: str,
        *,
        clock: Clock = utc_now,
        new_id: IdFactory = new_record_id,
        warc_version: str = "1.1",
    ):
        self.filename = filename
        self._out = fileobj
        self._version = warc_version
        self._writer = WARCWriter(BytesIO(), gzip=True, warc_version=warc_version)  # builds records
        self._clock = clock
        self._new_id = new_id

    def _date(self, when: datetime | None = None) -> str:
        when = (when or self._clock()).astimezone(UTC).replace(tzinfo=None)
        return datetime_to_iso_date(when, use_micros=True)

    def _write(self, record, compressed_payload: int = 0) -> RecordRef:
        """Append ``record`` as one gzip member; its last ``compressed_payload`` bytes before
        the closing CRLFs are a payload compressed already (see :func:`gzip_member`)."""
        raw = BytesIO()
        WARCWriter(raw, gzip=False, warc_version=self._version).write_record(record)
        data = gzip_member(raw.getvalue(), compressed_payload)
        offset = self._out.tell()
        try:
            self._out.write(data)
            self._out.flush()
            faults.point("warc.record")
        except BaseException:
            self._out.seek(offset)
            self._out.truncate()
            raise
        headers = record.rec_headers
        return RecordRef(
            warc=self.filename,
            offset=offset,
            length=len(data),
            record_id=headers.get_header("WARC-Record-ID"),
            date=headers.get_header("WARC-Date"),
            digest=headers.get_header("WARC-Payload-Digest"),
        )

    def write_warcinfo(self, info: dict[str, str]) -> RecordRef:
        record = self._writer.create_warcinfo_record(self.filename, info)
        record.rec_headers.replace_header("WARC-Record-ID", self._new_id())
        record.rec_headers.replace_header("WARC-Date", self._date())
        return self._write(record)

    def write_exchange(
        self, exchange: Exchange, *, revisit_of: RecordRef | None = None, revisit_uri: str = ""
    ) -> tuple[RecordRef, RecordRef]:
        """Write the response (or a revisit of ``revisit_of``), then the request.

        Returns ``(response_ref, request_ref)``; the two are linked by WARC-Concurrent-To.
        """
        date = self._date(exchange.date)
        response_id = self._new_id()
        warc_headers = {"WARC-Record-ID": response_id, "WARC-Date": date}
        if exchange.ip_address:
            warc_headers["WARC-IP-Address"] = exchange.ip_address
        if exchange.truncated:
            warc_headers["WARC-Truncated"] = exchange.truncated
        http_headers = response_status_and_headers(exchange)
        if revisit_of is None:
            record = self._writer.create_warc_record(
                exchange.url,
                "response",
                payload=BytesIO(exchange.body),
                length=len(exchange.body),
                http_headers=http_headers,
                warc_headers_dict=warc_headers,
            )
        else:
            warc_headers["WARC-Refers-To"] = revisit_of.record_id
            record = self._writer.create_revisit_record(
                exchange.url,
                digest=payload_digest(exchange.body),
                refers_to_uri=revisit_uri or exchange.url,
                refers_to_date=revisit_of.date,
                http_headers=http_headers,
                warc_headers_dict=warc_headers,
            )
        compressed = revisit_of is None and _is_compressed(exchange.response_headers)
        response_ref = self._write(record, len(exchange.body) if compressed else 0)
        request = self._writer.create_warc_record(
            exchange.url,
            "request",
            payload=BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            http_headers=request_status_and_headers(exchange),
            warc_headers_dict={
                "WARC-Record-ID": self._new_id(),
                "WARC-Date": date,
                "WARC-Concurrent-To": response_id,
            },
        )
        return response_ref, self._write(request)

    def write_conversion(self, page_url: str, refers_to: str, text: bytes) -> RecordRef:
        """The article text extracted from an earlier record, as Common Crawl's WET files keep
        it: the TXT file is derived from this record and can be rebuilt from it. Named
        ``urn:text:<page URL>``."""
        return self._write_derived(
            TEXT_URN + page_url, "conversion", text, "text/plain; charset=utf-8", refers_to
        )

    def write_metadata(
        self, page_url: str, refers_to: str, data: dict, *, record_id: str | None = None
    ) -> RecordRef:
        """A JSON metadata record about an earlier record (extraction results, TXT key...),
        named ``urn:extraction:<page URL>``.

        ``record_id`` lets a caller name the record before writing it (a TXT claim points at it).
        """
        body = json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return self._write_derived(
            EXTRACTION_URN + page_url, "metadata", body, "application/json", refers_to, record_id
        )

    def _write_derived(
        self,
        name: str,
        record_type: str,
        body: bytes,
        content_type: str,
        refers_to: str,
        record_id: str | None = None,
    ) -> RecordRef:
        """A record made from an earlier one (``WARC-Refers-To``), not fetched."""
        record = self._writer.create_warc_record(
            name,
            record_type,
            payload=BytesIO(body),
            length=len(body),
            warc_content_type=content_type,
            warc_headers_dict={
                "WARC-Record-ID": record_id or self._new_id(),
                "WARC-Date": self._date(),
                "WARC-Refers-To": refers_to,
            },
        )
        return self._write(record)


# Content-Encodings whose bytes deflate cannot shrink.
_COMPRESSED_ENCODINGS = {"gzip", "x-gzip", "deflate", "br", "zstd", "compress", "x-compress"}
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"  # no name, no mtime, Unix
_RECORD_END = 4  # the CRLF CRLF after a record's block


def _is_compressed(headers: list[tuple[str, str]]) -> bool:
    return any(
        name.lower() == "content-encoding"
        and value.strip().lower().rsplit(",", 1)[-1].strip() in _COMPRESSED_ENCODINGS
        for name, value in headers
    )


def gzip_member(data: bytes, compressed_payload: int = 0) -> bytes:
    """``data`` as one gzip member, deflated at level 9 as warcio does, except its last
    ``compressed_payload`` bytes before the record's closing CRLFs: a gzip or brotli payload,
    kept in deflate's stored blocks. Deflating it again takes as much CPU as the rest of the
    record's writing, to save 0.05% of its size (bench/RESULTS.md). It is still one ordinary
    gzip member: a deflate stream may mix stored and compressed blocks, and each compressor
    below ends on a byte boundary without a final block (Z_SYNC_FLUSH) so the next continues it.
    """
    end = len(data) - _RECORD_END
    start = end - compressed_payload if 0 < compressed_payload <= end else end
    out, view = [_GZIP_HEADER], memoryview(data)  # slices of a view copy nothing
    for level, piece, flush in (
        (9, view[:start], zlib.Z_SYNC_FLUSH),
        (0, view[start:end], zlib.Z_SYNC_FLUSH),
        (9, view[end:], zlib.Z_FINISH),
    ):
        if piece or flush == zlib.Z_FINISH:
            deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
            out += [deflate.compress(piece), deflate.flush(flush)]
    out.append(struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF))
    return b"".join(out)


def read_payload(store, warc: str, offset: int, length: int) -> tuple[str | None, bytes]:
    """Content-Type and HTTP payload (de-chunked, decompressed) of one stored record, read with
    one ranged read of ``store`` (any :class:`archive.store.Store`)."""
    from warcio.archiveiterator import ArchiveIterator

    record = next(iter(ArchiveIterator(BytesIO(store.read_range(warc, offset, length)))))
    headers = record.http_headers
    content_type = headers.get_header("Content-Type") if headers else None
    return content_type, record.content_stream().read()
