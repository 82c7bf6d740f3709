"""The run report: one JSON file per run in the store, ``reports/YYYY/MM/DD/<run id>.json``.

It says which source ran, when, on which host, what was discovered, fetched and archived, why
pages have no TXT, what waits in the spool and how the run finished, so a fleet that crawls for
years can be audited from the store alone. The counts are kept live (:meth:`RunReport.snapshot`)
for the progress display and the metrics textfile.

The report is written at ``engine_stopped``: only then has the Archiver finished publishing and
counted the spool (its ``spider_closed`` handler runs concurrently with everyone else's). Then
:data:`run_finished` is sent with the report, for components that export it elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import platform
import secrets
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from archive import __version__
from crawler.extensions.archiver import Archiver
from crawler.extensions.summary import CrawlSummary, _reason_class, outcome

logger = logging.getLogger(__name__)

run_finished = object()  # signal: handlers get report=dict


def report_key(run_id: str, started: datetime) -> str:
    return f"reports/{started:%Y/%m/%d}/{run_id}.json"


def new_run_id(source: str, started: datetime) -> str:
    return f"{started:%Y%m%dT%H%M%SZ}-{source}-{secrets.token_hex(3)}"


class RunReport:
    def __init__(self, crawler: Crawler, run_id: str = "", *, clock=lambda: datetime.now(UTC)):
        self.crawler = crawler
        self.stats = crawler.stats
        self.clock = clock
        self.run_id = run_id
        self.started = clock()
        self.counts: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()  # reason class -> pages
        self.reasons: Counter[str] = Counter()  # every page without a TXT, as the summary has it
        self.spider: Spider | None = None
        self.finish_reason: str | None = None
        self.report: dict | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunReport:
        if not crawler.settings.getbool("SANGRAH_RUN_REPORT", True):
            raise NotConfigured("SANGRAH_RUN_REPORT is off")
        ext = cls(crawler, crawler.settings.get("SANGRAH_RUN_ID") or "")
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    @property
    def source(self) -> str:
        spider = self.spider
        return (getattr(spider, "source", "") or spider.name) if spider else ""

    def spider_opened(self, spider: Spider) -> None:
        self.spider = spider
        self.started = self.clock()
        self.run_id = self.run_id or new_run_id(self.source, self.started)

    def item_scraped(self, item: dict) -> None:
        kind = outcome(item)
        self.counts[kind] += 1
        if item.get("status") is not None:
            self.counts["fetched"] += 1
        if kind != "archived":
            reason = _reason_class(item.get("reason") or kind)
            self.reasons[reason] += 1
            if kind == "failed":
                self.failures[reason] += 1

    def item_error(self, item: dict, failure: Any) -> None:
        reason = f"pipeline error: {type(failure.value).__name__}"
        self.counts["failed"] += 1
        self.reasons[reason] += 1
        self.failures[reason] += 1

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self.finish_reason = reason

    def snapshot(self) -> dict:
        """What the run has done so far: for progress lines and periodic metrics."""
        get = self.stats.get_value
        now = self.clock()
        return {
            "run_id": self.run_id,
            "source": self.source,
            "started": self.started.isoformat(),
            "elapsed": round((now - self.started).total_seconds(), 3),
            "discovered": get("sangrah/discovered", 0),
            "requested": get("sangrah/requested", 0),
            "fetched": self.counts["fetched"],
            "archived": self.counts["archived"],
            "not_article": self.counts["not_article"],
            "failed": self.counts["failed"],
            "failures": dict(self.failures.most_common()),
        }

    def build(self) -> dict:
        """The final report; call after the crawl stopped."""
        get = self.stats.get_value
        finished = self.clock()
        snap = self.snapshot()
        summary: dict = {}
        summarizer = self.crawler.get_extension(CrawlSummary)
        if summarizer is not None and self.spider is not None:
            summary = summarizer.summary(self.spider, self.finish_reason or "")
        problem = summary.get("problem")
        if problem is None and not summary:  # `fetch` and other spiders without a summary
            if failed := get("sangrah/write_failed"):
                problem = f"stopped: {failed}"
            elif self.finish_reason != "finished":
                problem = f"finished: {self.finish_reason}"
        archiver = self.crawler.get_extension(Archiver)
        session = archiver.session if archiver is not None else None
        return {
            "run_id": self.run_id,
            "source": snap["source"],
            "spider": self.spider.name if self.spider else "",
            "started": snap["started"],
            "finished": finished.isoformat(),
            "duration_seconds": round((finished - self.started).total_seconds(), 3),
            "host": platform.node(),
            "pid": os.getpid(),
            "software": f"sangrah/{__version__}",
            "store": session.store.uri if session else None,
            "counts": {k: snap[k] for k in ("discovered", "requested", "fetched", "archived",
                                            "not_article", "failed")},
            "reasons": dict(self.reasons.most_common()),
            "failures": snap["failures"],
            "skipped": summary.get("skipped", {}),
            "discovery_errors": summary.get("discovery_errors", []),
            "spool": {
                "directory": str(session.spool.directory) if session else None,
                "pending": get("sangrah/spool_pending", 0),
                "txt_unstored": get("sangrah/txt_unstored", 0),
            },
            "records": {k: get(f"sangrah/{k}", 0) for k in ("warc_responses", "warc_revisits",
                                                            "txt_written", "txt_unchanged")},
            "quality": summary.get("quality"),
            "drift": summary.get("drift"),
            "finish_reason": self.finish_reason,
            "ok": problem is None,
            "problem": problem,
        }  # fmt: skip

    async def engine_stopped(self) -> None:
        if self.spider is None:  # never opened: nothing ran
            return
        self.report = report = self.build()
        archiver = self.crawler.get_extension(Archiver)
        if archiver is not None:
            key = report_key(self.run_id, self.started)
            data = json.dumps(report, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
            try:
                await asyncio.to_thread(archiver.session.store.put_bytes, key, data)
                report["key"] = key
                logger.info("run report: %s", key)
            except (OSError, ValueError) as exc:
                # The report is a record of the run, not part of the archive: losing it must
                # not fail the run, but the operator must hear of it.
                logger.error("run report %s not stored: %s", key, exc)
                self.stats.set_value("sangrah/report_failed", str(exc))
        await self.crawler.signals.send_catch_log_async(signal=run_finished, report=report)
