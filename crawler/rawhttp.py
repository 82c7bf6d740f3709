"""Scrapy's HTTP/1.1 download handler, keeping the response head exactly as the server sent it.

Scrapy rebuilds headers from Twisted's parsed view: names re-cased, values decoded, order lost,
the reason phrase dropped, and the connection-level headers (Transfer-Encoding, Content-Length,
Connection...) kept apart by Twisted, so none of them would reach the WARC as sent. Here the
parser records the raw status line and header lines (and a chunked body's trailer lines) below
that parsing, and the handler puts them into ``request.meta["http_head"]`` (bytes, up to and
including the empty line) and ``request.meta["http_trailers"]`` for the WARC capture middleware
(see archive.warc.response_head), and the moment the request is sent into
``request.meta["warc_date"]``. Everything else is Scrapy's own handler, unchanged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
    _ScrapyAgent,
)
from scrapy.crawler import Crawler
from scrapy.exceptions import ResponseDataLossError
from scrapy.http import Response
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.web._newclient import STATUS

logger = logging.getLogger(__name__)

DATE_META = "warc_date"
HEAD_META = "http_head"
TRAILERS_META = "http_trailers"
_HEAD = "_sangrah_http_head"
_TRAILERS = "_sangrah_http_trailers"


class _RawHeadParser(_LenientHTTPClientParser):
    """Also keeps every line of the response head, as received.

    Swapped in as ``__class__`` of a fresh parser (as Scrapy does for its lenient parser), so it
    keeps its lines in attributes it creates itself rather than in ``__init__``.
    """

    def lineReceived(self, line: bytes) -> None:
        if self.state == STATUS:  # a new head (after an ignored 1xx response too)
            self._raw_lines: list[bytes] = []
        self._raw_lines.append(line + b"\n")  # LineReceiver split on "\n"; a "\r" stays in line
        super().lineReceived(line)

    def allHeadersReceived(self) -> None:
        # Before super(): its last step hands the response to Scrapy.
        self.response.__dict__[_HEAD] = b"".join(self._raw_lines)
        super().allHeadersReceived()

    def _finished(self, rest: bytes) -> None:
        trailers = getattr(self.bodyDecoder, "_trailerHeaders", None)
        if trailers and getattr(self, "response", None) is not None:
            self.response.__dict__[_TRAILERS] = b"".join(bytes(t) + b"\r\n" for t in trailers)
        super()._finished(rest)


class _RawHeadProtocol(_LenientHTTP11ClientProtocol):
    def request(self, request: Any) -> Any:
        d = super().request(request)
        assert self._parser is not None  # see _LenientHTTP11ClientProtocol.request
        self._parser.__class__ = _RawHeadParser
        return d


class _RawHeadFactory(_LenientHTTP11ClientFactory):
    def buildProtocol(self, addr: Any) -> _RawHeadProtocol:
        return _RawHeadProtocol(self._quiescentCallback)


class _RawHeadAgent(_ScrapyAgent):
    """Hands the raw head of the Twisted response on to the Scrapy request's meta."""

    def download_request(self, request: Request) -> Any:
        self._request = request  # an agent serves one request
        return super().download_request(request)

    def _cb_bodydone(self, result: Any, url: str) -> Response:
        txresponse = result["txresponse"]
        meta = self._request.meta
        meta.pop(TRAILERS_META, None)
        meta[HEAD_META] = txresponse.__dict__.get(_HEAD)
        if txresponse.__dict__.get(_TRAILERS):
            meta[TRAILERS_META] = txresponse.__dict__[_TRAILERS]
        return super()._cb_bodydone(result, url)


class RawHeadHTTP11DownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self._pool._factory = _RawHeadFactory

    async def download_request(self, request: Request) -> Response:
        # HTTP11DownloadHandler.download_request (Scrapy 2.19) with our agent: it builds its
        # agent inline, so the method is repeated rather than the module patched.
        request.meta[DATE_META] = datetime.now(UTC)  # the capture begins now (WARC-Date)
        spider = self._crawler.spider
        agent = _RawHeadAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=getattr(spider, "download_maxsize", self._default_maxsize),
            warnsize=getattr(spider, "download_warnsize", self._default_warnsize),
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        try:
            with wrap_twisted_exceptions():
                return await maybe_deferred_to_future(agent.download_request(request))
        except ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
