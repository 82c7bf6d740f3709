"""What is already archived: the latest capture of each URL, and which articles have a TXT.

Derived state only, rebuilt from the CDXJ files (the truth). A run reads it from the local
catalog (archive.catalog), which it first brings up to date from the index files published
since its last update, and asks per URL: what a run costs follows what it fetches, not the
size of the archive (the whole state is never loaded). Captures the run itself records are kept
in memory on top. Used to write ``revisit`` records instead of a second copy of an unchanged
payload, and by incremental crawls to skip articles that have a TXT.
"""

from __future__ import annotations

import io
import logging
import sqlite3
import threading
from dataclasses import dataclass, replace

from warcio.archiveiterator import ArchiveIterator

from archive.store import Store
from archive.warc.records import Exchange, payload_digest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capture:
    url: str
    warc: str  # store key of the WARC file
    offset: int
    length: int
    record_id: str
    date: str  # WARC-Date of the original response record
    digest: str
    txt: str | None = None  # TXT key written for this capture, if it was an article
    key: str = ""  # what the request was (see request_key); the URL alone for a GET


def request_key(url: str, method: str = "GET", request_digest: str | None = None) -> str:
    """What makes two requests the same, for revisits: the URL, and for anything but a GET the
    method and the request body too (PIB's listing pages are POST postbacks to one URL, each
    month's answer different)."""
    if method.upper() == "GET":
        return url
    return f"{method.upper()} {url} {request_digest or ''}"


def exchange_key(exchange: Exchange) -> str:
    return request_key(exchange.url, exchange.method, payload_digest(exchange.request_body))


class CaptureIndex:
    def __init__(self, db_path: str | None = None, store: Store | None = None) -> None:
        self._latest: dict[str, Capture] = {}
        self._txt: dict[tuple[str, int], str] = {}
        self._articles: set[str] = set()  # canonical URLs with a TXT
        self._store = store
        self._db = None
        self._lock = threading.Lock()
        if db_path is not None:
            # Read-only, shared by the archive's worker threads (under the lock).
            uri = f"file:{db_path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=60)

    def __len__(self) -> int:
        return len(self._latest)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def get(self, key: str) -> Capture | None:
        """The latest capture of a request (:func:`request_key`: a GET's is its URL). Across
        runs the catalog answers for GETs only (its captures carry no method): a POST is
        compared with the run's own captures."""
        capture = self._latest.get(key)
        if capture is None and " " not in key:
            capture = self._stored_capture(key)
        if capture is None:
            return None
        txt = self._txt.get((capture.warc, capture.offset)) or capture.txt
        return capture if txt == capture.txt else replace(capture, txt=txt)

    def add_response(self, capture: Capture) -> None:
        key = capture.key or capture.url
        previous = self._latest.get(key)
        if previous is None or previous.date <= capture.date:
            self._latest[key] = capture

    def add_txt(self, warc: str, offset: int, txt: str) -> None:
        self._txt[(warc, offset)] = txt

    def add_article(self, canonical_url: str) -> None:
        self._articles.add(canonical_url)

    def has_article(self, canonical_url: str) -> bool:
        """Whether a TXT of this article is in the store (an incremental crawl skips it)."""
        if canonical_url in self._articles:
            return True
        return bool(self._query("SELECT 1 FROM articles WHERE canonical_url = ?", canonical_url))

    # --- the catalog -----------------------------------------------------------------------
    def _query(self, sql: str, *args) -> list[tuple]:
        if self._db is None:
            return []
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _stored_capture(self, url: str) -> Capture | None:
        rows = self._query(
            "SELECT warc, offset, length, date, digest FROM captures "
            "WHERE url = ? AND is_revisit = 0 AND digest IS NOT NULL "
            "ORDER BY date DESC LIMIT 1",
            url,
        )
        if not rows:
            return None
        warc, offset, length, date, digest = rows[0]
        txts = self._query(
            "SELECT u.txt FROM article_urls u JOIN articles a USING (txt) WHERE u.url = ? "
            "ORDER BY a.captured DESC LIMIT 1",
            url,
        )
        record_id = self._record_id(warc, offset, length)
        if record_id is None:
            return None
        return Capture(
            url, warc, offset, length, record_id, date, digest, txts[0][0] if txts else None
        )

    def _record_id(self, warc: str, offset: int, length: int) -> str | None:
        """The WARC-Record-ID of a stored record (a revisit must name it): one ranged read."""
        if self._store is None:
            return None
        try:
            data = self._store.read_range(warc, offset, length)
            record = next(iter(ArchiveIterator(io.BytesIO(data))))
        except (OSError, StopIteration, ValueError) as exc:
            logger.warning("cannot read the record at %s:%d (%s)", warc, offset, exc)
            return None
        return record.rec_headers.get_header("WARC-Record-ID")

    @classmethod
    def load(cls, store: Store) -> CaptureIndex:
        """The state of ``store``: its catalog, brought up to date first."""
        from archive.catalog.db import Catalog

        with Catalog.for_store(store) as catalog:
            added = catalog.update(store)
            path = str(catalog.path)
        logger.info("capture state: catalog %s (%d new index files)", path, added)
        return cls(path, store)
