"""Prometheus metrics of the run, in node_exporter's textfile-collector format.

On when ``SANGRAH_METRICS_FILE`` names the file. It is rewritten every
``SANGRAH_METRICS_INTERVAL`` seconds while the run goes on (a crawl that hangs shows as
``sangrah_run_in_progress 1`` with a growing duration, not as silence) and at the end with the
run report (archive/metrics.py explains the file and its counters).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from archive import metrics
from archive.metrics import Samples, labels
from crawler.extensions.runreport import RunReport, run_finished

logger = logging.getLogger(__name__)

# Counters of the file <- counts of the run.
COUNTERS = {
    "sangrah_articles_archived_total": "archived",
    "sangrah_pages_fetched_total": "fetched",
    "sangrah_not_article_total": "not_article",
}


class PrometheusTextfile:
    def __init__(self, path: str, interval: float = 60.0, crawler: Crawler | None = None):
        self.path = Path(path)
        self.interval = interval
        self.crawler = crawler
        self.base: Samples = {}  # the source's counters before this run
        self.task = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrometheusTextfile:
        path = crawler.settings.get("SANGRAH_METRICS_FILE")
        if not path:
            raise NotConfigured  # off unless SANGRAH_METRICS_FILE is set (no log line)
        ext = cls(path, crawler.settings.getfloat("SANGRAH_METRICS_INTERVAL", 60.0), crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.run_finished, signal=run_finished)
        return ext

    def run(self) -> RunReport | None:
        return self.crawler.get_extension(RunReport) if self.crawler else None

    def spider_opened(self) -> None:
        run = self.run()
        if run is None:
            logger.warning("SANGRAH_METRICS_FILE is set but the RunReport extension is off")
            return
        try:
            current = metrics.read(self.path)
        except OSError as exc:
            logger.error("cannot read the metrics file %s: %s", self.path, exc)
            current = {}
        self.base = metrics.of_source(current, run.source)
        self.task = create_looping_call(self.write_progress)
        self.task.start(self.interval, now=True)

    def spider_closed(self) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()

    def write_progress(self) -> None:
        run = self.run()
        if run is not None:
            snap = run.snapshot()
            started = datetime.fromisoformat(snap["started"]).timestamp()
            samples = self.samples(snap["source"], snap, snap["failures"], started, True)
            self._write(snap["source"], samples)

    def run_finished(self, report: dict) -> None:
        started = datetime.fromisoformat(report["started"]).timestamp()
        counts = {**report["counts"], "elapsed": report["duration_seconds"]}
        samples = self.samples(report["source"], counts, report["failures"], started, False)
        src = labels(source=report["source"])
        samples[("sangrah_run_ok", src)] = 1 if report["ok"] else 0
        samples[("sangrah_spool_pending_files", src)] = report["spool"]["pending"]
        # 0 also when there was no verdict (too little history): an alert fires on 1 only.
        drift = report.get("drift") or {}
        samples[("sangrah_drift", src)] = 1 if drift.get("status") == "drift" else 0
        rate = (report.get("quality") or {}).get("container_match_rate")
        if rate is not None:  # else the last known rate carries over from the file
            samples[("sangrah_run_container_match_ratio", src)] = rate
        result = labels(source=report["source"], result="ok" if report["ok"] else "failed")
        samples[("sangrah_runs_total", result)] = self.base.get(("sangrah_runs_total", result), 0)
        samples[("sangrah_runs_total", result)] += 1
        if report["ok"]:
            finished = datetime.fromisoformat(report["finished"]).timestamp()
            samples[("sangrah_last_success_timestamp_seconds", src)] = finished
        self._write(report["source"], samples)

    def samples(
        self, source: str, counts: dict, failures: dict, started: float, running: bool
    ) -> Samples:
        """The source's series: base counters plus this run, this run's gauges."""
        src = labels(source=source)
        # Series this run does not touch (runs_total of the other result, the last success,
        # the spool of the last run) carry over from the file.
        out = dict(self.base)
        for name, key in COUNTERS.items():
            out[(name, src)] = self.base.get((name, src), 0) + counts[key]
        for reason, n in failures.items():
            key = ("sangrah_failures_total", labels(source=source, reason=reason))
            out[key] = self.base.get(key, 0) + n
        out[("sangrah_run_discovered", src)] = counts["discovered"]
        out[("sangrah_run_archived", src)] = counts["archived"]
        out[("sangrah_run_failed", src)] = counts["failed"]
        out[("sangrah_run_in_progress", src)] = 1 if running else 0
        out[("sangrah_run_duration_seconds", src)] = counts["elapsed"]
        out[("sangrah_run_start_timestamp_seconds", src)] = started
        return out

    def _write(self, source: str, samples: Samples) -> None:
        try:
            metrics.update(self.path, source, samples)
        except OSError as exc:  # monitoring must never stop the archiving
            logger.error("cannot write the metrics file %s: %s", self.path, exc)
