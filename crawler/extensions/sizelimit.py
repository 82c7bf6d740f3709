"""Responses past DOWNLOAD_MAXSIZE are cut there and kept, not thrown away.

Scrapy cancels such a download and drops everything received, so the WARC would not even show
that the page existed. Here the download is stopped (``StopDownload(fail=False)``) once more than
the limit has arrived: the response goes on with what was received (at most the limit plus one
network read, so memory per request stays bounded), is recorded, and its item says why it has no
TXT. A declared ``Content-Length`` over the limit stops the download before any body is read.

For the WARC writer the request gets ``meta["truncated"] = "length"`` (the value of a
``WARC-Truncated`` header); ``meta["truncated_at"]`` is the limit. Counted as
``sangrah/truncated``. The limit is ``DOWNLOAD_MAXSIZE`` or the request's ``download_maxsize``.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured, StopDownload
from scrapy.http import Headers

logger = logging.getLogger(__name__)
_RECEIVED = "_sangrah_bytes_received"


class TruncateOversize:
    def __init__(self, maxsize: int, stats: Any = None):
        if maxsize <= 0:
            raise NotConfigured("DOWNLOAD_MAXSIZE is 0: no limit")
        self.maxsize = maxsize
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TruncateOversize:
        ext = cls(crawler.settings.getint("DOWNLOAD_MAXSIZE"), crawler.stats)
        crawler.signals.connect(ext.headers_received, signal=signals.headers_received)
        crawler.signals.connect(ext.bytes_received, signal=signals.bytes_received)
        return ext

    def limit(self, request: Request) -> int:
        return int(request.meta.get("download_maxsize", self.maxsize) or 0)

    def headers_received(self, headers: Headers, body_length: int, request: Request, **_) -> None:
        # A new response (a retry, a redirect hop with the meta copied) starts at zero.
        request.meta[_RECEIVED] = 0
        request.meta.pop("truncated", None)
        request.meta.pop("truncated_at", None)
        limit = self.limit(request)
        if limit and isinstance(body_length, int) and body_length > limit:
            self.cut(request, limit, f"declared length {body_length} bytes")

    def bytes_received(self, data: bytes, request: Request, **_) -> None:
        received = request.meta.get(_RECEIVED, 0) + len(data)
        request.meta[_RECEIVED] = received
        limit = self.limit(request)
        # Scrapy's own check (received > limit: cancel, drop the body) runs right after this
        # signal, on the same condition: stopping here first keeps the body.
        if limit and received > limit:
            self.cut(request, limit, f"more than {limit} bytes received")

    def cut(self, request: Request, limit: int, what: str) -> None:
        request.meta["truncated"] = "length"
        request.meta["truncated_at"] = limit
        if self.stats is not None:
            self.stats.inc_value("sangrah/truncated")
        logger.warning("truncated %s at DOWNLOAD_MAXSIZE (%d bytes): %s", request.url, limit, what)
        raise StopDownload(fail=False)
