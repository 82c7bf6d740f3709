"""WACZ 1.1.1 packages of the archive, for replay tools (ReplayWeb.page, pywb) and for handing
an archive over.

Two kinds: `export_wacz` packs whole WARC files as they are in the store (their SHA-256 in
``datapackage.json`` is the store's), with the articles they hold as pages; `replay_wacz` packs
the captures of one URL, each record's bytes copied unchanged into one small WARC (a record is a
whole gzip member, so members concatenate into a valid ``.warc.gz``), for the UI's replay.

The index is the CDXJ of the store without sangrah's metadata lines (replay tools would take a
JSON record for the page); ``pages/pages.jsonl`` carries each article's title and text, which is
what ReplayWeb.page's full-text search reads.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from posixpath import basename
from typing import BinaryIO

from archive import __version__
from archive.catalog.db import Catalog
from archive.store import Store
from archive.text.seedfile import from_seed_txt
from archive.warc import cdxj

WACZ_VERSION = "1.1.1"
CHUNK = 8 * 2**20
_EPOCH = datetime(1980, 1, 1, tzinfo=UTC)  # the earliest time a zip entry can carry
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "Articles", "hasText": True}


@dataclass
class WaczReport:
    pages: int = 0
    warcs: list[str] = field(default_factory=list)
    index_lines: int = 0


class WaczWriter:
    """Writes the parts of a WACZ into `fileobj` and, on `close`, the datapackage that lists
    each with its size and SHA-256."""

    def __init__(self, fileobj: BinaryIO, title: str, created: datetime | None = None) -> None:
        self.zip = zipfile.ZipFile(fileobj, "w", allowZip64=True)
        self.title = title
        self.created = (created or datetime.now(UTC)).astimezone(UTC)
        self.resources: list[dict] = []

    def add(self, path: str, chunks: Iterable[bytes], size_hint: int = 0) -> None:
        # Everything is stored, not deflated: replay tools read the parts by byte range, and
        # ReplayWeb.page reads pages.jsonl raw. ZIP64 headers only where a part needs them
        # (> 2 GiB), since wabac.js misreads the data offset of an entry that has them.
        info = self._info(path)
        digest, size = hashlib.sha256(), 0
        with self.zip.open(info, "w", force_zip64=size_hint > 2**31) as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        self.resources.append(
            {"name": basename(path).lower(), "path": path,
             "hash": f"sha256:{digest.hexdigest()}", "bytes": size}
        )  # fmt: skip

    def close(self, main_url: str | None = None, main_date: str | None = None) -> None:
        package = {
            "profile": "data-package",
            "resources": self.resources,
            "title": self.title,
            "created": self.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "wacz_version": WACZ_VERSION,
            "software": f"sangrah {__version__}",
            **({"mainPageURL": main_url} if main_url else {}),
            **({"mainPageDate": main_date} if main_date else {}),
        }
        data = json.dumps(package, indent=2).encode()
        self.zip.writestr(self._info("datapackage.json"), data)
        digest = {"path": "datapackage.json", "hash": f"sha256:{hashlib.sha256(data).hexdigest()}"}
        self.zip.writestr(self._info("datapackage-digest.json"), json.dumps(digest, indent=2))
        self.zip.close()

    def _info(self, path: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(path, self.created.timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED
        return info


def export_wacz(
    store: Store,
    catalog: Catalog,
    out: BinaryIO,
    source: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> WaczReport:
    """The articles published in [since, until] (of `source`) as pages, with every WARC file
    that holds one of them, whole, and the index of those WARCs."""
    articles = [a for a in catalog.articles(source, since, until) if a.get("warc")]
    warcs = sorted({a["warc"] for a in articles})
    report = WaczReport(pages=len(articles), warcs=warcs)
    writer = WaczWriter(out, title=_title(source, since, until))
    for key in warcs:
        writer.add(f"archive/{basename(key)}", _read_chunks(store, key), store.size(key))
    lines = sorted(line for key in warcs for line in _replay_lines(store, key))
    report.index_lines = len(lines)
    writer.add("indexes/index.cdx", [("\n".join(lines) + "\n").encode()])
    writer.add("pages/pages.jsonl", [_pages(store, articles)])
    writer.close()
    return report


def replay_wacz(store: Store, catalog: Catalog, url: str, out: BinaryIO) -> WaczReport:
    """The full captures of `url` (revisits have no payload of their own) in one small WARC,
    with the article of the URL, if it has one, as the page."""
    captures = [c for c in catalog.captures(url) if not c["is_revisit"]]
    found = catalog.find(url)
    articles = [found] if found and not found.get("capture") else []
    name = "archive/replay.warc.gz"
    lines, data, offset = [], [], 0
    for c in captures:
        record = store.read_range(c["warc"], c["offset"], c["length"])
        fields = {"mime": c["mime"], "status": str(c["status"]), "digest": c["digest"],
                  "length": str(len(record)), "offset": str(offset),
                  "filename": basename(name)}  # fmt: skip
        lines.append(cdxj.CdxjEntry(c["url"], cdxj.timestamp14(c["date"]), fields).line())
        data.append(record)
        offset += len(record)
    # Dated by its last capture, not by the clock: the same captures make the same bytes, so
    # the range requests of a replay, each answered by a new package, read one file.
    last = captures[-1]["date"] if captures else None
    created = datetime.fromisoformat(last.replace("Z", "+00:00")) if last else _EPOCH
    writer = WaczWriter(out, title=f"sangrah: {url}", created=created)
    writer.add(name, data)
    writer.add("indexes/index.cdx", [("\n".join(sorted(lines)) + "\n").encode()])
    writer.add("pages/pages.jsonl", [_pages(store, articles)])
    writer.close(main_url=url, main_date=last)
    return WaczReport(pages=len(articles), warcs=[name], index_lines=len(lines))


def _replay_lines(store: Store, warc: str) -> Iterator[str]:
    """The WARC's index lines that replay tools should see: responses and revisits."""
    index = warc.removesuffix(".warc.gz") + ".cdxj"
    for entry in cdxj.parse(store.get_bytes(index)):
        if entry.fields.get("type") != "metadata":
            yield entry.line()


def _pages(store: Store, articles: list[dict]) -> bytes:
    lines = [json.dumps(PAGES_HEADER)]
    for a in articles:
        try:
            title, blocks = from_seed_txt(store.get_bytes(a["txt"]))
        except FileNotFoundError:  # still in a spool: the page is there, its text not yet
            title, blocks = a["title"], []
        page_id = hashlib.sha256(a["txt"].encode()).hexdigest()[:24]
        page = {"id": page_id, "url": a["url"], "ts": a["captured"],
                "title": title or a["title"], "text": "\n".join(blocks)}  # fmt: skip
        lines.append(json.dumps(page, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


def _read_chunks(store: Store, key: str) -> Iterator[bytes]:
    size, start = store.size(key), 0
    while start < size:
        chunk = store.read_range(key, start, min(CHUNK, size - start))
        if not chunk:
            raise OSError(f"{key}: short read at {start} of {size} bytes")
        yield chunk
        start += len(chunk)


def _title(source: str | None, since: str | None, until: str | None) -> str:
    parts = [source or "all sources"]
    if since or until:
        parts.append(f"published {since or '…'} to {until or '…'}")
    return "sangrah: " + ", ".join(parts)
