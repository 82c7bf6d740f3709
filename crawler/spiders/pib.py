"""PIB (pib.gov.in): Hindi RSS, the allRel.aspx listing and PRID backfill.

    scrapy crawl pib [-a since=2025-05-01 -a until=2025-05-07]
    scrapy crawl pib -a prid_range=2126700-2127300

Every view of a release (RSS iframe link, listing link, share page) is one PRID and is requested
as ``prid_template``; PRIDs grow monotonically, so "newest first" is "highest PRID first". With a
window, the listing is also posted back once per month of it (an ASP.NET WebForms postback of the
month dropdown, sites.md §1.5).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import scrapy
from scrapy.http import Response

from archive.discover import discovery
from archive.discover.discovery import Link
from archive.text.dates import IST
from crawler.spiders.base import Found, NewsSiteSpider, months


class PibSpider(NewsSiteSpider):
    name = "pib"
    source = "pib"

    def __init__(self, prid_range: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.prids = discovery.parse_id_range(prid_range) if prid_range else None

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if self.prids is None:
            async for request in super().start():
                yield request
            return
        # Backfill: the range is the discovery; articles go out when the spider is idle.
        template = self.conf["prid_template"]
        self.add_links((Link(template.format(prid=p)) for p in self.prids), "prid_range")

    def prid(self, found: Found) -> int:
        m = re.search(self.spec.canonical["id_regex"], found.canonical)
        return int(m[1]) if m else 0

    def request_url(self, found: Found) -> str:
        return self.conf["prid_template"].format(prid=self.prid(found))

    def sort_key(self, found: Found) -> tuple:
        return (-self.prid(found), found.order)

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        yield from super().parse_listing(response)
        if (self.since or self.until) and "postback" not in response.meta:
            yield from self.month_postbacks(response)

    def month_postbacks(self, response: Response) -> Iterator[scrapy.Request]:
        names = self.conf["listing_fields"]
        action, fields = discovery.form_fields(
            response.text, response.url, self.conf["listing_form_id"]
        )
        last = self.until or datetime.now(IST).date()
        for year, month in months(self.since or last, last):
            data = dict(fields)
            data.update(
                {
                    "__EVENTTARGET": names["month"],
                    "__EVENTARGUMENT": "",
                    names["year"]: str(year),
                    names["month"]: str(month),
                    names["day"]: "0",  # all days
                }
            )
            yield self.discovery_request(
                action,
                self.parse_listing,
                request_cls=scrapy.FormRequest,
                formdata=data,
                meta={"postback": f"{year}-{month:02d}"},
            )
