"""What is already archived: the latest capture of each URL, read from the per-WARC indexes.

Derived state only: it is rebuilt from the CDXJ files in the store (the truth) at the start of a
run and extended as the run records new captures. Used to write ``revisit`` records instead of a
second copy (and a second TXT) of a payload that has not changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from archive import cdxj
from archive.storage import Store
from archive.warc import Exchange, payload_digest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capture:
    url: str
    warc: str  # store key of the WARC file
    offset: int
    length: int
    record_id: str
    date: str  # WARC-Date of the original response record
    digest: str
    txt: str | None = None  # TXT key written for this capture, if it was an article
    key: str = ""  # what the request was (see request_key); the URL alone for a GET


def request_key(url: str, method: str = "GET", request_digest: str | None = None) -> str:
    """What makes two requests the same, for revisits: the URL, and for anything but a GET the
    method and the request body too (PIB's listing pages are POST postbacks to one URL, each
    month's answer different)."""
    if method.upper() == "GET":
        return url
    return f"{method.upper()} {url} {request_digest or ''}"


def exchange_key(exchange: Exchange) -> str:
    return request_key(exchange.url, exchange.method, payload_digest(exchange.request_body))


class CaptureIndex:
    def __init__(self) -> None:
        self._latest: dict[str, Capture] = {}
        self._txt: dict[tuple[str, int], str] = {}
        self._articles: set[str] = set()  # canonical URLs with a TXT

    def __len__(self) -> int:
        return len(self._latest)

    def get(self, key: str) -> Capture | None:
        """The latest capture of a request (:func:`request_key`: a GET's is its URL)."""
        capture = self._latest.get(key)
        if capture is None:
            return None
        txt = self._txt.get((capture.warc, capture.offset))
        return capture if txt == capture.txt else Capture(**{**capture.__dict__, "txt": txt})

    def add_response(self, capture: Capture) -> None:
        key = capture.key or capture.url
        previous = self._latest.get(key)
        if previous is None or previous.date <= capture.date:
            self._latest[key] = capture

    def add_txt(self, warc: str, offset: int, txt: str) -> None:
        self._txt[(warc, offset)] = txt

    def add_article(self, canonical_url: str) -> None:
        self._articles.add(canonical_url)

    def has_article(self, canonical_url: str) -> bool:
        """Whether a TXT of this article is in the store (an incremental crawl skips it)."""
        return canonical_url in self._articles

    def add_index(self, index_key: str, data: bytes) -> None:
        """Take in one CDXJ file; revisit lines are skipped (they point at an original)."""
        warc = index_key.removesuffix(".cdxj") + ".warc.gz"
        for entry in cdxj.parse(data):
            fields = entry.fields
            if fields.get("type") == "metadata":
                ref = fields.get("refers_to") or {}
                # A record names its TXT ("txt") or one that holds the same text ("txt_same_as").
                txt = fields.get("txt") or fields.get("txt_same_as")
                if txt and ref.get("warc"):
                    self.add_txt(ref["warc"], int(ref["offset"]), txt)
                if txt and fields.get("canonical_url"):
                    self.add_article(fields["canonical_url"])
            elif fields.get("mime") != "warc/revisit" and fields.get("digest"):
                self.add_response(
                    Capture(
                        url=entry.url,
                        warc=warc,
                        offset=int(fields["offset"]),
                        length=int(fields["length"]),
                        record_id=fields.get("id", ""),
                        date=fields.get("date") or entry.timestamp,
                        digest=fields["digest"],
                        key=request_key(
                            entry.url, fields.get("method", "GET"), fields.get("request_digest")
                        ),
                    )
                )

    @classmethod
    def load(cls, store: Store, prefix: str = "warc/") -> CaptureIndex:
        index = cls()
        for key in store.iter_keys(prefix):
            if key.endswith(".cdxj"):
                index.add_index(key, store.get_bytes(key))
        logger.info("capture index: %d URLs from %s", len(index), store.uri)
        return index
