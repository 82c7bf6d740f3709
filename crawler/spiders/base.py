"""``NewsSiteSpider``: discover a source's article URLs, then archive them newest first.

Two phases. Discovery fetches the source's feeds, sitemaps (index -> children; monthly ones chosen
by the window) and listing pages (and their next pages, up to ``listing_pages`` per listing), as
configured in ``[<source>.discovery]`` of sources.toml; every link is filtered by the source's
URL rules, keyed by its canonical URL (AMP/iframe/mobile twins collapse) and merged with what
other documents said about it (date, agency). When discovery is done (the spider goes idle) the
links are filtered by the window (``since``/``until``, ISO dates, IST days; undated links are
kept), sorted newest first, cut to ``limit`` and requested; each answer becomes one result item,
like ``fetch``'s.

Spider arguments (``-a name=value``): since, until, limit, refetch (request articles whose
TXT is already in the store again; by default a crawl is incremental and skips them), revisit
(``48h``, ``2d``: also request archived articles published that recently, so that edits
become new versions of their TXT).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from archive.discover import discovery
from archive.discover.discovery import Link
from archive.discover.sources import SourceSpec, load_sources
from archive.discover.urls import canonical_url
from archive.text.dates import IST
from crawler.extensions.archiver import Archiver
from crawler.results import failure_item, page_item
from crawler.spiders.fetch import ERROR_STATUSES

logger = logging.getLogger(__name__)

SUMMARY = "crawler.extensions.summary.CrawlSummary"
DRIFT = "crawler.extensions.drift.DriftMonitor"
DISCOVERY_PRIORITY = 1000  # discovery documents before anything else


@dataclass
class Found:
    """One article (canonical URL) and what the discovery documents said about it."""

    canonical: str
    url: str
    order: int
    date: datetime | None = None
    date_is_lastmod: bool = False
    agencies: set[str] = field(default_factory=set)
    title: str | None = None
    origins: list[str] = field(default_factory=list)


def _day(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be an ISO date (YYYY-MM-DD), not {text!r}") from None


def _query(url: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in urlsplit(url).query.split("&") if "=" in p)


def parse_age(value: str) -> timedelta:
    """``48h``, ``2d``, ``90m`` or a plain number of hours."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    text = str(value).strip().lower()
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "h")
    try:
        return timedelta(**{units[unit]: float(number)})
    except ValueError:
        raise ValueError(f"revisit: {value!r} is not an age like 48h, 2d or 90m") from None


def months(since: date, until: date) -> Iterator[tuple[int, int]]:
    """(year, month) from until's month back to since's month, newest first."""
    y, m = until.year, until.month
    while (y, m) >= (since.year, since.month):
        yield y, m
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)


class NewsSiteSpider(scrapy.Spider):
    source = ""  # the table name in sources.toml

    def __init__(
        self,
        since: str | None = None,
        until: str | None = None,
        limit: str | int | None = None,
        refetch: str | bool = False,
        revisit: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.revisit = parse_age(revisit) if revisit else None
        # Incremental by default: an article whose TXT is in the store is not requested again.
        self.refetch = refetch not in (False, "", "0", "false", "False")
        self.since = _day(since, "since")
        self.until = _day(until, "until")
        self.limit = int(limit) if limit not in (None, "", "0", 0) else None
        self.spec: SourceSpec = SourceSpec(name=self.source or "generic")
        self.found: dict[str, Found] = {}
        self.discovery_errors: list[str] = []
        self._released = False
        self.sources_file: str | None = None  # both set in from_crawler
        self.sitemap_max_size = discovery.SITEMAP_MAX_SIZE

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.sources_file = crawler.settings.get("SANGRAH_SOURCES_FILE") or None
        spider.sitemap_max_size = (
            crawler.settings.getint("DOWNLOAD_MAXSIZE") or discovery.SITEMAP_MAX_SIZE
        )
        spider.spec = load_sources(spider.sources_file)[cls.source]
        crawler.signals.connect(spider.release_articles, signal=signals.spider_idle)
        return spider

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        # The per-source summary and its drift check, here so that plain `scrapy crawl <source>`
        # has them too and `fetch` (no source, no history) does not list reports for nothing.
        # Spider priority: `scrapy crawl` re-applies the project settings after this (2.19).
        extensions = settings.getdict("EXTENSIONS")
        extensions.setdefault(SUMMARY, 500)
        extensions.setdefault(DRIFT, 490)
        settings.set("EXTENSIONS", extensions, priority="spider")

    # --- configuration --------------------------------------------------------------------------

    @property
    def conf(self) -> dict[str, Any]:
        return self.spec.discovery

    @property
    def request_headers(self) -> dict[str, str]:
        return dict(self.conf.get("request_headers", {}))

    def spec_for(self, url: str) -> SourceSpec:
        return self.spec

    def feed_urls(self) -> list[str]:
        return list(self.conf.get("feeds", []))

    def sitemap_urls(self) -> list[str]:
        urls = list(self.conf.get("sitemaps", []))
        template = self.conf.get("sitemap_month_template")
        if template and self.since:
            # Monthly sitemaps of the window, newest first, even when no index lists them.
            last = self.until or datetime.now(IST).date()
            urls += [template.format(yyyy=y, mm=f"{m:02d}") for y, m in months(self.since, last)]
        return urls

    def listing_urls(self) -> list[str]:
        return list(self.conf.get("listings", []))

    # --- discovery requests ---------------------------------------------------------------------

    def discovery_request(
        self, url: str, callback, request_cls: type[scrapy.Request] = scrapy.Request, **kwargs: Any
    ) -> scrapy.Request:
        meta = {"allow_offsite": True, "discovery": callback.__name__, **kwargs.pop("meta", {})}
        return request_cls(
            url,
            callback=callback,
            errback=self.discovery_failed,
            headers=self.request_headers,
            priority=DISCOVERY_PRIORITY,
            meta=meta,
            **kwargs,
        )

    @property
    def frontier(self):
        """The shared-frontier coordinator when SANGRAH_REDIS_URL is set, else None."""
        from crawler.frontier import FrontierCoordinator

        return self.crawler.get_extension(FrontierCoordinator)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if self.frontier is not None and not self.frontier.discovers:
            return  # another worker discovers; this one takes articles from the shared queue
        for url in self.feed_urls():
            yield self.discovery_request(url, self.parse_feed)
        for url in self.sitemap_urls():
            yield self.discovery_request(url, self.parse_sitemap)
        for url in self.listing_urls():
            yield self.discovery_request(url, self.parse_listing)

    def parse_feed(self, response: Response) -> Iterable[scrapy.Request]:
        links = discovery.parse_feed(response.body, response.url)
        self.note_document(response, "feed", links)
        self.add_links(links, response.url)
        return ()

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        try:
            kind, links = discovery.parse_sitemap(
                response.body, response.url, self.sitemap_max_size
            )
        except discovery.SitemapTooLarge as exc:
            self.discovery_error(response.url, str(exc))
            return
        if limit := response.meta.get("truncated_at"):
            # Cut at DOWNLOAD_MAXSIZE (crawler.extensions.sizelimit): the links read from the part
            # received are used, but for the last one, which the cut may have shortened.
            self.discovery_error(response.url, f"sitemap larger than {limit} bytes: cut there")
            if not kind:
                return
            links = links[:-1]
        self.note_document(response, kind or "not a sitemap", links)
        if kind == "index":
            for child in links:
                if self.follow_child_sitemap(child):
                    yield self.discovery_request(child.url, self.parse_sitemap)
        elif kind == "urlset":
            self.add_links(links, response.url)
        else:
            self.discovery_error(response.url, "not a sitemap")

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        css = self.conf.get("listing_link_css")
        links = discovery.parse_listing(response.text, response.url, css)
        if not css:  # every <a>: where the URL rules say nothing, keep what looks like news
            links = [link for link in links if self._listed_article(link.url)]
        self.note_document(response, "listing", links)
        self.add_links(links, response.url)
        return self.next_listing(response)

    def next_listing(self, response: Response) -> Iterator[scrapy.Request]:
        """The listing's next page (``listing_next``), until the listing has given
        ``listing_pages`` pages: older pages hold older links, and an endless or looping
        pagination must not keep discovery from ending."""
        css = self.conf.get("listing_next")
        css = ", ".join(css) if isinstance(css, list) else css
        if not css or not isinstance(response, TextResponse):
            return
        url = discovery.next_page(response.text, response.url, css)
        page = response.meta.get("listing_page", 1)
        if url is None:
            return
        if page >= int(self.conf.get("listing_pages", 1)):
            self.crawler.stats.inc_value("sangrah/discovery/listing_capped")
            logger.info("listing %s: page cap %d reached, %s not followed", response.url, page, url)
        elif not self.in_scope(url):
            self.crawler.stats.inc_value("sangrah/discovery/listing_offsite")
            logger.info("listing %s: next page %s is out of scope", response.url, url)
        else:
            self.crawler.stats.inc_value("sangrah/discovery/listing_next")
            yield self.discovery_request(url, self.parse_listing, meta={"listing_page": page + 1})

    def _listed_article(self, url: str) -> bool:
        verdict = self.spec_for(url).is_article_url(url)
        return discovery.looks_like_article(url) if verdict is None else verdict

    def follow_child_sitemap(self, child: Link) -> bool:
        """Children of a sitemap index, pruned by the window: a child last modified before
        ``since`` holds nothing new; a monthly child (sitemap_month_template) outside it neither."""
        if self.since and child.date and child.date.astimezone(IST).date() < self.since:
            return False
        month = self._template_month(child.url)
        if month and (self.since or self.until):
            lo = (self.since.year, self.since.month) if self.since else (0, 0)
            hi = (self.until.year, self.until.month) if self.until else (9999, 12)
            return lo <= month <= hi
        return True

    def _template_month(self, url: str) -> tuple[int, int] | None:
        """(year, month) of a URL built from sitemap_month_template, read from its query."""
        template = self.conf.get("sitemap_month_template")
        if not template:
            return None
        got, want = _query(url), _query(template)
        ykey = next((k for k, v in want.items() if v == "{yyyy}"), None)
        mkey = next((k for k, v in want.items() if v == "{mm}"), None)
        y, m = got.get(ykey or ""), got.get(mkey or "")
        return (int(y), int(m)) if y and m and y.isdigit() and m.isdigit() else None

    def note_document(self, response: Response, kind: str, links: list[Link]) -> None:
        self.crawler.stats.inc_value(f"sangrah/discovery/{kind}")
        logger.info("%s %s: %d links", kind, response.url, len(links))

    def discovery_error(self, url: str, reason: str) -> None:
        self.crawler.stats.inc_value("sangrah/discovery_failed")
        self.discovery_errors.append(f"{url}: {reason}")
        logger.warning("discovery document %s: %s", url, reason)

    def discovery_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        response = getattr(failure.value, "response", None)
        reason = f"HTTP {response.status}" if response is not None else None
        self.discovery_error(request.url, reason or failure.getErrorMessage())

    # --- links ----------------------------------------------------------------------------------

    def in_scope(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.spec.domains)

    def is_article(self, link: Link) -> bool:
        verdict = self.spec_for(link.url).is_article_url(link.url)
        return verdict is not False  # None: the rules do not say; feeds and sitemaps do

    def link_date(self, link: Link) -> tuple[datetime | None, bool]:
        if link.date:
            return link.date, bool(link.extra.get("lastmod_only"))
        regex, fmt = (self.conf.get("url_date") or [self.spec.published_from_url, None])[:2]
        return discovery.date_from_url(link.url, regex, fmt), False

    def add_links(self, links: Iterable[Link], origin: str) -> None:
        for link in links:
            if not self.in_scope(link.url) or not self.is_article(link):
                continue
            spec = self.spec_for(link.url)
            key = canonical_url(link.url, spec)
            found = self.found.get(key)
            if found is None:
                found = self.found[key] = Found(key, key, len(self.found))
            self.merge(found, link, origin)

    def merge(self, found: Found, link: Link, origin: str) -> None:
        dt, lastmod = self.link_date(link)
        if dt and (found.date is None or (found.date_is_lastmod and not lastmod)):
            found.date, found.date_is_lastmod = dt, lastmod
        if link.agency:
            found.agencies.add(link.agency)
        if keywords := link.extra.get("keywords"):
            found.agencies.update(k for k in keywords.split(",") if self._is_wanted_agency(k))
        found.title = found.title or link.title
        found.origins.append(origin)

    def _is_wanted_agency(self, text: str) -> bool:
        wanted = self.conf.get("agency_filter")
        if not wanted:
            return False
        spellings = self.spec.agencies.get(wanted, [wanted])
        return any(s.lower() in text.lower() for s in spellings)

    def agency_ok(self, found: Found) -> bool:
        """With ``agency_filter``: drop links whose documents name only other agencies/authors;
        keep the unknown ones (the extractor reads the byline)."""
        if not self.conf.get("agency_filter") or not found.agencies:
            return True
        return any(self._is_wanted_agency(a) for a in found.agencies)

    def in_window(self, found: Found) -> bool:
        if found.date is None:
            return True
        day = found.date.astimezone(IST).date()
        return (not self.since or day >= self.since) and (not self.until or day <= self.until)

    def already_archived(self, found: Found) -> bool:
        archiver = self.crawler.get_extension(Archiver)
        return archiver is not None and archiver.captures.has_article(found.canonical)

    def young(self, found: Found) -> bool:
        """Published within ``revisit`` (undated links are not: nothing says they are new)."""
        if self.revisit is None or found.date is None:
            return False
        return datetime.now(found.date.tzinfo or IST) - found.date <= self.revisit

    def sort_key(self, found: Found) -> tuple:
        """Newest first: dated links by date, then the undated ones in discovery order."""
        if found.date is None:
            return (1, 0.0, found.order)
        return (0, -found.date.timestamp(), found.order)

    def selected(self) -> list[Found]:
        stats = self.crawler.stats
        stats.set_value("sangrah/discovered", len(self.found))
        chosen = []
        for found in self.found.values():
            if not self.in_window(found):
                stats.inc_value("sangrah/skipped/outside_window")
            elif not self.agency_ok(found):
                stats.inc_value("sangrah/skipped/other_agency")
            elif not self.refetch and self.already_archived(found):
                if not self.young(found):
                    stats.inc_value("sangrah/skipped/already_archived")
                    continue
                stats.inc_value("sangrah/revisited")
                chosen.append(found)
            else:
                chosen.append(found)
        chosen.sort(key=self.sort_key)
        if self.limit is not None and len(chosen) > self.limit:
            stats.set_value("sangrah/skipped/over_limit", len(chosen) - self.limit)
            chosen = chosen[: self.limit]
        stats.set_value("sangrah/requested", len(chosen))
        return chosen

    # --- articles -------------------------------------------------------------------------------

    def request_url(self, found: Found) -> str:
        return found.url

    def article_request(self, found: Found, priority: int = 0) -> scrapy.Request:
        url = self.request_url(found)
        meta = {
            "given_url": url,
            "source": self.spec_for(url).name,
            "handle_httpstatus_list": ERROR_STATUSES,
            "discovered_date": found.date.isoformat() if found.date else None,
        }
        if found.agencies:
            meta["agency_hint"] = sorted(found.agencies)[0]
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            headers=self.request_headers,
            priority=priority,
            dont_filter=True,  # dedup is by canonical URL, done above
            meta=meta,
        )

    def release_articles(self) -> None:
        """spider_idle: discovery is over; request the chosen articles, newest first."""
        if self._released:
            return
        self._released = True
        frontier = self.frontier
        if frontier is not None and not frontier.discovers:
            return
        chosen = self.selected()
        logger.info(
            "%s: %d article URLs discovered, %d requested", self.name, len(self.found), len(chosen)
        )
        for rank, found in enumerate(chosen):
            request = self.article_request(found, priority=len(chosen) - rank)
            if frontier is not None:
                request.meta["shared"] = True  # any worker of the source may take it
            self.crawler.engine.crawl(request)
        if frontier is not None:
            frontier.released(self)
        if chosen:
            raise DontCloseSpider

    def parse_article(self, response: Response) -> Iterator[dict]:
        yield page_item(response)

    def article_failed(self, failure: Failure) -> Iterator[dict]:
        yield failure_item(failure)

    def parse(self, response: Response, **kwargs: Any) -> Any:
        return self.parse_article(response)
