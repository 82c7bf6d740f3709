"""The item every fetched URL turns into, built from a response or from a failure.

Items are plain dicts so that they survive any exporter and a Redis queue. ``body`` is the
decoded page for the extraction pipeline; the report pipeline drops it.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError
from twisted.python.failure import Failure

from crawler.middlewares.egress import EgressRefused


def truncated_reason(meta: dict) -> str | None:
    if not meta.get("truncated"):
        return None
    limit = meta.get("truncated_at")
    return (
        f"truncated: the response is larger than DOWNLOAD_MAXSIZE ({limit} bytes); "
        "the WARC keeps the part received"
    )


def page_item(response: Response) -> dict[str, Any]:
    meta = response.meta
    return {
        "url": meta.get("given_url", response.url),
        "final_url": response.url,
        "status": response.status,
        "content_type": response.headers.get("Content-Type", b"").decode("latin-1"),
        "redirects": meta.get("redirect_urls", []),
        "warc": meta.get("warc"),
        "revisit_of": meta.get("revisit_of"),
        "source": meta.get("source"),
        "body": response.body,
        "reason": truncated_reason(meta),
        "note": None,
    }


def failure_reason(failure: Failure) -> str:
    exc = failure.value
    if isinstance(exc, EgressRefused):
        return str(exc)
    if isinstance(exc, IgnoreRequest):
        text = str(exc) or "request ignored"
        return "forbidden by robots.txt" if "robots" in text.lower() else text
    if failure.check(gzip.BadGzipFile, zlib.error, EOFError):
        # HttpCompressionMiddleware could not undo the Content-Encoding the server declared;
        # the WARC keeps the body as it came.
        return f"cannot decompress the body ({type(exc).__name__}: {exc})"
    if failure.check(DNSLookupError):
        return f"DNS lookup failed: {exc}"
    if failure.check(TimeoutError, TCPTimedOutError):
        return f"timed out: {exc}"
    return f"{type(exc).__name__}: {exc}"


def failure_item(failure: Failure) -> dict[str, Any]:
    request = failure.request  # set by Scrapy on errback failures
    meta = request.meta
    return {
        "url": meta.get("given_url", request.url),
        "final_url": request.url,
        "status": None,
        "content_type": None,
        "redirects": meta.get("redirect_urls", []),
        "warc": meta.get("warc"),
        "revisit_of": None,
        "source": meta.get("source"),
        "body": None,
        "reason": truncated_reason(meta) or failure_reason(failure),
        "note": None,
    }


def rejected_item(url: str, reason: str) -> dict[str, Any]:
    """A given URL that was never requested (not an http(s) URL, too long, ...)."""
    return {
        "url": url,
        "final_url": None,
        "status": None,
        "content_type": None,
        "redirects": [],
        "warc": None,
        "revisit_of": None,
        "source": None,
        "body": None,
        "reason": reason,
        "note": None,
    }
