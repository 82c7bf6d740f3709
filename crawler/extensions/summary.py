"""Per-crawl summary of a source: what was discovered, fetched, archived, and why not.

Counts the result items (after the pipelines: ``txt`` set means archived as an article) and reads
the discovery counters the spider left in the stats. At spider_closed it logs the summary and
appends ``{"summary": {...}}`` to ``SANGRAH_REPORT``. A source that discovered no article URL, or
archived none of the ones it requested, is failed: stat ``sangrah/source_failed``, an ERROR in
the log, and ``"ok": false`` in the line (``sangrah crawl`` exits 1 on it).

It also counts the extraction figures of the run (``quality``: container-match rate, median
text length, … from the ``extract_figures`` the report pipeline leaves on each item) and, when
the drift monitor is on, asks it whether they fell far below the source's recent runs: a run
that drifted is failed too, with ``problem: "drift: <reasons>"`` and a WARNING in the log.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from archive.text.drift import RunQuality, Verdict
from crawler.extensions.drift import DriftMonitor

logger = logging.getLogger(__name__)
EXTRACTION_FAILED = ("no headline found", "no article text found", "extraction failed")


def outcome(item: dict) -> str:
    if item.get("txt"):
        return "archived"
    if item.get("status") is None or item["status"] >= 400:
        return "failed"
    return "not_article"


class CrawlSummary:
    def __init__(
        self,
        stats: Any,
        report: str | None = None,
        drift: Callable[[dict], Verdict | None] | None = None,
    ):
        self.stats = stats
        self.report = Path(report) if report else None
        self.drift = drift  # figures -> verdict; None: no drift monitor
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.quality = RunQuality()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlSummary:
        def drift(figures: dict) -> Verdict | None:
            # Looked up when asked: extensions cannot be looked up while they are being built.
            monitor = crawler.get_extension(DriftMonitor)
            return monitor.judge(figures) if monitor is not None else None

        ext = cls(crawler.stats, crawler.settings.get("SANGRAH_REPORT") or None, drift)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def item_scraped(self, item: dict) -> None:
        kind = outcome(item)
        self.counts[kind] += 1
        if item.get("status") is not None:
            self.counts["fetched"] += 1
        if kind != "archived":
            self.reasons[_reason_class(item.get("reason") or kind)] += 1
        if figures := item.get("extract_figures"):
            self.quality.add(figures)

    def item_error(self, item: dict, failure: Any) -> None:
        self.counts["failed"] += 1
        self.reasons[f"pipeline error: {type(failure.value).__name__}"] += 1

    def extraction_failures(self) -> int:
        """Pages the extractor took for articles but could not read (a changed template)."""
        return sum(n for why, n in self.reasons.items() if why.startswith(EXTRACTION_FAILED))

    def summary(self, spider: Spider, reason: str) -> dict:
        get = self.stats.get_value
        discovered = get("sangrah/discovered", 0)
        requested = get("sangrah/requested", 0)
        problem = None
        if failed := get("sangrah/write_failed"):
            problem = f"stopped: {failed}"
        elif get("sangrah/frontier_role") == "worker":
            pass  # another worker discovered; this one took what the shared queue gave it
        elif not discovered:
            problem = "no article URL discovered"
        elif requested and not self.counts["archived"]:
            # On an incremental run, articles already archived prove that the source worked;
            # article pages in which the extractor found nothing still point at broken rules.
            known = get("sangrah/skipped/already_archived", 0)
            if not known or self.extraction_failures():
                problem = "no article archived"
        quality = self.quality.figures()
        verdict = self.drift(quality) if self.drift is not None else None
        if problem is None and verdict is not None and verdict.status == "drift":
            problem = "drift: " + "; ".join(verdict.reasons)
        return {
            "source": getattr(spider, "source", "") or spider.name,
            "spider": spider.name,
            "discovered": discovered,
            "requested": requested,
            "fetched": self.counts["fetched"],
            "archived": self.counts["archived"],
            "not_article": self.counts["not_article"],
            "failed": self.counts["failed"],
            "reasons": dict(self.reasons.most_common()),
            "skipped": {
                key.rsplit("/", 1)[1]: value
                for key, value in sorted(self.stats.get_stats().items())
                if key.startswith("sangrah/skipped/")
            },
            "discovery_errors": list(getattr(spider, "discovery_errors", [])),
            "finish_reason": reason,
            "role": get("sangrah/frontier_role"),
            "quality": quality,
            "drift": verdict.to_dict() if verdict is not None else None,
            "ok": problem is None,
            "problem": problem,
        }

    def spider_closed(self, spider: Spider, reason: str) -> None:
        summary = self.summary(spider, reason)
        if summary["problem"]:
            self.stats.set_value("sangrah/source_failed", 1)
            drifted = summary["problem"].startswith("drift: ")
            logger.log(
                logging.WARNING if drifted else logging.ERROR,
                "source %s failed: %s",
                summary["source"],
                summary["problem"],
            )
        logger.info("summary: %s", json.dumps(summary, ensure_ascii=False))
        if self.report is not None:
            with self.report.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"summary": summary}, ensure_ascii=False) + "\n")


def _reason_class(reason: str) -> str:
    """Group reasons that differ only in detail ("HTTP 404", "soft 404: ...")."""
    return reason.split(":", 1)[0].strip()[:80]
