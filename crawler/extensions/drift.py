"""Drift telemetry: judge this run's extraction figures against the source's recent runs.

At spider_opened the history (the figures of the source's last runs, from their reports in the
store: archive/text/drift.py) is read off the reactor; at the end, the summary extension asks
:meth:`DriftMonitor.judge` with the figures it counted, marks a drifted run ``ok: false`` with
``problem: "drift: …"``, and the run report and the metrics textfile record the verdict.
``SANGRAH_DRIFT=0`` switches it off (the figures are still counted and reported).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from archive.text.drift import Rules, Verdict, judge, load_history
from crawler.extensions.archiver import Archiver

logger = logging.getLogger(__name__)


class DriftMonitor:
    def __init__(
        self,
        rules: Rules | None = None,
        *,
        crawler: Crawler | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.rules = rules or Rules()
        self.crawler = crawler
        self.clock = clock
        self.history: list[dict] | None = None  # None: not read (no store, or it failed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DriftMonitor:
        settings = crawler.settings
        if not settings.getbool("SANGRAH_DRIFT", True):
            raise NotConfigured("SANGRAH_DRIFT is off")
        rules = Rules(
            runs=settings.getint("SANGRAH_DRIFT_RUNS", Rules.runs),
            days=settings.getint("SANGRAH_DRIFT_DAYS", Rules.days),
            min_runs=settings.getint("SANGRAH_DRIFT_MIN_RUNS", Rules.min_runs),
            min_count=settings.getint("SANGRAH_DRIFT_MIN_ARTICLES", Rules.min_count),
        )
        ext = cls(rules, crawler=crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        return ext

    async def spider_opened(self, spider: Spider) -> None:
        source = getattr(spider, "source", "") or spider.name
        started = self.clock()
        archiver = self.crawler.get_extension(Archiver) if self.crawler else None
        if archiver is None:  # the history lives in the store's run reports
            logger.info("drift: no store, so no run history to compare with")
            return
        store = archiver.session.store
        try:
            self.history = await asyncio.to_thread(load_history, store, source, started, self.rules)
        except OSError as exc:  # monitoring must never stop the archiving
            logger.warning("drift: cannot read the run history of %s: %s", source, exc)
            return
        logger.info("drift: %d earlier runs of %s to compare with", len(self.history), source)

    def judge(self, figures: dict) -> Verdict:
        if self.history is None:
            return Verdict("no verdict")
        return judge(figures, self.history, self.rules)
