"""IANS Hindi copy: newsnationtv.com news sitemap, sitemap index, RSS and section pages, and
ianslive.in; only wire copy where a feed or sitemap names the agency (``agency_filter``)."""

from crawler.spiders.base import NewsSiteSpider


class IansSpider(NewsSiteSpider):
    name = "ians"
    source = "ians"
