"""``fetch``: archive the given URLs, one result item per URL whatever happens to it.

    scrapy crawl fetch -a urls_file=urls.json      # a JSON list of URLs, taken as they are
    scrapy crawl fetch -a urls="URL URL"           # or separated by whitespace
    scrapy crawl fetch -a urls=URL,URL             # or by a comma right before http(s)://

A comma elsewhere is part of the URL (``?a=1,2`` is one URL). A URL that cannot be requested
(another scheme, too long, no host) is not requested: its item says why; the egress guard judges
the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from archive.egress import syntax_problem
from crawler.results import failure_item, page_item, rejected_item

ERROR_STATUSES = list(range(400, 600))
_SEPARATOR = re.compile(r"\s+|,(?=https?://)", re.IGNORECASE)


def read_urls(urls: str | list[str] = "", urls_file: str | None = None) -> list[str]:
    found = list(urls) if isinstance(urls, list) else _SEPARATOR.split(urls)
    if urls_file:
        listed = json.loads(Path(urls_file).read_text("utf-8"))
        if not isinstance(listed, list) or not all(isinstance(u, str) for u in listed):
            raise ValueError(f"{urls_file}: not a JSON list of URL strings")
        found += listed
    return [u for u in found if u]


class FetchSpider(scrapy.Spider):
    name = "fetch"

    def __init__(self, urls: str | list[str] = "", urls_file: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.urls = read_urls(urls, urls_file)
        if not self.urls:
            raise ValueError("fetch needs at least one URL: -a urls_file=FILE or -a urls=URL")

    async def start(self) -> AsyncIterator[Any]:
        for url in self.urls:
            if problem := syntax_problem(url):
                self.crawler.stats.inc_value("sangrah/bad_url")
                yield rejected_item(url, problem)
                continue
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
