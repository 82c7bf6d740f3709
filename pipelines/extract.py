"""Run trafilatura-based extraction for every 200 HTML page, in a pool of worker processes.

Extraction never runs on the reactor thread: each page goes to the extraction pool
(archive.text.pool) and the pipeline awaits the result. A page that breaks the extractor is
reported and counted; the crawl goes on (the WARC has the page).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from scrapy.crawler import Crawler

from archive.text.extract import extract
from archive.text.pool import extraction_pool, stop_server

logger = logging.getLogger(__name__)


class ExtractPipeline:
    def __init__(self, workers: int = 2, sources_file: str | None = None, stats: Any = None):
        self.workers = workers
        self.sources_file = sources_file
        self.stats = stats
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        settings = crawler.settings
        return cls(
            workers=settings.getint("SANGRAH_EXTRACT_WORKERS"),
            sources_file=settings.get("SANGRAH_SOURCES_FILE") or None,
            stats=crawler.stats,
        )

    def open_spider(self) -> None:
        self._pool = extraction_pool(self.workers)

    def close_spider(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            stop_server()

    def _count(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"sangrah/{key}")

    async def process_item(self, item: dict) -> dict:
        if item.get("reason") or item.get("body") is None:
            return item
        if item["revisit_of"]:
            item["note"] = "payload unchanged since " + item["revisit_of"]["date"]
            if item["revisit_of"].get("txt"):
                return item
            # The earlier capture may still be in the pipeline (the same page fetched twice at
            # once, e.g. directly and through a redirect): extract, the TXT step deduplicates.
        if item["status"] != 200:
            item["reason"] = f"HTTP {item['status']}"
            return item
        assert self._pool is not None
        loop = asyncio.get_running_loop()
        args = (item["body"], item["final_url"], item["content_type"], self.sources_file)
        try:
            result = await loop.run_in_executor(self._pool, extract, *args)
        except BrokenProcessPool as exc:
            self._pool = extraction_pool(self.workers)
            return self._failed(item, exc)
        except Exception as exc:
            return self._failed(item, exc)
        item["extraction"] = result
        if not result.is_article:
            item["reason"] = result.reason or "not an article"
            self._count("not_article")
        return item

    def _failed(self, item: dict, exc: BaseException) -> dict:
        logger.error("extraction failed for %s: %r", item["final_url"], exc)
        self._count("extract_failed")
        item["reason"] = f"extraction failed: {type(exc).__name__}: {exc}"
        return item
