"""Webdunia Hindi (hindi.webdunia.com): sitemap index -> section sitemaps, the news sitemap, RSS
and section pages; religion/ramcharitmanas pages are not articles (``nonarticle_url``)."""

from crawler.spiders.base import NewsSiteSpider


class WebduniaSpider(NewsSiteSpider):
    name = "webdunia"
    source = "webdunia"
