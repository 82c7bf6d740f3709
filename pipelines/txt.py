"""Write the seed-format TXT of each article and a WARC metadata record describing it.

The archiving rules (naming, deduplication, what happens when the store fails) are the
session's (archive.session); this adapter turns an item's extraction result into its input.
"""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler

from archive.session import ArticleText
from archive.warc.records import RecordRef
from crawler.extensions.archiver import Archiver

logger = logging.getLogger(__name__)


class TxtPipeline:
    def __init__(self, archiver: Archiver):
        self.archiver = archiver

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TxtPipeline:
        return cls(crawler.get_extension(Archiver))

    async def process_item(self, item: dict) -> dict:
        item["txt"] = None
        if item["revisit_of"]:
            item["txt"] = item["revisit_of"].get("txt")
        result = item.get("extraction")
        if result is None or not item["warc"]:
            return item
        metadata = {k: v for k, v in result.to_dict().items() if k != "blocks"}
        article = None
        if result.is_article:
            article = ArticleText(
                result.canonical_url, result.source, result.published, result.txt_bytes()
            )
        page = await self.archiver.record_page(
            item["final_url"], RecordRef(**item["warc"]), metadata, article
        )
        if article is not None:
            item["txt"] = page.txt
            item["reason"] = page.pending or item.get("reason")
            item["note"] = page.note or item.get("note")
        return item
