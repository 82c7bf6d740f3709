"""``sangrah reprocess``: extract TXTs again from the stored WARCs, on every core, no refetching.

When the extraction rules improve (or a source's selectors are fixed), the archive's pages are
read back from their response records (one ranged read each), extracted in a process pool, and
go through the same archiving rules as a crawl (archive.session): a text the archive already
holds writes nothing, a changed text becomes a new TXT with ``version_of`` the previous one, a
new article gets its first TXT. The new metadata and text records go to a WARC of this run and
point at the original response (``WARC-Refers-To`` and ``refers_to`` in the CDXJ).
"""

from __future__ import annotations

import io
import logging
import os
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass

from warcio.archiveiterator import ArchiveIterator

from archive.catalog.db import Catalog
from archive.session import ArchiveSession, ArticleText
from archive.text.extract import Extraction, extract
from archive.text.pool import extraction_pool
from archive.warc.records import RecordRef

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """A page read back from its response record, and what extraction made of it."""

    url: str
    response: RecordRef
    result: Extraction


class UnreadableRecord(Exception):
    """The stored record cannot be read or parsed (a missing WARC, a damaged record)."""

    @classmethod
    def of(cls, url: str, warc: str, offset: int, cause: Exception) -> UnreadableRecord:
        # One message argument: the exception crosses back from a pool worker by pickling.
        return cls(f"cannot read {url} at {warc}:{offset}: {cause}")


def captures(
    catalog: Catalog, source: str | None, since: str | None, until: str | None
) -> list[tuple]:
    """HTML responses (status 200, not revisits) to reprocess, oldest first."""
    sql = (
        "SELECT c.url, c.warc, c.offset, c.length FROM captures c WHERE c.is_revisit = 0 "
        "AND c.status = 200 AND c.mime IN ('text/html', 'application/xhtml+xml')"
    )
    args: list = []
    if source:
        sql += (
            " AND c.url IN (SELECT u.url FROM article_urls u JOIN articles a USING (txt)"
            " WHERE a.source = ?)"
        )
        args.append(source)
    if since:
        sql += " AND substr(c.date, 1, 10) >= ?"
        args.append(since)
    if until:
        sql += " AND substr(c.date, 1, 10) <= ?"
        args.append(until)
    return catalog.db.execute(sql + " ORDER BY c.date, c.warc, c.offset", args).fetchall()


def read_and_extract(
    record: bytes, url: str, warc: str, offset: int, sources_file: str | None
) -> Page:
    """Parse one stored response record (its gzip member, as read from the WARC) and extract
    it: in a pool worker, so that the reading process only moves compressed bytes."""
    try:
        parsed = next(iter(ArchiveIterator(io.BytesIO(record))))
        body = parsed.content_stream().read()
    except Exception as exc:
        raise UnreadableRecord.of(url, warc, offset, exc) from exc
    headers = parsed.rec_headers
    content_type = parsed.http_headers.get_header("Content-Type") if parsed.http_headers else None
    ref = RecordRef(
        warc,
        offset,
        len(record),
        headers.get_header("WARC-Record-ID"),
        headers.get_header("WARC-Date"),
        headers.get_header("WARC-Payload-Digest"),
    )
    return Page(url, ref, extract(body, url, content_type, sources_file))


def reprocess(
    session: ArchiveSession,
    catalog: Catalog,
    *,
    source: str | None = None,
    since: str | None = None,
    until: str | None = None,
    workers: int | None = None,
    sources_file: str | None = None,
) -> Counter[str]:
    """Re-extract every selected page; returns counts by outcome."""
    rows = captures(catalog, source, since, until)
    counts: Counter[str] = Counter(pages=len(rows))
    workers = workers or os.cpu_count() or 1
    with extraction_pool(workers, preload=__name__) as pool:
        running: dict[Future, str] = {}
        for url, warc, offset, length in rows:
            try:
                record = session.store.read_range(warc, offset, length)
            except Exception as exc:  # a missing WARC is reported and counted, the others go on
                _unreadable(counts, UnreadableRecord.of(url, warc, offset, exc))
                continue
            future = pool.submit(read_and_extract, record, url, warc, offset, sources_file)
            running[future] = url
            if len(running) >= 4 * workers:  # bounded: pages are not all held in memory
                _finish(session, running, counts, wait(running, return_when=FIRST_COMPLETED)[0])
        _finish(session, running, counts, list(running))
    return counts


def _unreadable(counts: Counter, exc: UnreadableRecord) -> None:
    logger.error("%s", exc)
    counts["unreadable"] += 1


def _finish(session, running: dict[Future, str], counts: Counter, done) -> None:
    for future in done:
        url = running.pop(future)
        try:
            page = future.result()
        except UnreadableRecord as exc:
            _unreadable(counts, exc)
            continue
        except Exception as exc:
            logger.error("extraction failed for %s: %r", url, exc)
            counts["failed"] += 1
            continue
        result = page.result
        if not result.is_article:
            counts["not an article"] += 1
            continue
        article = ArticleText(
            result.canonical_url, result.source, result.published, result.txt_bytes()
        )
        metadata = {k: v for k, v in result.to_dict().items() if k != "blocks"}
        outcome = session.record_page(
            page.url, page.response, {**metadata, "reprocessed": True}, article, quiet=True
        )
        if outcome.pending:
            counts["pending"] += 1
        elif not outcome.new:
            counts["unchanged"] += 1
        elif outcome.note and outcome.note.startswith("a new version"):
            counts["new version"] += 1
        else:
            counts["new TXT"] += 1
