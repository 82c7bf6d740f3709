"""Write the seed-format TXT of each article and a WARC metadata record describing it."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from scrapy.crawler import Crawler

from archive.txtstore import txt_folder
from archive.warc import RecordRef
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
        response = RecordRef(**item["warc"])
        metadata = {k: v for k, v in result.to_dict().items() if k != "blocks"}
        if result.is_article:
            data = result.txt_bytes()
            captured = datetime.fromisoformat(response.date.replace("Z", "+00:00"))
            folder = txt_folder(result.source, result.published, captured)
            try:
                item["txt"] = await self.archiver.put_txt(folder, result.canonical_url, data)
            except Exception as exc:
                logger.error("TXT for %s not stored: %s", item["final_url"], exc)
                item["reason"] = f"TXT not stored ({exc}); the page is in the WARC"
            else:
                metadata["txt"] = item["txt"]
                metadata["text_sha256"] = hashlib.sha256(data).hexdigest()
        await self.archiver.record_metadata(item["final_url"], response, metadata)
        return item
