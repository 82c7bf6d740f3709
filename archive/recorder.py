"""Rotating WARC output into a spool directory, with one CDXJ index per WARC file.

Files are written as ``<key>.open`` (flushed after every record, so a crash loses at most the
record being written), renamed to ``<key>`` on close, and only then indexed: the caller publishes
the WARC, then its index. Not thread-safe: the archiver drives it from one worker thread.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from archive import cdxj
from archive.warc import (
    Clock,
    Exchange,
    IdFactory,
    RecordRef,
    WarcFileWriter,
    new_record_id,
    utc_now,
)

DEFAULT_MAX_SIZE = 1_000_000_000


def warc_key(prefix: str, when: datetime, serial: int, host: str) -> str:
    """``warc/2026/11/30/sangrah-20261130200501123456-00000-host-1234.warc.gz`` (IIPC naming)."""
    stamp = when.strftime("%Y%m%d%H%M%S%f")
    name = f"{prefix}-{stamp}-{serial:05d}-{host}-{os.getpid()}.warc.gz"
    return f"warc/{when:%Y/%m/%d}/{name}"


def _this_host() -> str:
    return socket.gethostname().replace("-", "_")


def is_abandoned(open_path: Path) -> bool:
    """Whether a ``.open`` WARC in the spool belongs to a process of this host that is gone.

    Another host's file (a shared spool) is left to that host; a live process's file to it.
    """
    parts = open_path.name.removesuffix(".warc.gz.open").rsplit("-", 2)
    if len(parts) != 3 or not parts[2].isdigit() or parts[1] != _this_host():
        return False
    pid = int(parts[2])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def index_key(key: str) -> str:
    return key.removesuffix(".warc.gz") + ".cdxj"


def _mime(headers: list[tuple[str, str]]) -> str:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.split(";")[0].strip().lower() or "unk"
    return "unk"


class WarcRecorder:
    def __init__(
        self,
        spool_path: Callable[[str], Path],
        info: dict[str, str],
        *,
        prefix: str = "sangrah",
        max_size: int = DEFAULT_MAX_SIZE,
        host: str | None = None,
        clock: Clock = utc_now,
        new_id: IdFactory = new_record_id,
    ):
        self._spool_path = spool_path
        self._info = info
        self._prefix = prefix
        self._max_size = max_size
        self._host = host.replace("-", "_") if host else _this_host()
        self._clock = clock
        self._new_id = new_id
        self._serial = 0
        self._file = None
        self._writer: WarcFileWriter | None = None
        self._key = ""
        self._entries: list[cdxj.CdxjEntry] = []

    @property
    def current_key(self) -> str | None:
        return self._key if self._writer else None

    def _ensure_open(self) -> WarcFileWriter:
        if self._writer is not None:
            return self._writer
        self._key = warc_key(self._prefix, self._clock(), self._serial, self._host)
        self._serial += 1
        path = self._spool_path(self._key + ".open")
        self._file = open(path, "xb")
        self._writer = WarcFileWriter(
            self._file, self._key.rsplit("/", 1)[-1], clock=self._clock, new_id=self._new_id
        )
        self._writer.write_warcinfo(self._info)
        return self._writer

    def _ref(self, ref: RecordRef) -> RecordRef:
        return RecordRef(**{**ref.__dict__, "warc": self._key})

    def record_exchange(
        self, exchange: Exchange, *, revisit_of: RecordRef | None = None, revisit_uri: str = ""
    ) -> RecordRef:
        """Write request + response (or revisit); return where the response record is."""
        writer = self._ensure_open()
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
        }
        self._entries.append(cdxj.CdxjEntry(exchange.url, cdxj.timestamp14(response.date), fields))
        return self._ref(response)

    def record_metadata(self, target_uri: str, response: RecordRef, data: dict) -> RecordRef:
        """Write a metadata record about ``response``; index it with ``data`` and a back link."""
        writer = self._ensure_open()
        ref = writer.write_metadata(target_uri, response.record_id, data)
        fields = {
            "mime": "application/json",
            "type": "metadata",
            "digest": ref.digest,
            "length": str(ref.length),
            "offset": str(ref.offset),
            "filename": writer.filename,
            "refers_to": {
                "warc": response.warc,
                "offset": response.offset,
                "length": response.length,
                "id": response.record_id,
            },
            **dict(sorted(data.items())),  # as the metadata record stores it
        }
        self._entries.append(cdxj.CdxjEntry(target_uri, cdxj.timestamp14(ref.date), fields))
        return self._ref(ref)

    def rotate_if_full(self) -> tuple[str, str] | None:
        if self._file is not None and self._file.tell() >= self._max_size:
            return self.close()
        return None

    def close(self) -> tuple[str, str] | None:
        """Close the current file: rename ``.open`` away, write its index. Returns both keys."""
        if self._writer is None or self._file is None:
            return None
        self._file.flush()
        os.fsync(self._file.fileno())  # the sealed name must never hold a partial file
        self._file.close()
        key = self._key
        os.replace(self._spool_path(key + ".open"), self._spool_path(key))
        index = index_key(key)
        path = self._spool_path(index)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(cdxj.render(self._entries))
        os.replace(tmp, path)
        self._writer = self._file = None
        self._entries = []
        return key, index
