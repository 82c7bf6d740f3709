"""Progress lines of the run for ``sangrah crawl`` on a terminal.

On when ``SANGRAH_PROGRESS`` names a file (the CLI sets it only when its stderr is a TTY): every
``SANGRAH_PROGRESS_INTERVAL`` seconds and once at the end, one JSON line with the counts so far
(:meth:`RunReport.snapshot`) is appended. A file, not the child's stderr: the log goes there, and
the CLI renders the lines in place with rich (archive/progress.py).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from crawler.extensions.runreport import RunReport

logger = logging.getLogger(__name__)


class ProgressFile:
    def __init__(self, path: str, interval: float = 0.5, crawler: Crawler | None = None):
        self.path = Path(path)
        self.interval = interval
        self.crawler = crawler
        self.task = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressFile:
        path = crawler.settings.get("SANGRAH_PROGRESS")
        if not path:
            raise NotConfigured  # off unless SANGRAH_PROGRESS is set (no log line)
        ext = cls(path, crawler.settings.getfloat("SANGRAH_PROGRESS_INTERVAL", 0.5), crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self) -> None:
        self.task = create_looping_call(self.write)
        self.task.start(self.interval, now=True)

    def spider_closed(self) -> None:
        self._stop()
        self.write(done=True)

    def _stop(self) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()

    def write(self, done: bool = False) -> None:
        run = self.crawler.get_extension(RunReport) if self.crawler else None
        if run is None:
            return
        line = json.dumps({**run.snapshot(), "done": done}, ensure_ascii=False)
        try:
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError as exc:  # a display aid: never worth stopping the crawl for
            logger.warning("progress not written to %s: %s", self.path, exc)
            self._stop()
