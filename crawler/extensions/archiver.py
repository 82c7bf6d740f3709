"""The Scrapy side of the run's archive: a thin adapter around archive.session.ArchiveSession.

Middleware and pipelines reach it with ``crawler.get_extension(Archiver)``. It reads the
settings, checks the store before anything is fetched, and moves every blocking call of the
session (WARC writes, TXT claims, uploads) off the reactor: records through a small thread pool,
uploads of sealed WARCs through their own threads so a slow store never holds up recording.
When the WARC cannot be written (a full disk, an I/O error) it stops the crawl with that reason.
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
from archive.catalog.captures import Capture, CaptureIndex
from archive.session import ArchiveSession, ArticleText, PageResult, open_session
from archive.store import StoreError, open_store
from archive.store.layout import default_spool_dir
from archive.warc.recorder import ArchiveWriteError
from archive.warc.records import Exchange, RecordRef

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


def _shared_ordinals(redis_url: str | None, namespace: str):
    if not redis_url:
        return None
    from crawler.frontier import RedisOrdinals

    return RedisOrdinals(redis_url, namespace)


class StoreUnavailable(RuntimeError):
    """The store cannot be used at the start of a run: nothing is fetched."""


class Archiver:
    def __init__(self, session: ArchiveSession, *, crawler: Any = None, stats: Any = None):
        self.session = session
        self.crawler = crawler
        self.stats = stats
        self._io = ThreadPoolExecutor(4, thread_name_prefix="archive")
        self._uploader = ThreadPoolExecutor(2, thread_name_prefix="upload")
        self._uploads: list[asyncio.Future] = []
        self.failed: str | None = None

    @classmethod
    def from_crawler(cls, crawler: scrapy.crawler.Crawler) -> Archiver:
        settings = crawler.settings
        uri = settings.get("SANGRAH_STORE")
        if not uri:
            raise NotConfigured("SANGRAH_STORE is empty")
        options = {arg: settings.get(name) for arg, name in S3_SETTINGS.items()}
        store = open_store(uri, **{k: v for k, v in options.items() if v is not None})
        try:
            store.check()
        except StoreError as exc:
            logger.error("cannot archive into %s: %s", uri, exc)
            raise StoreUnavailable(str(exc)) from exc
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
        session = open_session(
            store,
            spool_dir,
            {k: v for k, v in info.items() if v},
            prefix=settings.get("SANGRAH_WARC_PREFIX"),
            max_size=settings.getint("SANGRAH_WARC_MAX_SIZE"),
            max_age=settings.getfloat("SANGRAH_WARC_MAX_AGE") or None,
            ordinals=_shared_ordinals(settings.get("SANGRAH_REDIS_URL"), store.uri),
        )
        archiver = cls(session, crawler=crawler, stats=crawler.stats)
        crawler.signals.connect(archiver.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(archiver.spider_closed, signal=signals.spider_closed)
        return archiver

    @property
    def captures(self) -> CaptureIndex:
        return self.session.captures

    def count(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"sangrah/{key}", count)

    async def _run(self, executor: ThreadPoolExecutor, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    # --- lifecycle -------------------------------------------------------------------------
    async def spider_opened(self) -> None:
        report = await self._run(self._uploader, self.session.recover)
        if report.rescued:
            logger.warning("sealed %d WARCs left open by runs that died", len(report.rescued))
        if report.published:
            logger.info("published %d files left in the spool earlier", len(report.published))
        if report.named:
            logger.info("named %d TXTs an earlier outage left unnamed", len(report.named))
        for key, reason in report.failed:
            logger.error("still cannot publish %s: %s", key, reason)

    async def spider_closed(self) -> None:
        try:
            await self._run(self._io, self.session.close)
        except OSError as exc:
            self._stop(exc, close_spider=False)
        await asyncio.gather(*self._uploads, return_exceptions=True)
        self._io.shutdown()
        self._uploader.shutdown()
        session = self.session
        pending = session.spool.pending()
        if self.stats is not None:
            self.stats.set_value("sangrah/spool_pending", len(pending))
            self.stats.set_value("sangrah/txt_unstored", len(session.unstored))
        if pending or session.unstored:
            logger.error(
                "%d files could not be published to %s and %d TXTs could not be stored; they "
                "wait in the spool %s and go up with the next run or `sangrah sync`",
                len(pending),
                session.store.uri,
                len(session.unstored),
                session.spool.directory,
            )

    def _stop(self, exc: OSError, *, close_spider: bool = True) -> None:
        """The WARC cannot be written: stop fetching, with the cause and the path as reason."""
        if self.failed is not None:
            return
        self.failed = str(exc)
        logger.error("stopping the crawl: %s", exc)
        if self.stats is not None:
            self.stats.set_value("sangrah/write_failed", str(exc))
        engine = getattr(self.crawler, "engine", None)
        if close_spider and engine is not None:
            asyncio.get_running_loop().create_task(
                engine.close_spider_async(reason="archive_write_failed")
            )

    # --- recording -------------------------------------------------------------------------
    def _publish_later(self, warc_key: str | None) -> None:
        if warc_key:
            loop = asyncio.get_running_loop()
            self._uploads.append(loop.run_in_executor(self._uploader, self._publish, warc_key))

    def _publish(self, warc_key: str) -> None:
        self.count("warc_published" if self.session.publish(warc_key) else "upload_failed")

    async def _write(self, fn, *args):
        try:
            result = await self._run(self._io, fn, *args)
            sealed = await self._run(self._io, self.session.rotate)
        except ArchiveWriteError as exc:
            self._stop(exc)
            raise
        self._publish_later(sealed)
        return result

    async def record_exchange(self, exchange: Exchange) -> tuple[RecordRef, Capture | None]:
        """Archive one exchange; a payload identical to the last capture becomes a revisit."""
        ref, revisit_of = await self._write(self.session.record_exchange, exchange)
        self.count("warc_revisits" if revisit_of else "warc_responses")
        return ref, revisit_of

    async def record_page(
        self, target_uri: str, response: RecordRef, metadata: dict, article: ArticleText | None
    ) -> PageResult:
        result = await self._write(
            self.session.record_page, target_uri, response, metadata, article
        )
        if article is not None:
            if result.pending:
                self.count("txt_unstored")
            elif not result.new:
                self.count("txt_unchanged")
            else:
                self.count("txt_written")
        return result
