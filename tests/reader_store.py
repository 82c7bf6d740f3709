"""A small store written by hand for the reader/archivist features: three versions of one
article (linked by ``version_of``), a page that is not an article, a 404 and a robots.txt 404.

The CDXJ lines have the shape archive.warc.indexer writes; no WARC is needed, since nothing here
reads a record's payload.
"""

from __future__ import annotations

import unicodedata

from archive.store.local import LocalStore
from archive.warc import cdxj

WARC = "warc/2025/05/07/sangrah-20250507120000000000-00000-h-1.warc.gz"
PAGE = "https://ndtv.in/india/raksha-1"
VIDEO = "https://ndtv.in/videos/raksha-video-2"
GONE = "https://ndtv.in/india/gone-3"
ROBOTS = "https://ndtv.in/robots.txt"
TXTS = [f"txt/ndtv/2025/05/05/00{n}_0123456789abcde{n}.txt" for n in range(3)]
TITLE = "रक्षा मंत्री की बैठक"
TEXTS = [
    f"{TITLE}\n\nरक्षा मंत्री ने ०५ मई को ज़मीन पर सहयोग की बात की।\n\nदूसरा अनुच्छेद यहाँ है।\n",
    f"{TITLE}\n\nरक्षा मंत्री ने 05 मई को ज़मीन पर गहरे सहयोग की बात कही।\n\nदूसरा अनुच्छेद यहाँ है।\n",
    f"{TITLE}\n\nरक्षा मंत्री ने 05 मई को ज़मीन पर गहरे सहयोग की बात कही।\n\n"
    "दूसरा अनुच्छेद यहाँ है।\n\nतीसरा अनुच्छेद नया जोड़ा गया।\n",
]
VIDEO_REASON = "not an article: video page (URL rule)"


def response(url: str, offset: int, day: int, status: int = 200) -> cdxj.CdxjEntry:
    return cdxj.CdxjEntry(url, f"202505{day:02d}120000", {
        "mime": "text/html", "status": str(status), "digest": f"sha1:D{offset}",
        "offset": str(offset), "length": "50", "id": f"<urn:uuid:{offset}>",
        "date": f"2025-05-{day:02d}T12:00:00Z",
    })  # fmt: skip


def metadata(url: str, offset: int, day: int, **fields) -> cdxj.CdxjEntry:
    ref = {"warc": WARC, "offset": offset, "length": 50, "id": f"<urn:uuid:{offset}>"}
    data = {"type": "metadata", "mime": "application/json", "offset": str(offset + 60),
            "length": "10", "refers_to": ref, "source": "ndtv", **fields}  # fmt: skip
    return cdxj.CdxjEntry(url, f"202505{day:02d}120001", data)


def entries() -> list[cdxj.CdxjEntry]:
    article = {"title": TITLE, "canonical_url": PAGE, "is_article": True,
               "published": "2025-05-05T10:00:00+05:30"}  # fmt: skip
    return [
        response(PAGE, 100, 5),
        metadata(PAGE, 100, 5, txt=TXTS[0], **article),
        response(PAGE, 1000, 6),
        metadata(PAGE, 1000, 6, txt=TXTS[1], version_of=TXTS[0], **article),
        response(PAGE, 2000, 7),
        metadata(PAGE, 2000, 7, txt=TXTS[2], version_of=TXTS[1], **article),
        response(VIDEO, 3000, 6),
        metadata(VIDEO, 3000, 6, is_article=False, reason=VIDEO_REASON, title="वीडियो"),
        response(GONE, 4000, 7, status=404),
        response(ROBOTS, 10, 5, status=404),
    ]


def build(root) -> LocalStore:
    store = LocalStore(root)
    for key, text in zip(TXTS, TEXTS, strict=True):
        store.put_bytes(key, unicodedata.normalize("NFC", text).encode())
    store.put_bytes(WARC.replace(".warc.gz", ".cdxj"), cdxj.render(entries()))
    return store
