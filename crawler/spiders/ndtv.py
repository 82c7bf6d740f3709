"""NDTV Hindi (ndtv.in): FeedBurner RSS (``<source>`` agency -> meta["agency_hint"]), the Google
News sitemap, monthly sitemaps (by --since/--until), section pages; AMP twins collapse."""

from crawler.spiders.base import NewsSiteSpider


class NdtvSpider(NewsSiteSpider):
    name = "ndtv"
    source = "ndtv"
