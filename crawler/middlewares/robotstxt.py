"""Scrapy's RobotsTxtMiddleware, with every request that waits for robots.txt really checked.

In Scrapy 2.19 the requests that arrive while a host's robots.txt is being fetched all await the
same Deferred through ``asFuture``, whose callback returns None: the first waiter gets the
parser, every later one gets None and goes out unchecked (seen here: the fourth concurrent
request to a host ignored its ``Disallow``). Each waiter gets its own Deferred here, so the shared
one keeps passing the parser along.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxt
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class RobotsTxtMiddleware(ScrapyRobotsTxt):
    async def robot_parser(self, request: Request) -> RobotParser | None:
        shared = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(shared, Deferred):
            return await super().robot_parser(request)
        mine: Deferred[RobotParser | None] = Deferred()

        def pass_on(parser: RobotParser | None) -> RobotParser | None:
            mine.callback(parser)
            return parser

        shared.addCallback(pass_on)
        return await maybe_deferred_to_future(mine)
