"""``sangrah verify``: check a store's invariants, and repair what the WARCs can repair.

The invariants (what must hold after any crash, outage, full disk or concurrent run):

1. every WARC decompresses completely (each gzip member's CRC and size), holds whole records
   whose digests check (as ``warcio check``), and has its CDXJ; no ``.open`` or temp file and
   no empty file is in the store;
2. every TXT is named by exactly one metadata record, and every TXT a record names exists; no
   two TXTs hold the same text of the same article; no two TXTs of a folder share an ordinal;
3. every revisit points at a response record that is in the store, whole.

``--repair`` rebuilds what is derived and can be rebuilt from the WARCs: a missing or partial
CDXJ (indexed from its WARC), a missing TXT (from the record holding its text), and extra
copies of a TXT that no record names (deleted). Everything else is reported, not touched.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archive.store import Store
from archive.text.seedfile import parse_txt_name
from archive.warc import cdxj, indexlog
from archive.warc.indexer import index_warc, whole_records_length
from archive.warc.recorder import index_key

logger = logging.getLogger(__name__)
_CHUNK = 8 << 20


@dataclass
class Problem:
    kind: str
    key: str
    detail: str
    repaired: bool = False

    def line(self) -> str:
        mark = "repaired" if self.repaired else "PROBLEM"
        return f"{mark} {self.kind}: {self.key}: {self.detail}"


@dataclass
class VerifyReport:
    warcs: int = 0
    records: int = 0
    txts: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return all(p.repaired for p in self.problems)


class _StoreReader(io.RawIOBase):
    """A stored file as a stream, read in large ranged reads (S3 has no open())."""

    def __init__(self, store: Store, key: str, size: int):
        self._store, self._key, self._size, self._pos = store, key, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        data = self._store.read_range(
            self._key, self._pos, min(len(buffer), self._size - self._pos)
        )
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _open(store: Store, key: str, size: int) -> BinaryIO:
    return io.BufferedReader(_StoreReader(store, key, size), buffer_size=_CHUNK)


@dataclass
class _Warc:
    responses: set[str] = field(default_factory=set)  # record IDs of whole responses
    revisits: list[tuple[str, str]] = field(default_factory=list)  # (URI, refers-to ID)


def verify_store(store: Store, *, repair: bool = False) -> VerifyReport:
    report = VerifyReport()
    keys = list(store.iter_keys())
    key_set = set(keys)
    sizes = {key: store.size(key) for key in keys if key.startswith(("warc/", "txt/"))}

    def problem(kind: str, key: str, detail: str, repaired: bool = False) -> None:
        report.problems.append(Problem(kind, key, detail, repaired))

    for key in keys:
        name = key.rsplit("/", 1)[-1]
        if name.endswith((".open", ".tmp")):
            problem("temp file", key, "a file still being written was published")
        elif sizes.get(key) == 0:
            problem("empty file", key, "zero bytes")

    seen = _Warc()
    namers: dict[str, list[str]] = defaultdict(list)  # TXT -> metadata record IDs naming it
    texts: dict[str, dict] = {}  # TXT -> the naming entry's fields
    for key in keys:
        if not key.endswith(".warc.gz") or not key.startswith("warc/"):
            continue
        report.warcs += 1
        entries = _check_warc(store, key, sizes[key], seen, problem, report)
        index = index_key(key)
        if index not in key_set:
            if repair and entries is not None:
                store.put_bytes(index, cdxj.render(entries), overwrite=True)
                store.put_bytes(indexlog.entry_key(index), index.encode(), overwrite=True)
            problem("missing index", key, f"no {index}", repaired=repair and entries is not None)
        elif entries is not None:
            stored = {e.fields.get("offset") for e in cdxj.parse(store.get_bytes(index))}
            if stored != {e.fields.get("offset") for e in entries}:
                if repair:
                    store.put_bytes(index, cdxj.render(entries), overwrite=True)
                problem("partial index", index, "does not list the WARC's records", repair)
        for entry in entries or []:
            fields = entry.fields
            if fields.get("type") == "metadata" and fields.get("txt"):
                namers[fields["txt"]].append(fields.get("id", ""))
                texts[fields["txt"]] = fields

    for uri, refers in seen.revisits:
        if refers not in seen.responses:
            problem("revisit", uri, f"points at {refers}, which is not a whole response here")

    _check_txts(store, keys, namers, texts, problem, report, repair)
    return report


def _check_warc(store, key, size, seen: _Warc, problem, report) -> list[cdxj.CdxjEntry] | None:
    """Integrity and digests of one WARC; its index entries, or None when it is damaged."""
    with _open(store, key, size) as stream:
        whole = whole_records_length(stream)
    if whole != size:
        problem("damaged WARC", key, f"only the first {whole} of {size} bytes are whole records")
        return None
    responses: set[str] = set()
    try:
        with _open(store, key, size) as stream:
            iterator = ArchiveIterator(stream, check_digests=True)
            for record in iterator:
                for _chunk in iter(lambda r=record: r.content_stream().read(1 << 20), b""):
                    pass
                report.records += 1
                headers = record.rec_headers
                if record.digest_checker.passed is False:
                    problem("digest", key, "; ".join(record.digest_checker.problems))
                if record.rec_type == "response":
                    responses.add(headers.get_header("WARC-Record-ID"))
                elif record.rec_type == "revisit":
                    seen.revisits.append(
                        (
                            headers.get_header("WARC-Target-URI"),
                            headers.get_header("WARC-Refers-To"),
                        )
                    )
        with _open(store, key, size) as stream:
            entries = index_warc(stream, key.rsplit("/", 1)[-1], key)
    except (ArchiveLoadFailed, ValueError, OSError) as exc:
        problem("damaged WARC", key, f"{type(exc).__name__}: {exc}")
        return None
    seen.responses |= responses
    return entries


def _check_txts(store, keys, namers, texts, problem, report, repair: bool) -> None:
    txt_keys = [k for k in keys if k.startswith("txt/") and k.endswith(".txt")]
    report.txts = len(txt_keys)
    present = set(txt_keys)
    for txt, ids in namers.items():
        if len(ids) > 1:
            problem("named twice", txt, f"{len(ids)} metadata records name it: {', '.join(ids)}")
        if txt not in present:
            repaired = repair and _restore_txt(store, txt, texts[txt])
            problem("missing TXT", txt, "a metadata record names it", repaired)
            if repaired:
                present.add(txt)
    by_ordinal: dict[tuple[str, int], list[str]] = defaultdict(list)
    by_text: dict[tuple[str, str], list[str]] = defaultdict(list)
    for txt in sorted(present):
        folder, _, name = txt.rpartition("/")
        parsed = parse_txt_name(name)
        if parsed is None:
            problem("bad name", txt, "not NNN_<16 hex>.txt")
            continue
        by_ordinal[(folder, parsed[0])].append(txt)
        by_text[(parsed[1], hashlib.sha256(store.get_bytes(txt)).hexdigest())].append(txt)
    for (folder, ordinal), same in by_ordinal.items():
        if len(same) > 1:
            problem("shared ordinal", folder, f"{ordinal:03d} is used by {', '.join(same)}")
    for copies in by_text.values():
        named = [t for t in copies if t in namers]
        for extra in (t for t in copies if t not in namers):
            if named:
                if repair:
                    store.delete(extra)
                problem("duplicate TXT", extra, f"same article and text as {named[0]}", repair)
            else:
                problem("orphan TXT", extra, "no metadata record names it")
        if len(named) > 1:
            problem("duplicate TXT", named[1], f"same article and text as {named[0]}")


def _restore_txt(store: Store, txt: str, fields: dict) -> bool:
    where = fields.get("text_record")
    if not where:
        return False
    data = store.read_range(where["warc"], int(where["offset"]), int(where["length"]))
    record = next(iter(ArchiveIterator(io.BytesIO(data))))
    store.put_bytes(txt, record.content_stream().read(), overwrite=False)
    return True


def iter_lines(report: VerifyReport) -> Iterator[str]:
    yield from (p.line() for p in report.problems)
    state = "clean" if report.clean else f"{sum(not p.repaired for p in report.problems)} problems"
    yield (
        f"{report.warcs} WARCs, {report.records} records, {report.txts} TXTs: {state}"
        + (f", {sum(p.repaired for p in report.problems)} repaired" if report.problems else "")
    )
