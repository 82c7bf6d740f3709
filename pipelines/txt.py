"""Write the seed-format TXT of each article and a WARC metadata record describing it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from datetime import datetime

from scrapy.crawler import Crawler

from archive.txtstore import txt_folder
from archive.warc import RecordRef
from crawler.extensions.archiver import Archiver

logger = logging.getLogger(__name__)


class TxtPipeline:
    def __init__(self, archiver: Archiver):
        self.archiver = archiver
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

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
            await self._write_txt(item, result, response, metadata)
        await self.archiver.record_metadata(item["final_url"], response, metadata)
        return item

    async def _write_txt(self, item: dict, result, response: RecordRef, metadata: dict) -> None:
        # One article at a time: twins fetched at once must not both find "no TXT yet".
        lock = self._locks.setdefault(result.canonical_url, asyncio.Lock())
        async with lock:
            await self._write_txt_locked(item, result, response, metadata)

    async def _write_txt_locked(
        self, item: dict, result, response: RecordRef, metadata: dict
    ) -> None:
        data = result.txt_bytes()
        digest = hashlib.sha256(data).hexdigest()
        metadata["text_sha256"] = digest
        existing = self.archiver.captures.txt_with_text(result.canonical_url, digest)
        if existing:
            item["txt"] = metadata["txt"] = existing
            item["note"] = "same text as an earlier capture of this article"
            self.archiver.count("txt_unchanged")
            return
        captured = datetime.fromisoformat(response.date.replace("Z", "+00:00"))
        folder = txt_folder(result.source, result.published, captured)
        key = await self.archiver.put_txt(folder, result.canonical_url, data)
        if key is None:
            item["reason"] = "the store failed: the TXT waits in the spool for `sangrah sync`"
            metadata["txt_pending"] = True
            return
        item["txt"] = metadata["txt"] = key
        self.archiver.captures.add_text(result.canonical_url, digest, key)
