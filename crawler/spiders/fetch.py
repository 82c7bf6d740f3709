"""``fetch``: archive the given URLs, one result item per URL whatever happens to it.

scrapy crawl fetch -a urls="https://ndtv.in/...,https://www.pib.gov.in/..."
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.results import failure_item, page_item

ERROR_STATUSES = list(range(400, 600))


class FetchSpider(scrapy.Spider):
    name = "fetch"

    def __init__(self, urls: str | list[str] = "", **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(urls, str):
            urls = [u for u in urls.replace("\n", ",").split(",") if u.strip()]
        self.urls = [u.strip() for u in urls]
        if not self.urls:
            raise ValueError("fetch needs at least one URL: -a urls=URL[,URL...]")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(
                url,
                callback=self.parse,
                errback=self.failed,
                dont_filter=True,
                # Error statuses reach parse(): a 404 or 403 is a result to report, not noise.
                # (handle_httpstatus_all would also switch redirects off.)
                meta={"given_url": url, "handle_httpstatus_list": ERROR_STATUSES},
            )

    def parse(self, response: Response, **kwargs: Any) -> Any:
        yield page_item(response)

    def failed(self, failure: Failure) -> Any:
        yield failure_item(failure)
