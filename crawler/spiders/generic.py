"""Any news site: start pages, feeds and sitemaps given on the command line.

    scrapy crawl generic -a start_url=https://www.example.in/ -a feed=URL -a sitemap=URL

Each argument takes comma-separated URLs. The crawl stays on the registered domains of the URLs
given (OffsiteMiddleware via ``allowed_domains``); a host that has a source spec in sources.toml
keeps its URL rules, any other gets the generic spec (trafilatura defaults).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

from archive.discover import discovery
from archive.discover.discovery import Link, registered_domain
from archive.discover.sources import SourceSpec, source_for_url
from crawler.spiders.base import NewsSiteSpider


def _urls(value: str | None) -> list[str]:
    return [u.strip() for u in (value or "").replace("\n", ",").split(",") if u.strip()]


class GenericSpider(NewsSiteSpider):
    name = "generic"
    source = "generic"

    def __init__(
        self,
        start_url: str | None = None,
        feed: str | None = None,
        sitemap: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.start_urls = _urls(start_url)
        self.feeds, self.sitemaps = _urls(feed), _urls(sitemap)
        given = [*self.start_urls, *self.feeds, *self.sitemaps]
        if not given:
            raise ValueError("generic needs -a start_url=URL, -a feed=URL or -a sitemap=URL")
        self.allowed_domains = sorted(
            {registered_domain(urlsplit(u).hostname or "") for u in given}
        )

    def feed_urls(self) -> list[str]:
        return self.feeds

    def sitemap_urls(self) -> list[str]:
        return self.sitemaps

    def listing_urls(self) -> list[str]:
        return self.start_urls

    def parse_listing(self, response: Response) -> Iterable[scrapy.Request]:
        """A start URL is read as a listing; when it is an article itself, it is archived too."""
        if discovery.page_is_article(response.body):
            self.add_links([Link(response.url)], response.url)
        return super().parse_listing(response)

    def spec_for(self, url: str) -> SourceSpec:
        return source_for_url(url, self.sources_file)

    def in_scope(self, url: str) -> bool:
        return registered_domain(urlsplit(url).hostname or "") in self.allowed_domains
