"""Seed-format TXT names: ``txt/<source>/<YYYY>/<MM>/<DD>/NNN_<16 hex>.txt``, claimed in the store.

The date is the article's publication date in IST (the capture date when the page gives none),
so a folder is one source's day. Two kinds of claim, both created with the store's conditional
create (O_EXCL/link locally, ``If-None-Match: *`` on S3), make names safe across crashes and
across writers that share nothing but the store:

- ``claims/ordinal/<folder>/NNN`` holds one ordinal of a folder: of two writers that want NNN,
  exactly one gets it, so no two TXTs of a folder share an ordinal;
- ``claims/text/<sha256(canonical URL)[:32]>/<text sha256>`` says which TXT holds that text of
  that article, and which metadata record (in which WARC) names it: the same article with the
  same text never gets a second file, whichever writer or rerun meets it.

A claim is made before its metadata record is written, and the TXT is stored after, so a crash
between the claim and the record leaves a claim that no record backs. The next writer to meet
that text sees it (the claimed WARC is published and lacks the record, or the claim is older
than ``stale_after`` while its WARC never appeared) and takes the name over.

Durability is one group commit per text (LocalStore.sync) instead of an fsync per file: both
claims are written, then synced, and only then is the record written. So a power cut can
leave a claim empty (its file created, its bytes never written out) only before the sync, when
no record names it yet: the next writer fills an empty text claim with its own, one writer
winning (LocalStore.fill_empty). A claim of another process is synced before this writer's
record relies on it. The TXT is made durable by the next sync, at the latest before its WARC
is published, and a WARC rescued after a crash has its TXTs checked against its text records
(archive.session).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from archive.store import Store, StoreError
from archive.text.seedfile import parse_txt_name, txt_name, url_key
from archive.warc.recorder import index_key

logger = logging.getLogger(__name__)

IST = timezone(timedelta(hours=5, minutes=30))
CLAIMS = "claims"
DEFAULT_STALE_AFTER = timedelta(hours=24)
CUT_SHORT = object()  # a claim file holding no whole claim: see the module docstring


def txt_folder(source: str, published: str | None, captured: datetime) -> str:
    when = captured.astimezone(IST)
    if published:
        try:
            parsed = datetime.fromisoformat(published)
            when = parsed.astimezone(IST) if parsed.tzinfo else parsed
        except ValueError:
            pass
    return f"txt/{source}/{when:%Y/%m/%d}"


def text_claim_key(canonical_url: str, text_sha256: str) -> str:
    article = hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]
    return f"{CLAIMS}/text/{article}/{text_sha256}"


def ordinal_claim_key(folder: str, ordinal: int) -> str:
    return f"{CLAIMS}/ordinal/{folder}/{ordinal:03d}"


def abandoned_key(warc: str) -> str:
    """Marks a WARC whose writer died before it held anything but its warcinfo record: it was
    dropped, so no claim naming it can ever be backed by a record."""
    return f"{CLAIMS}/abandoned/{warc}"


@dataclass(frozen=True)
class TxtClaim:
    txt: str  # the TXT key
    warc: str  # the WARC its naming metadata record is written to
    record: str  # that record's WARC-Record-ID
    url: str  # canonical URL
    created: str  # ISO 8601, UTC

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> TxtClaim:
        return cls(**json.loads(data))


@dataclass(frozen=True)
class TxtDecision:
    """What to write for one article text: name ``txt`` (this writer's metadata record is the
    one that names it, and it stores the file), or refer to it (``same_as``), storing the file
    only when ``store`` (its namer's record is known to exist, the file is not)."""

    txt: str
    names: bool
    store: bool
    version_of: str | None = None  # the TXT of this article's previous text, if any


class TxtNames:
    def __init__(
        self,
        store: Store,
        *,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        max_attempts: int = 1000,
        ordinals=None,
    ):
        self._store = store
        # Optional shared counter (``next(folder, first_free) -> int``, e.g. Redis) so that
        # many writers do not race through the conditional creates of one folder.
        self._ordinals = ordinals
        self._stale_after = stale_after
        self._max_attempts = max_attempts
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()
        self._own_records: set[str] = set()  # metadata records this process wrote

    def written(self, record_id: str) -> None:
        """This process wrote the metadata record a claim of its names."""
        self._own_records.add(record_id)

    def decide(
        self, folder: str, canonical_url: str, text_sha256: str, warc: str, record_id: str
    ) -> TxtDecision:
        """Claim a name for this text of this article, or find whose it is.

        ``warc`` and ``record_id`` say where this writer's metadata record will be written.
        Raises OSError (not FileExistsError) when the store cannot be reached.
        """
        key = text_claim_key(canonical_url, text_sha256)
        for _ in range(self._max_attempts):
            existing = self._lookup(key)
            if isinstance(existing, TxtClaim):
                return self._decide_existing(key, existing, warc, record_id)
            ordinal = self._allocate(folder, canonical_url)
            txt = f"{folder}/{txt_name(ordinal, canonical_url)}"
            claim = TxtClaim(txt, warc, record_id, canonical_url, _now())
            if existing is CUT_SHORT:
                if not self._fill_empty(key, claim.to_bytes()):
                    continue  # another writer filled it meanwhile; its name wins
                logger.warning("filled %s: left empty by a power cut", key)
            else:
                try:
                    self._store.put_bytes(key, claim.to_bytes(), durable=False)
                except FileExistsError:
                    continue  # another writer claimed this text meanwhile; its name wins
            self._store.sync()  # both claims outlive the record that will name them
            return TxtDecision(txt, names=True, store=True, version_of=self._previous(key))
        raise RuntimeError(f"cannot claim a TXT name for {canonical_url}")

    def _decide_existing(self, key: str, claim: TxtClaim, warc: str, record_id: str) -> TxtDecision:
        if claim.record in self._own_records:
            return TxtDecision(claim.txt, names=False, store=False)
        # Another process's claim may not be synced yet: it must outlive our record that
        # refers to it (a no-op on S3, one shared sync locally).
        self._store.sync()
        if self._store.exists(claim.txt):
            return TxtDecision(claim.txt, names=False, store=False)
        index = index_key(claim.warc)
        try:
            backed = claim.record.encode() in self._store.get_bytes(index)
        except FileNotFoundError:
            age = datetime.now(UTC) - datetime.fromisoformat(claim.created)
            dropped = self._store.exists(abandoned_key(claim.warc))
            if age < self._stale_after and not dropped:
                # Its writer is still running (or its spool is not synced yet): that writer
                # names and stores the file.
                return TxtDecision(claim.txt, names=False, store=False)
            backed = False
        if backed:  # its record exists, the file went missing: put it back, same bytes
            return TxtDecision(claim.txt, names=False, store=True)
        # Its writer died between claiming and recording: nothing names the file; take over.
        logger.warning("taking over %s: %s holds no record %s", claim.txt, index, claim.record)
        taken = TxtClaim(claim.txt, warc, record_id, claim.url, _now())
        self._store.put_bytes(key, taken.to_bytes(), overwrite=True, durable=False)
        self._store.sync()
        return TxtDecision(claim.txt, names=True, store=True)

    def _previous(self, key: str) -> str | None:
        """The TXT of the latest other text claimed for the same article: an edited article
        becomes a new version linked to the one before, never a silent twin."""
        folder = key.rsplit("/", 1)[0] + "/"
        claims = [
            claim
            for other in self._store.iter_keys(folder)
            if other != key and isinstance(claim := self._lookup(other), TxtClaim)
        ]
        return max(claims, key=lambda c: c.created).txt if claims else None

    def _lookup(self, key: str) -> TxtClaim | object | None:
        """The claim at ``key``, None, or CUT_SHORT for an empty (or zero-filled) file; a
        file holding anything else that is not a claim is a StoreError, never overwritten
        (it may be a newer version's claim)."""
        try:
            data = self._store.get_bytes(key)
        except FileNotFoundError:
            return None
        if not data.strip(b"\0"):
            return CUT_SHORT
        try:
            return TxtClaim.from_bytes(data)
        except (ValueError, TypeError) as exc:
            raise StoreError(f"{key} holds no claim this version can read: {exc}") from exc

    def _fill_empty(self, key: str, data: bytes) -> bool:
        fill = getattr(self._store, "fill_empty", None)
        if fill is None:  # a store whose puts are whole when they return (S3) has no such file
            raise StoreError(f"{key} is empty: remove it to let the text be named again")
        return fill(key, data)

    def _allocate(self, folder: str, canonical_url: str) -> int:
        """The next ordinal of ``folder`` that this writer could claim."""
        for _ in range(self._max_attempts):
            if self._ordinals is not None:
                ordinal = self._ordinals.next(folder, lambda: self._first_free(folder))
            else:
                with self._lock:
                    if folder not in self._next:
                        self._next[folder] = self._first_free(folder)
                    ordinal = self._next[folder]
                    self._next[folder] = ordinal + 1
            try:
                self._store.put_bytes(
                    ordinal_claim_key(folder, ordinal),
                    url_key(canonical_url).encode(),
                    durable=False,  # synced with the text claim, before any record names it
                )
            except FileExistsError:
                continue  # another writer holds it; try the next one
            return ordinal
        raise RuntimeError(f"no free TXT ordinal in {folder} after {self._max_attempts} tries")

    def _first_free(self, folder: str) -> int:
        """One past the highest ordinal claimed or used in ``folder`` (TXTs of older runs
        that made no claims count too)."""
        used = [
            int(name)
            for key in self._store.iter_keys(f"{CLAIMS}/ordinal/{folder}/")
            if (name := key.rsplit("/", 1)[-1]).isdigit()
        ]
        used += [
            parsed[0]
            for key in self._store.iter_keys(folder + "/")
            if (parsed := parse_txt_name(key.rsplit("/", 1)[-1]))
        ]
        return max(used, default=-1) + 1

    def store_txt(self, key: str, data: bytes) -> None:
        """Store a TXT, durable after the store's next sync; an existing file with these bytes
        is fine (a rerun, a completion)."""
        try:
            self._store.put_bytes(key, data, overwrite=False, durable=False)
        except FileExistsError:
            if hashlib.sha256(self._store.get_bytes(key)).digest() != hashlib.sha256(data).digest():
                raise


def _now() -> str:
    return datetime.now(UTC).isoformat()


# --- texts whose name could not be claimed (the store was down) ---------------------------------
PENDING_DIR = ".pending-txt"  # in the spool; dot-named so the spool never publishes it as is


@dataclass(frozen=True)
class PendingText:
    """An article text recorded while the store could not be reached: the next ``sync`` (or
    run) claims its name, writes the naming metadata record and stores the file."""

    folder: str
    canonical_url: str
    text_sha256: str
    target_uri: str
    response: dict  # RecordRef fields of the response the text came from
    metadata: dict  # the extraction result, as the metadata record holds it
    text: str


def spool_pending(spool_dir: Path, pending: PendingText) -> Path:
    """Keep ``pending`` in the spool, written in one go (temp file, fsync, rename)."""
    name = hashlib.sha256(pending.response["record_id"].encode()).hexdigest()[:32]
    path = spool_dir / PENDING_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(json.dumps(asdict(pending), ensure_ascii=False).encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def pending_texts(spool_dir: Path) -> list[tuple[Path, PendingText]]:
    root = spool_dir / PENDING_DIR
    found = []
    for path in sorted(root.glob("*.json")) if root.exists() else []:
        try:
            found.append((path, PendingText(**json.loads(path.read_bytes()))))
        except FileNotFoundError:  # named by a concurrent recovery meanwhile
            continue
    return found
