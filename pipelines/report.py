"""One result line per fetched URL: what was archived where, or why no TXT was written.

Writes JSON lines to ``SANGRAH_REPORT`` (the CLI reads them) and logs a short line; strips the
page body and the extraction so exported items stay small, keeping only the few figures of the
extraction that the run's drift telemetry counts (``extract_figures``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import IO

from scrapy.crawler import Crawler

from archive.text.drift import page_figures

logger = logging.getLogger(__name__)


def result_record(item: dict) -> dict:
    warc = item.get("warc") or {}
    result = item.get("extraction")
    return {
        "url": item["url"],
        "final_url": item["final_url"],
        "status": item["status"],
        "txt": item.get("txt"),
        "warc": warc.get("warc"),
        "offset": warc.get("offset"),
        "length": warc.get("length"),
        "title": result.title if result else None,
        "published": result.published if result else None,
        "source": result.source if result else item.get("source"),
        "canonical_url": result.canonical_url if result else None,
        "revisit": bool(item.get("revisit_of")),
        "reason": None if item.get("txt") else item.get("reason") or "no TXT",
        "note": "; ".join(filter(None, [_redirect_note(item), item.get("note")])) or None,
    }


def _redirect_note(item: dict) -> str | None:
    hops = item.get("redirects") or []
    if not hops:
        return None
    return f"redirected {len(hops)}x to {item['final_url']} (each hop is in the WARC)"


class ReportPipeline:
    def __init__(self, path: str | None):
        self.path = Path(path) if path else None
        self._out: IO[str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReportPipeline:
        return cls(crawler.settings.get("SANGRAH_REPORT") or None)

    def open_spider(self) -> None:
        if self.path is not None:
            self._out = self.path.open("a", encoding="utf-8")

    def close_spider(self) -> None:
        if self._out is not None:
            self._out.close()

    def process_item(self, item: dict) -> dict:
        record = result_record(item)
        if record["txt"] and not record["reason"]:
            logger.info("archived %s -> %s", record["url"], record["txt"])
        else:
            logger.info("no TXT for %s: %s", record["url"], record["reason"])
        if self._out is not None:
            self._out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._out.flush()
        item.pop("body", None)
        if (result := item.pop("extraction", None)) is not None:
            item["extract_figures"] = page_figures(result)  # for the run's drift figures
        item.update(record)
        return item
