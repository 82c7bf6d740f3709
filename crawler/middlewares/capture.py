"""Record every HTTP exchange into the WARC, exactly as it crossed the wire.

Ordered above every built-in downloader middleware (see settings), so it sees each redirect hop
and robots.txt fetch, and the body before HttpCompressionMiddleware decodes it. The record's
location is put into ``request.meta["warc"]`` for the pipelines; a revisit also gets
``request.meta["revisit_of"]``.

The response head is taken as the download handler received it (``meta["http_head"]``, see
crawler/rawhttp.py). The WARC-Date is when the capture began, not when the record was written
(a slow body or a busy writer would date it late): ``meta["warc_date"]`` is set here when the
request enters the downloader, and set again by crawler/rawhttp.py when it is actually sent
(after the per-domain delay).
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Headers, Response

from archive.warc.records import Clock, Exchange, utc_now
from crawler.extensions.archiver import Archiver
from crawler.rawhttp import DATE_META, HEAD_META, TRAILERS_META

logger = logging.getLogger(__name__)

# Credentials for our own proxy are not part of the exchange with the site.
_PRIVATE_HEADERS = {"proxy-authorization"}


def header_pairs(headers: Headers) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        if name.decode("latin-1").lower() not in _PRIVATE_HEADERS
        for value in values
    ]


def raw_head(request: Request, response: Response) -> tuple[bytes, bytes]:
    """The head (and trailers) the handler kept for this response; taken out of the meta, so a
    redirect or retry, which copies the meta, cannot carry them to another response."""
    head = request.meta.pop(HEAD_META, None) or b""
    trailers = request.meta.pop(TRAILERS_META, None) or b""
    status = head.split(b"\n", 1)[0].split(b" ")[1:2]
    if status != [str(response.status).encode()]:  # not this response's head (or none at all)
        return b"", b""
    return head, trailers


def exchange_from(request: Request, response: Response) -> Exchange:
    # Through a proxy, the peer address is the proxy's, not the site's: leave it out.
    ip = response.ip_address if not request.meta.get("proxy") else None
    head, trailers = raw_head(request, response)
    return Exchange(
        url=response.url,
        method=request.method,
        request_headers=header_pairs(request.headers),
        request_body=request.body,
        status=response.status,
        response_headers=header_pairs(response.headers),
        body=response.body,
        protocol=response.protocol or "HTTP/1.1",
        ip_address=str(ip) if ip else None,
        truncated=request.meta.get("truncated"),  # set by crawler.extensions.sizelimit
        date=request.meta.get(DATE_META),
        http_head=head,
        trailers=trailers,
    )


class WarcCaptureMiddleware:
    def __init__(self, archiver: Archiver, clock: Clock = utc_now):
        self.archiver = archiver
        self.clock = clock

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        archiver = crawler.get_extension(Archiver)
        if archiver is None:
            raise RuntimeError("WarcCaptureMiddleware needs the Archiver extension")
        return cls(archiver)

    def process_request(self, request: Request) -> None:
        # Each hop and retry passes here anew (its meta copied): the date is set every time.
        request.meta[DATE_META] = self.clock()

    async def process_response(self, request: Request, response: Response) -> Response:
        ref, revisit_of = await self.archiver.record_exchange(exchange_from(request, response))
        request.meta["warc"] = asdict(ref)
        if revisit_of is not None:
            request.meta["revisit_of"] = asdict(revisit_of)
        else:
            request.meta.pop("revisit_of", None)
        return response
