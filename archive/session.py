"""One writer's archive: the archiving rules, free of any crawler framework.

An :class:`ArchiveSession` owns a run's WARC recorder (in the spool), the TXT names it claims
in the store and the capture state, and decides what every exchange and page becomes:

- an exchange whose payload equals the URL's latest capture becomes a ``revisit`` record;
- an article text gets a ``conversion`` record (the text) and a ``metadata`` record (the
  extraction result) that names its TXT (``txt``) or the TXT that already holds the same text of
  the same article (``txt_same_as``); the name is claimed in the store before the records are
  written and the file stored after them, so every TXT is named by exactly one record and can
  be rebuilt from the WARC (see archive.store.txtstore);
- a text whose name cannot be claimed (the store is down) is recorded with ``txt_pending`` and
  kept in the spool until :meth:`recover` can claim it;
- a WARC is published only after every TXT its records name is in the store, and its index
  only after the WARC: what the store shows is always backed by what it holds.

:meth:`recover` runs first in every run and in ``sangrah sync``: it seals WARCs whose writer
died (cut after the last whole record), publishes what an outage or a crash left in the spool,
and names pending texts. Every method is thread-safe and blocking; the Scrapy components call
them from worker threads.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
import weakref
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archive import faults
from archive.catalog.captures import Capture, CaptureIndex, exchange_key
from archive.store import Store
from archive.store.spool import Spool
from archive.store.txtstore import (
    PendingText,
    TxtDecision,
    TxtNames,
    abandoned_key,
    pending_texts,
    spool_pending,
    txt_folder,
)
from archive.warc import cdxj, indexlog
from archive.warc.indexer import rescue_open_warc, write_index
from archive.warc.recorder import ArchiveWriteError, WarcRecorder, index_key, is_abandoned
from archive.warc.records import Exchange, RecordRef, payload_digest

logger = logging.getLogger(__name__)
NAMER_WAIT = 5.0  # seconds to wait for a text another writer has claimed and is storing


@dataclass(frozen=True)
class ArticleText:
    canonical_url: str
    source: str
    published: str | None
    data: bytes  # the seed-format TXT


@dataclass
class PageResult:
    txt: str | None = None  # the TXT holding the text, once it is in the store
    pending: str | None = None  # why the TXT is not in the store yet
    note: str | None = None  # same text as before, or a new version of an earlier TXT
    recorded: bool = True  # whether the text's records are in the WARC
    new: bool = False  # this capture named a new TXT (a first text or a new version)


@dataclass
class RecoveryReport:
    rescued: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    named: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


class ArchiveSession:
    def __init__(
        self,
        store: Store,
        spool: Spool,
        recorder: WarcRecorder,
        *,
        names: TxtNames | None = None,
        captures: CaptureIndex | None = None,
    ):
        self.store = store
        self.spool = spool
        self.recorder = recorder
        self.names = names or TxtNames(store)
        self.captures = captures or CaptureIndex()
        self.unpublished: list[tuple[str, str]] = []  # (key, reason) left in the spool
        self.unstored: list[tuple[str, str]] = []  # (TXT key, reason) left for the next sync
        self._confirmed: set[str] = set()  # TXTs this session stored
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._locks_lock = threading.Lock()

    # --- recording -------------------------------------------------------------------------
    def record_exchange(self, exchange: Exchange) -> tuple[RecordRef, Capture | None]:
        """Archive one exchange; a payload identical to the latest capture becomes a revisit."""
        key = exchange_key(exchange)  # a POST is the same request only with the same body
        previous = self.captures.get(key)
        revisit_of = None
        if previous is not None and exchange.status == 200:
            if previous.digest == payload_digest(exchange.body):
                revisit_of = previous
        original = None
        if revisit_of is not None:
            original = RecordRef(
                revisit_of.warc,
                revisit_of.offset,
                revisit_of.length,
                revisit_of.record_id,
                revisit_of.date,
                revisit_of.digest,
            )
        ref = self.recorder.record_exchange(exchange, revisit_of=original)
        if revisit_of is None and ref.digest:
            self.captures.add_response(
                Capture(
                    exchange.url, ref.warc, ref.offset, ref.length, ref.record_id, ref.date,
                    ref.digest, key=key,
                )
            )  # fmt: skip
        return ref, revisit_of

    def record_page(
        self,
        target_uri: str,
        response: RecordRef,
        metadata: dict,
        article: ArticleText | None = None,
        *,
        quiet: bool = False,
    ) -> PageResult:
        """The metadata record of a page; for an article, its text and TXT too. ``quiet``
        writes nothing for a text the archive holds already (a reprocess)."""
        if article is None:
            self.recorder.record_metadata(target_uri, response, metadata)
            return PageResult()
        digest = hashlib.sha256(article.data).hexdigest()
        captured = datetime.fromisoformat(response.date.replace("Z", "+00:00"))
        pending = PendingText(
            folder=txt_folder(article.source, article.published, captured),
            canonical_url=article.canonical_url,
            text_sha256=digest,
            target_uri=target_uri,
            response=asdict(response),
            metadata={**metadata, "text_sha256": digest},
            text=article.data.decode("utf-8"),
        )
        with self._article_lock(article.canonical_url):
            return self._record_text(pending, article.data, skip_known=quiet)

    def _article_lock(self, canonical_url: str) -> threading.Lock:
        with self._locks_lock:
            lock = self._locks.get(canonical_url)
            if lock is None:
                lock = self._locks[canonical_url] = threading.Lock()
            return lock

    def _record_text(
        self,
        pending: PendingText,
        data: bytes,
        *,
        recovering: bool = False,
        skip_known: bool = False,
    ) -> PageResult:
        response = RecordRef(**pending.response)
        with self.recorder.pinned() as warc:
            record_id = self.recorder.new_record_id()
            try:
                decision = self.names.decide(
                    pending.folder, pending.canonical_url, pending.text_sha256, warc, record_id
                )
            except OSError as exc:
                if recovering:  # it is in the spool already
                    return PageResult(pending=f"{type(exc).__name__}: {exc}", recorded=False)
                return self._defer(pending, data, exc)
            faults.point("txt.claimed")
            if (recovering or skip_known) and not decision.names and not decision.store:
                return PageResult(txt=decision.txt, note="named already")
            named = "txt" if decision.names else "txt_same_as"
            version = {"version_of": decision.version_of} if decision.version_of else {}
            self.recorder.record_metadata(
                pending.target_uri,
                response,
                {**pending.metadata, named: decision.txt, **version},
                text=data if decision.names else None,
                record_id=record_id,
            )
            self.names.written(record_id)
        faults.point("txt.recorded")
        self.captures.add_txt(response.warc, response.offset, decision.txt)
        self.captures.add_article(pending.canonical_url)
        return self._store_text(decision, data)

    def _store_text(self, decision: TxtDecision, data: bytes) -> PageResult:
        note = None if decision.names else "same text as an earlier capture of this article"
        if decision.version_of:
            note = f"a new version of {decision.version_of}"
        if not decision.store:
            if not decision.names and decision.txt not in self._confirmed:
                if not self._stored_soon(decision.txt):  # its namer died, or is slow
                    return PageResult(
                        pending=f"another writer is storing this text as {decision.txt}"
                    )
            return PageResult(txt=decision.txt, note=note, new=decision.names)
        try:
            self.names.store_txt(decision.txt, data)
        except OSError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            logger.error("TXT %s not stored (%s); the next sync stores it", decision.txt, reason)
            self.unstored.append((decision.txt, reason))
            return PageResult(pending=f"the store failed ({reason}): `sangrah sync` stores the TXT")
        self._confirmed.add(decision.txt)
        faults.point("txt.stored")
        return PageResult(txt=decision.txt, note=note, new=decision.names)

    def _stored_soon(self, txt: str) -> bool:
        """Whether ``txt`` is in the store, or gets there within NAMER_WAIT seconds: another
        writer that claimed the text a moment ago stores it right after its metadata record
        (two fetches of one article at once: tests/test_session.py). Asked again at doubling
        intervals, from 50 ms to 1 s: on S3 each question is a request."""
        deadline, pause = time.monotonic() + NAMER_WAIT, 0.05
        while not self.store.exists(txt):
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(2 * pause, 1.0)
        return True

    def _defer(self, pending: PendingText, data: bytes, exc: OSError) -> PageResult:
        """The store could not be asked for a name: keep the text for the next recovery."""
        reason = f"{type(exc).__name__}: {exc}"
        self.recorder.record_metadata(
            pending.target_uri,
            RecordRef(**pending.response),
            {**pending.metadata, "txt_pending": pending.folder},
            text=data,
        )
        try:
            path = spool_pending(self.spool.directory, pending)
        except OSError as error:  # the spool's disk: nothing else can be kept either
            raise ArchiveWriteError(
                error.errno, f"cannot keep a pending TXT in {self.spool.directory}: {error}"
            ) from error
        logger.error("TXT of %s waits in %s: %s", pending.canonical_url, path, reason)
        self.unstored.append((pending.canonical_url, reason))
        return PageResult(
            pending=f"the store could not be reached ({reason}): the next run or "
            "`sangrah sync` names and stores the TXT"
        )

    # --- sealing and publishing ------------------------------------------------------------
    def rotate(self) -> str | None:
        """Seal the WARC if it is full or old; returns its key, for :meth:`publish`."""
        sealed = self.recorder.rotate_if_full()
        return sealed[0] if sealed else None

    def publish(self, warc_key: str) -> bool:
        """Publish a sealed WARC of the spool: the TXTs it names, the WARC, then its index.

        On any error everything stays in the spool for the next run; returns False.
        """
        try:
            self._publish(warc_key)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            logger.error("could not publish %s to %s: %s", warc_key, self.store.uri, reason)
            self.unpublished.append((warc_key, reason))
            return False
        finally:
            self.recorder.release(warc_key)
        return True

    def _publish(self, warc_key: str) -> None:
        index = index_key(warc_key)
        warc_path = self.spool.directory / warc_key
        index_path = self.spool.directory / index
        if warc_path.exists() and not index_path.exists():  # sealed by an older version
            write_index(warc_path, warc_path.name, warc_key)
        try:
            self._complete_texts(warc_path, cdxj.parse(index_path.read_bytes()))
        except FileNotFoundError:  # another process published it meanwhile
            if not self.store.exists(warc_key):
                raise
        self.store.sync()  # the TXTs it names are durable before the WARC is published
        faults.point("publish.completed")
        if index_path.exists():  # announce it to incremental readers (the catalog)
            self.store.put_bytes(indexlog.entry_key(index), index.encode(), overwrite=True)
        self.spool.publish(warc_key)
        faults.point("publish.warc")
        self.spool.publish(index)
        faults.point("publish.index")

    def _complete_texts(self, warc_path: Path, entries) -> None:
        """Make every TXT this WARC's records name hold its text record's bytes, unless this
        session stored it: the store may lack it (an outage), or a power cut may have left it
        empty (it is synced after its record is written)."""
        for entry in entries:
            txt = entry.fields.get("txt")
            if entry.fields.get("type") != "metadata" or not txt or txt in self._confirmed:
                continue
            where = entry.fields.get("text_record")
            if not where:
                if not self.store.exists(txt):
                    logger.error("%s names %s but holds no text record for it", warc_path, txt)
                continue
            with warc_path.open("rb") as f:
                f.seek(int(where["offset"]))
                data = f.read(int(where["length"]))
            text = next(iter(ArchiveIterator(io.BytesIO(data)))).content_stream().read()
            try:
                stored = self.store.get_bytes(txt)
            except FileNotFoundError:
                self.names.store_txt(txt, text)
                logger.warning("stored %s from its text record in %s", txt, warc_path.name)
                continue
            if stored != text:
                self.store.put_bytes(txt, text, overwrite=True, durable=False)
                logger.warning("rewrote %s (%d bytes, not its text record's %d) from %s",
                               txt, len(stored), len(text), warc_path.name)  # fmt: skip

    def close(self) -> None:
        """Seal the current WARC and publish it; failures are in :attr:`unpublished`."""
        self.recorder.close()
        for key in self.recorder.sealed_keys:  # this one, and any sealed after a write error
            self.publish(key)
        self.captures.close()

    # --- recovery --------------------------------------------------------------------------
    def recover(self, *, load_captures: bool = True) -> RecoveryReport:
        """Bring the spool up to date with the store: seal WARCs of dead writers, publish what
        waits, load the capture state, name the texts an outage left without a name."""
        report = RecoveryReport()
        for path in self.spool.stale_open():
            if not is_abandoned(path):
                continue  # a live writer's
            key = path.relative_to(self.spool.directory).as_posix().removesuffix(".open")
            try:
                if rescue_open_warc(path, key):
                    report.rescued.append(key)
                    logger.warning("sealed %s, left open by a run that died", key)
                else:  # nothing in it: a claim naming it will never be backed
                    self.store.put_bytes(
                        abandoned_key(key), b"dropped: no records\n", overwrite=True
                    )
            except Exception as exc:
                report.failed.append((key, f"cannot rescue: {type(exc).__name__}: {exc}"))
        for key in self.spool.pending():
            if key.endswith(".warc.gz"):
                if not is_abandoned(self.spool.directory / key):
                    continue  # sealed by a live writer, which publishes it itself
                if self.publish(key):
                    report.published += [key, index_key(key)]
                else:
                    report.failed.append(self.unpublished.pop())
        published, failed = self.spool.publish_pending()  # indexes whose WARC went up already
        report.published += published
        report.failed += failed
        if report.failed:
            return report  # the store refuses files; names must wait too
        if load_captures:
            self.captures.close()
            self.captures = CaptureIndex.load(self.store)
        for path, pending in pending_texts(self.spool.directory):
            result = self._record_text(pending, pending.text.encode("utf-8"), recovering=True)
            if not result.recorded:
                report.failed.append((str(path), result.pending or "not recorded"))
                continue
            if result.txt:
                report.named.append(result.txt)
            path.unlink(missing_ok=True)  # named: its records are in the WARC, the TXT follows
        return report


def open_session(
    store: Store,
    spool_dir: Path,
    warcinfo: dict[str, str],
    *,
    prefix: str = "sangrah",
    max_size: int = 1_000_000_000,
    max_age: float | None = None,
    ordinals=None,
) -> ArchiveSession:
    """A session writing WARCs into ``spool_dir`` (which must belong to ``store``);
    ``ordinals`` is a shared TXT ordinal counter (see TxtNames)."""
    spool = Spool(spool_dir, store)
    recorder = WarcRecorder(
        spool.path_for, warcinfo, prefix=prefix, max_size=max_size, max_age=max_age
    )
    return ArchiveSession(store, spool, recorder, names=TxtNames(store, ordinals=ordinals))
