"""Rotating WARC output into a spool directory, with one CDXJ index per WARC file.

A file is written as ``<key>.open`` under an exclusive ``flock`` (so ``sync`` in another process
can tell a live writer from a dead one, whatever the host or pid), one whole gzip member per
write. Sealing writes the CDXJ first and then renames ``.open`` away, so a sealed WARC always
has its index beside it; the caller then publishes the WARC, then its index. Thread-safe: one
lock around every write.

The index lines of the open file wait on disk beside it (``<key>.open.cdxj.tmp``), not in memory:
a metadata line holds the whole extraction record (~2 KB), and a 1 GB WARC holds some 60,000
lines. Memory keeps only each line's sort key and place. The file is a cache: a dead writer's
WARC is indexed again from its records (archive.warc.indexer), and its spill file deleted.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from archive import faults
from archive.warc import cdxj
from archive.warc.records import (
    EXTRACTION_URN,
    Clock,
    Exchange,
    IdFactory,
    RecordRef,
    WarcFileWriter,
    new_record_id,
    payload_digest,
    utc_now,
)

DEFAULT_MAX_SIZE = 1_000_000_000
INDEX_SPILL = ".cdxj.tmp"  # after the ``.open`` name: the open file's index lines


class ArchiveWriteError(OSError):
    """Writing the WARC failed (a full disk, an I/O error): the run must stop; the file keeps
    its whole records."""


def warc_key(prefix: str, when: datetime, serial: int, host: str) -> str:
    """``warc/2026/11/30/sangrah-20261130200501123456-00000-host-1234.warc.gz`` (IIPC naming)."""
    stamp = when.strftime("%Y%m%d%H%M%S%f")
    name = f"{prefix}-{stamp}-{serial:05d}-{host}-{os.getpid()}.warc.gz"
    return f"warc/{when:%Y/%m/%d}/{name}"


def _this_host() -> str:
    return socket.gethostname().replace("-", "_")


def is_abandoned(open_path: Path) -> bool:
    """Whether nobody holds the ``flock`` of a ``.open`` file: its writer is gone.

    Locks are held by open files, not by hosts or pids, so a restarted container or a reused pid
    cannot fool this; a writer on another machine sharing the spool over NFS holds a lock there
    too. A file that vanished meanwhile is not abandoned (someone sealed it).
    """
    try:
        fd = os.open(open_path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops the probe's own lock
    return True


def index_key(key: str) -> str:
    return key.removesuffix(".warc.gz") + ".cdxj"


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def _mime(headers: list[tuple[str, str]]) -> str:
    value = _header(headers, "content-type")
    return (value or "").split(";")[0].strip().lower() or "unk"


def metadata_fields(fields: dict, data: dict) -> dict:
    """A metadata record's data for its index line, as the record stores it, less what would
    overwrite the line's own fields: its ``url`` is the record's name, pywb reads it."""
    return {k: v for k, v in sorted(data.items()) if k != "url" and k not in fields}


def request_fields(method: str, content_type: str | None, body: bytes) -> dict:
    """Index fields of a POST/PUT response (none for a GET): pywb's ``method`` and
    ``requestBody``, which key the line as pywb looks it up, and the body's digest, which tells
    two postbacks to one URL apart where the 4,096-character ``requestBody`` cannot."""
    query = cdxj.method_query(method, content_type, body)
    if query is None:
        return {}
    return {"method": method.upper(), "requestBody": query, "request_digest": payload_digest(body)}


def _location(ref: RecordRef) -> dict:
    return {"warc": ref.warc, "offset": ref.offset, "length": ref.length, "id": ref.record_id}


def index_spill(open_path: Path) -> Path:
    return open_path.with_name(open_path.name + INDEX_SPILL)


class _IndexSpill:
    """The open file's index lines, appended to a file as they come; sorted at seal."""

    def __init__(self, path: Path):
        self.path = path
        self.file = open(path, "x+b", buffering=0)
        self.keys: list[tuple[str, int, int]] = []  # (cdxj.sort_key, offset, length)

    def add(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        offset = self.file.tell()
        if self.file.write(data) != len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.keys.append((cdxj.sort_key(line), offset, len(data)))

    def mark(self) -> tuple[int, int]:
        return self.file.tell(), len(self.keys)

    def cut(self, mark: tuple[int, int]) -> None:
        """Back to ``mark``: the lines of a failed operation go with its records."""
        size, count = mark
        del self.keys[count:]
        os.ftruncate(self.file.fileno(), size)
        self.file.seek(size)

    def write_sorted(self, out) -> None:
        """The CDXJ file, in cdxj.sort_key order (the same as cdxj.render's)."""
        fd = self.file.fileno()
        for _key, offset, length in sorted(self.keys):  # ties: by offset, the written order
            out.write(os.pread(fd, length, offset))

    def close(self, *, delete: bool = True) -> None:
        self.file.close()
        if delete:
            self.path.unlink(missing_ok=True)


class WarcRecorder:
    def __init__(
        self,
        spool_path: Callable[[str], Path],
        info: dict[str, str],
        *,
        prefix: str = "sangrah",
        max_size: int = DEFAULT_MAX_SIZE,
        max_age: float | None = None,
        host: str | None = None,
        clock: Clock = utc_now,
        new_id: IdFactory = new_record_id,
    ):
        self._spool_path = spool_path
        self._info = info
        self._prefix = prefix
        self._max_size = max_size
        self._max_age = max_age
        self._host = host.replace("-", "_") if host else _this_host()
        self._clock = clock
        self._new_id = new_id
        self._lock = threading.RLock()
        self._serial = 0
        self._file = None
        self._opened_at = 0.0
        self._writer: WarcFileWriter | None = None
        self._key = ""
        self._index: _IndexSpill | None = None  # the open file's index lines
        self._pins = 0
        self._sealed: dict[str, object] = {}  # sealed, not yet published: their open files
        self.failed: ArchiveWriteError | None = None

    @property
    def current_key(self) -> str | None:
        return self._key if self._writer else None

    def new_record_id(self) -> str:
        return self._new_id()

    def _ensure_open(self) -> WarcFileWriter:
        if self.failed is not None:
            raise self.failed
        if self._writer is not None:
            return self._writer
        self._key = warc_key(self._prefix, self._clock(), self._serial, self._host)
        self._serial += 1
        path = self._spool_path(self._key + ".open")
        # Unbuffered: the writer hands over one whole gzip member per write.
        self._file = open(path, "xb", buffering=0)
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._index = _IndexSpill(index_spill(path))
        self._opened_at = time.monotonic()
        self._writer = WarcFileWriter(
            self._file, self._key.rsplit("/", 1)[-1], clock=self._clock, new_id=self._new_id
        )
        with self._operation():
            self._writer.write_warcinfo(self._info)
        return self._writer

    @contextlib.contextmanager
    def _operation(self) -> Iterator[WarcFileWriter]:
        """Records that belong together (request + response, text + metadata): on a failed
        write the file is cut back to before the first of them, and this recorder stops for
        good (see ArchiveWriteError)."""
        writer = self._ensure_open()
        assert self._file is not None and self._index is not None
        mark, index_mark = self._file.tell(), self._index.mark()
        try:
            yield writer
        except OSError as exc:
            path = self._spool_path(self._key + ".open")
            with contextlib.suppress(OSError):
                self._file.truncate(mark)
                self._file.seek(mark)
                self._index.cut(index_mark)
            self.failed = ArchiveWriteError(
                exc.errno, f"cannot write the WARC {path}: {exc.strerror or exc}"
            )
            self._abandon()
            raise self.failed from exc

    def _abandon(self) -> None:
        """After a failed write: seal what is whole if the disk lets us, else leave ``.open``
        (whole records only) for the next ``sync``."""
        try:
            self._seal()
        except OSError:
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.close()
            if self._index is not None:
                with contextlib.suppress(OSError):
                    self._index.close(delete=False)  # the rescue of the .open file deletes it
            self._writer = self._file = self._index = None

    def _ref(self, ref: RecordRef) -> RecordRef:
        return RecordRef(**{**ref.__dict__, "warc": self._key})

    def record_exchange(
        self, exchange: Exchange, *, revisit_of: RecordRef | None = None, revisit_uri: str = ""
    ) -> RecordRef:
        """Write request + response (or revisit); return where the response record is."""
        with self._lock, self._operation() as writer:
            response, _request = writer.write_exchange(
                exchange, revisit_of=revisit_of, revisit_uri=revisit_uri
            )
            fields = {
                "mime": "warc/revisit" if revisit_of else _mime(exchange.response_headers),
                "status": str(exchange.status),
                "digest": response.digest,
                "length": str(response.length),
                "offset": str(response.offset),
                "filename": writer.filename,
                "id": response.record_id,
                "date": response.date,
                **request_fields(
                    exchange.method,
                    _header(exchange.request_headers, "content-type"),
                    exchange.request_body,
                ),
            }
            self._index.add(
                cdxj.CdxjEntry(exchange.url, cdxj.timestamp14(response.date), fields).line()
            )
            return self._ref(response)

    def record_metadata(
        self,
        target_uri: str,
        response: RecordRef,
        data: dict,
        *,
        text: bytes | None = None,
        record_id: str | None = None,
    ) -> RecordRef:
        """Write a metadata record about ``response`` (after a conversion record holding
        ``text``, when given); index it with ``data`` and links back to both.

        ``target_uri`` is the page's URL: the records are named after it (``urn:extraction:``,
        ``urn:text:``), and the index line keeps it as ``page``."""
        with self._lock, self._operation() as writer:
            text_ref = None
            if text is not None:
                text_ref = self._ref(writer.write_conversion(target_uri, response.record_id, text))
            ref = self._ref(
                writer.write_metadata(target_uri, response.record_id, data, record_id=record_id)
            )
            fields = {
                "mime": "application/json",
                "type": "metadata",
                "digest": ref.digest,
                "length": str(ref.length),
                "offset": str(ref.offset),
                "filename": writer.filename,
                "id": ref.record_id,
                "page": target_uri,
                "refers_to": _location(response),
                **({"text_record": _location(text_ref)} if text_ref else {}),
            }
            fields.update(metadata_fields(fields, data))
            self._index.add(
                cdxj.CdxjEntry(
                    EXTRACTION_URN + target_uri, cdxj.timestamp14(ref.date), fields
                ).line()
            )
            return ref

    @contextlib.contextmanager
    def pinned(self) -> Iterator[str]:
        """The current file's key, which stays current (no rotation) until the block ends: a
        TXT claim names the file its metadata record will be written to."""
        with self._lock:
            self._ensure_open()
            self._pins += 1
            key = self._key
        try:
            yield key
        finally:
            with self._lock:
                self._pins -= 1

    def rotate_if_full(self) -> tuple[str, str] | None:
        with self._lock:
            if self._file is None or self._pins:
                return None
            full = self._file.tell() >= self._max_size
            old = self._max_age is not None and time.monotonic() - self._opened_at >= self._max_age
            return self._seal() if full or old else None

    def close(self) -> tuple[str, str] | None:
        """Seal the current file: write its index, then rename ``.open`` away. Returns both
        keys (WARC, index), or None when no file was open."""
        with self._lock:
            return self._seal()

    @property
    def sealed_keys(self) -> list[str]:
        """Files this recorder sealed that are not published yet (it holds their locks)."""
        with self._lock:
            return list(self._sealed)

    def release(self, key: str) -> None:
        """The sealed file ``key`` is published (or given up on): drop its lock."""
        with self._lock:
            held = self._sealed.pop(key, None)
        if held is not None:
            held.close()

    def _seal(self) -> tuple[str, str] | None:
        if self._writer is None or self._file is None:
            return None
        key, spill = self._key, self._index
        assert spill is not None
        if not spill.keys:  # a warcinfo record alone, or not even that: nothing to keep
            self._file.close()
            spill.close()
            self._spool_path(key + ".open").unlink()
            self._writer = self._file = self._index = None
            return None
        os.fsync(self._file.fileno())  # the sealed name must never hold a partial file
        index = index_key(key)
        path = self._spool_path(index)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "wb") as out:
                spill.write_sorted(out)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        spill.close()
        faults.point("seal.indexed")
        os.replace(self._spool_path(key + ".open"), self._spool_path(key))
        # The flock stays held until the sealed file is published (release()): another
        # process's recovery must not publish a live writer's file while it does.
        self._sealed[key] = self._file
        self._writer = self._file = self._index = None
        faults.point("seal.renamed")
        return key, index
