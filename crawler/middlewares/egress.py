"""The egress guard: no request leaves for a URL the crawler must not reach (archive.egress).

Every request passes here before anything is sent - start URLs, discovery links, sitemap
children, robots.txt, and each redirect or meta-refresh hop, which Scrapy schedules as a new
request. Ordered first (before robots.txt, so a forbidden host does not even get its robots.txt
asked for) and far below WarcCaptureMiddleware: by the time a redirect target is judged here, the
3xx (or the refresh page) that pointed at it is already in the WARC.

Names are judged again on their address by :class:`crawler.resolver.EgressResolver` when the
connection is made; a name it refused once is refused here at once (a retry would only ask it
again), with the resolver's reason. Through a proxy only the target URL is judged: the proxy's
own address is the operator's configuration.

Refusals fail the request with :class:`EgressRefused` (an IgnoreRequest, so no retry and no
traceback), are logged as warnings and counted: ``sangrah/egress/refused`` and one of
``sangrah/egress/refused_url``, ``.../refused_redirect``, ``.../refused_dns``.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import DNSLookupError

from archive.egress import EgressPolicy
from crawler.resolver import EgressResolver

logger = logging.getLogger(__name__)
_REDIRECTS = {301, 302, 303, 307, 308}


class EgressRefused(IgnoreRequest):
    """A request the egress guard did not let out; the message is the reason."""


class EgressGuardMiddleware:
    def __init__(
        self,
        policy: EgressPolicy,
        stats: StatsCollector | None = None,
        resolver: EgressResolver | None = None,
    ):
        self.policy = policy
        self.stats = stats
        self.resolver = resolver

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EgressGuardMiddleware:
        from twisted.internet import reactor

        # The resolver is per process, installed on the reactor from TWISTED_DNS_RESOLVER.
        resolver = getattr(reactor, "resolver", None)
        return cls(
            EgressPolicy(crawler.settings.getlist("SANGRAH_EGRESS_ALLOW")),
            crawler.stats,
            resolver if isinstance(resolver, EgressResolver) else None,
        )

    def process_request(self, request: Request) -> None:
        problem = self.policy.url_problem(request.url)
        if problem:
            how = "redirect" if request.meta.get("redirect_urls") else "url"
            self.refuse(request, problem, how)
        if known := self._dns_refusal(request):
            self.refuse(request, known, "dns")

    def process_response(self, request: Request, response: Response) -> Response:
        # A redirect RedirectMiddleware did not follow because of its scheme (file:, ftp:...)
        # would otherwise end as "Ignoring non-200 response"; say why it stopped.
        location = response.headers.get("Location")
        if response.status in _REDIRECTS and location and not request.meta.get("dont_redirect"):
            target = urljoin(request.url, location.decode("latin-1"))
            if problem := self.policy.url_problem(target):
                hop = f"{_short(request.url)} to {_short(target)}"
                self.refuse(request, problem, "redirect", f"redirect from {hop}")
        return response

    def process_exception(self, request: Request, exception: BaseException) -> None:
        # Reached when nothing above retried the failed lookup (RETRY_ENABLED=False).
        if isinstance(exception, DNSLookupError) and (known := self._dns_refusal(request)):
            self.refuse(request, known, "dns")

    def _dns_refusal(self, request: Request) -> str | None:
        if self.resolver is None or request.meta.get("proxy"):
            return None
        return self.resolver.refusal(urlparse_cached(request).hostname or "")

    def refuse(self, request: Request, problem: str, how: str, what: str = "") -> None:
        if self.stats is not None:
            self.stats.inc_value("sangrah/egress/refused")
            self.stats.inc_value(f"sangrah/egress/refused_{how}")
        hops = request.meta.get("redirect_urls") or []
        if not what and how == "redirect" and hops:
            what = f"redirect from {_short(hops[-1])} to {_short(request.url)}"
        reason = f"egress refused: {what}: {problem}" if what else f"egress refused: {problem}"
        logger.warning("%s (%s)", reason, _short(request.url))
        raise EgressRefused(reason)


def _short(url: str, limit: int = 300) -> str:
    # A refused URL may be the 60,000-character one; a reason stays one readable line.
    return url if len(url) <= limit else f"{url[:limit]}... ({len(url)} characters)"
