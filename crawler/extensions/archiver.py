"""The run's archive outputs: one WARC recorder, the TXT store and the capture index.

Middleware and pipelines reach it with ``crawler.get_extension(Archiver)``. Every blocking call
(WARC writes, uploads, listing the store) runs in a worker thread; WARC records go through a
single thread so they are written in order, uploads through their own threads so a slow store
never holds up recording.
"""

from __future__ import annotations

import asyncio
import logging
import platform
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import NotConfigured

from archive import __version__
from archive.captures import Capture, CaptureIndex
from archive.layout import default_spool_dir
from archive.recorder import WarcRecorder
from archive.spool import Spool
from archive.storage import Store, open_store
from archive.sync import sync_spool
from archive.txtstore import TxtStore, spool_pending
from archive.warc import Exchange, RecordRef, payload_digest

logger = logging.getLogger(__name__)

S3_SETTINGS = {
    "endpoint_url": "AWS_ENDPOINT_URL",
    "region_name": "AWS_REGION_NAME",
    "access_key_id": "AWS_ACCESS_KEY_ID",
    "secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "session_token": "AWS_SESSION_TOKEN",
    "use_ssl": "AWS_USE_SSL",
    "verify": "AWS_VERIFY",
}


class Archiver:
    def __init__(
        self,
        store: Store,
        spool: Spool,
        warcinfo: dict[str, str],
        *,
        stats: Any = None,
        warc_prefix: str = "sangrah",
        warc_max_size: int = 1_000_000_000,
    ):
        self.store = store
        self.spool = spool
        self.stats = stats
        self.recorder = WarcRecorder(
            spool.path_for, warcinfo, prefix=warc_prefix, max_size=warc_max_size
        )
        self.txt = TxtStore(store)
        self.captures = CaptureIndex()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="warc")
        self._uploader = ThreadPoolExecutor(2, thread_name_prefix="upload")
        self._uploads: list[asyncio.Future] = []
        self.unpublished: list[tuple[str, str]] = []

    @classmethod
    def from_crawler(cls, crawler: scrapy.crawler.Crawler) -> Archiver:
        settings = crawler.settings
        uri = settings.get("SANGRAH_STORE")
        if not uri:
            raise NotConfigured("SANGRAH_STORE is empty")
        options = {arg: settings.get(name) for arg, name in S3_SETTINGS.items()}
        store = open_store(uri, **{k: v for k, v in options.items() if v is not None})
        spool_dir = Path(settings.get("SANGRAH_SPOOL_DIR") or default_spool_dir(uri))
        info = {
            "software": f"sangrah/{__version__} (Scrapy {scrapy.__version__})",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
            "warc-format/warc-1.1/",
            "hostname": platform.node(),
            "operator": settings.get("SANGRAH_OPERATOR"),
            "http-header-user-agent": settings.get("USER_AGENT"),
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            "contact": settings.get("SANGRAH_CONTACT"),
        }
        archiver = cls(
            store,
            Spool(spool_dir, store),
            {k: v for k, v in info.items() if v},
            stats=crawler.stats,
            warc_prefix=settings.get("SANGRAH_WARC_PREFIX"),
            warc_max_size=settings.getint("SANGRAH_WARC_MAX_SIZE"),
        )
        crawler.signals.connect(archiver.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(archiver.spider_closed, signal=signals.spider_closed)
        return archiver

    def count(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"sangrah/{key}", count)

    async def _run(self, executor: ThreadPoolExecutor, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    # --- lifecycle -------------------------------------------------------------------------
    async def spider_opened(self) -> None:
        report = await self._run(self._uploader, sync_spool, self.spool, self.txt)
        if report.published:
            logger.info(
                "published %d files left in the spool by earlier runs", len(report.published)
            )
        for key, reason in report.failed:
            logger.error("still cannot publish %s: %s", key, reason)
        self.captures = await self._run(self._uploader, CaptureIndex.load, self.store)

    async def spider_closed(self) -> None:
        closed = await self._run(self._writer, self.recorder.close)
        if closed:
            self._schedule_publish(*closed)
        await asyncio.gather(*self._uploads, return_exceptions=True)
        self._writer.shutdown()
        self._uploader.shutdown()
        pending = self.spool.pending()
        if self.stats is not None:
            self.stats.set_value("sangrah/spool_pending", len(pending))
        if pending:
            logger.error(
                "%d files could not be published to %s and wait in the spool %s; "
                "they go up with the next run or `sangrah sync`",
                len(pending),
                self.store.uri,
                self.spool.directory,
            )

    # --- publishing ------------------------------------------------------------------------
    def _publish_pair(self, warc_key: str, index_key: str) -> None:
        """The index goes up only once its WARC is safely stored."""
        for key in (warc_key, index_key):
            try:
                self.spool.publish(key)
            except Exception as exc:
                logger.error("could not publish %s to %s: %s", key, self.store.uri, exc)
                self.unpublished.append((key, str(exc)))
                self.count("upload_failed")
                return
        self.count("warc_published")

    def _schedule_publish(self, warc_key: str, index_key: str) -> None:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._uploader, self._publish_pair, warc_key, index_key)
        self._uploads.append(future)

    # --- recording -------------------------------------------------------------------------
    async def record_exchange(self, exchange: Exchange) -> tuple[RecordRef, Capture | None]:
        """Archive one exchange; a payload identical to the last capture becomes a revisit."""
        previous = self.captures.get(exchange.url)
        digest = None
        if previous is not None and exchange.status == 200:
            digest = payload_digest(exchange.body)
        revisit_of = previous if previous is not None and previous.digest == digest else None
        ref, closed = await self._run(self._writer, self._record, exchange, revisit_of)
        if closed:
            self._schedule_publish(*closed)
        self.count("warc_revisits" if revisit_of else "warc_responses")
        if revisit_of is None and ref.digest:
            self.captures.add_response(
                Capture(
                    exchange.url,
                    ref.warc,
                    ref.offset,
                    ref.length,
                    ref.record_id,
                    ref.date,
                    ref.digest,
                )
            )
        return ref, revisit_of

    def _record(
        self, exchange: Exchange, revisit_of: Capture | None
    ) -> tuple[RecordRef, tuple[str, str] | None]:
        """Write the exchange; close the file once it is full. A later metadata record about
        this response may land in the next file: it names the response's file in its index."""
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
        return ref, self.recorder.rotate_if_full()

    async def record_metadata(self, target_uri: str, response: RecordRef, data: dict) -> None:
        def write() -> tuple[str, str] | None:
            self.recorder.record_metadata(target_uri, response, data)
            return self.recorder.rotate_if_full()

        closed = await self._run(self._writer, write)
        if data.get("txt"):
            self.captures.add_txt(response.warc, response.offset, data["txt"])
        if closed:
            self._schedule_publish(*closed)

    async def put_txt(self, folder: str, canonical_url: str, data: bytes) -> str | None:
        """Store a TXT; None when the store failed and the TXT waits in the spool instead."""
        try:
            key = await self._run(self._uploader, self.txt.put, folder, canonical_url, data)
        except Exception as exc:
            path = spool_pending(self.spool.directory, folder, canonical_url, data)
            logger.error("TXT for %s waits in %s: %s", canonical_url, path, exc)
            self.count("txt_spooled")
            return None
        self.count("txt_written")
        return key
