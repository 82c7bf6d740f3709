"""What the replay proxy answers with: HTTP resources keyed by their real URLs.

Two sources feed a :class:`Resources` map: corpus folders in the ``tests/corpus`` format
(``manifest*.jsonl`` + body files) and WARC files, whose ``response`` records are replayed with the
status, headers and payload bytes exactly as stored. Bodies are read when served, not at load, so
a directory of crawl WARCs costs one index pass and no memory for payloads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from io import BytesIO
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes, urlsplit, urlunsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader

logger = logging.getLogger("archive.replay")

# Characters RFC 3986 allows unescaped in a path / query. Anything else is percent-escaped, and
# every escape of an allowed character is undone, so each spelling of a URL meets the same key.
_PATH_SAFE = "/:@!$&'()*+,;="
_QUERY_SAFE = _PATH_SAFE + "?"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _no_body() -> bytes:
    return b""


@dataclass(frozen=True)
class Resource:
    """One stored HTTP answer. ``read_body`` returns the payload as stored (maybe gzip)."""

    status: int
    headers: list[tuple[str, str]]
    read_body: Callable[[], bytes] = _no_body
    reason: str = ""

    @classmethod
    def from_bytes(cls, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> Resource:
        return cls(status, headers, (lambda: body) if body else _no_body)

    @property
    def body(self) -> bytes:
        return self.read_body()

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def normalize_url(url: str) -> str:
    """A lookup key equal for every spelling of the same URL.

    Scheme and host lowercased, default port and fragment dropped, percent-escapes round-tripped
    through bytes (upper-case hex, unreserved characters unescaped, raw UTF-8 escaped).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # a non-numeric port cannot be normalised; keep the netloc as sent
        port, host = None, parts.netloc.lower()
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = quote(unquote_to_bytes(parts.path or "/"), safe=_PATH_SAFE)
    query = quote(unquote_to_bytes(parts.query), safe=_QUERY_SAFE)
    return urlunsplit((scheme, host, path, query, ""))


class Resources:
    """URL -> :class:`Resource`; a later ``add`` of the same URL replaces the earlier one."""

    def __init__(self, items: Iterable[tuple[str, Resource]] = ()):
        self._exact: dict[str, Resource] = {}
        self._normal: dict[str, Resource] = {}
        for url, resource in items:
            self.add(url, resource)

    def add(self, url: str, resource: Resource) -> None:
        self._exact[url] = resource
        self._normal[normalize_url(url)] = resource

    def get(self, url: str) -> Resource | None:
        found = self._exact.get(url)
        return found if found is not None else self._normal.get(normalize_url(url))

    def __contains__(self, url: str) -> bool:
        return self.get(url) is not None

    def __len__(self) -> int:
        return len(self._exact)

    def urls(self) -> list[str]:
        return list(self._exact)


def corpus_resources(folder: Path) -> Iterator[tuple[str, Resource]]:
    """Every resource of a corpus folder (all ``manifest*.jsonl``; see tests/corpus/README.md)."""
    manifests = sorted(folder.glob("manifest*.jsonl"))
    if not manifests:
        raise FileNotFoundError(f"no manifest*.jsonl in {folder}")
    for manifest in manifests:
        with manifest.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    yield _manifest_entry(json.loads(line), folder, f"{manifest}:{number}")


def _manifest_entry(entry: dict, folder: Path, where: str) -> tuple[str, Resource]:
    read_body = _no_body
    if entry.get("body"):
        path = folder / entry["body"]
        if not path.is_file():  # fail at start, not on the request that happens to need it
            raise FileNotFoundError(f"{where}: body file {path} is missing")
        read_body = path.read_bytes
    headers = list((entry.get("headers") or {}).items())
    return entry["url"], Resource(int(entry["status"]), headers, read_body)


@dataclass(frozen=True)
class _Stored:
    """Index entry for one response/revisit record; the payload stays in the file."""

    kind: str
    uri: str
    record_id: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    path: Path
    offset: int
    refers_to: str = ""
    refers_to_uri: str = ""
    digest: str = ""


def warc_files(path: Path) -> list[Path]:
    """``path`` itself, or the *.warc.gz / *.warc files under it (recursively, sorted)."""
    if path.is_dir():
        found = [p for p in path.rglob("*") if p.name.endswith((".warc", ".warc.gz"))]
        return sorted(p for p in found if p.is_file())
    return [path]


def warc_resources(files: Iterable[Path]) -> Iterator[tuple[str, Resource]]:
    """Responses and resolved revisits of ``files``; per URI the last record read wins."""
    by_id: dict[str, _Stored] = {}
    by_uri: dict[str, _Stored] = {}
    by_digest: dict[str, _Stored] = {}
    latest: dict[str, _Stored] = {}
    for path in files:
        for stored in _scan_warc(path):
            latest[stored.uri] = stored
            if stored.kind == "response":
                by_id[stored.record_id] = by_uri[stored.uri] = stored
                if stored.digest:
                    by_digest[stored.digest] = stored
    # Revisits are resolved after every file is read: the original may sit in a later file.
    for uri, stored in latest.items():
        original = stored
        if stored.kind == "revisit":
            original = (
                by_id.get(stored.refers_to)
                or by_uri.get(stored.refers_to_uri or stored.uri)
                or by_digest.get(stored.digest)
            )
            if original is None:
                logger.warning("revisit of %s: original response not found, skipped", uri)
                continue
        # A server-not-modified revisit stores a 304 (or no headers): replay the original answer.
        shown = stored if stored.headers and stored.status != 304 else original
        read_body = partial(_read_payload, original.path, original.offset)
        yield uri, Resource(shown.status, shown.headers, read_body, shown.reason)


def _scan_warc(path: Path) -> Iterator[_Stored]:
    with path.open("rb") as stream:
        records = ArchiveIterator(stream)
        for record in records:
            if record.rec_type not in ("response", "revisit") or record.http_headers is None:
                continue  # request, metadata, warcinfo, and non-HTTP (dns:) responses
            get = record.rec_headers.get_header
            status, _, reason = record.http_headers.statusline.partition(" ")
            yield _Stored(
                kind=record.rec_type,
                uri=get("WARC-Target-URI", ""),
                record_id=get("WARC-Record-ID", ""),
                status=int(status) if status.isdigit() else 200,
                reason=reason,
                headers=list(record.http_headers.headers),
                path=path,
                offset=records.get_record_offset(),
                refers_to=get("WARC-Refers-To", ""),
                refers_to_uri=get("WARC-Refers-To-Target-URI", ""),
                digest=get("WARC-Payload-Digest", ""),
            )


def _read_payload(path: Path, offset: int) -> bytes:
    """The HTTP payload of the record at ``offset``, content-encoding left as stored."""
    with path.open("rb") as stream:
        stream.seek(offset)
        record = next(iter(ArchiveIterator(stream)))
        raw = record.raw_stream.read()
    if (record.http_headers.get_header("Transfer-Encoding") or "").lower() == "chunked":
        # Some crawlers store the chunked wire form; de-chunk only (ChunkedDataReader falls back
        # to the raw bytes if they were not chunked after all). Decompression is not applied.
        raw = ChunkedDataReader(BytesIO(raw)).read()
    return raw


def load_resources(paths: Iterable[Path]) -> Resources:
    """Corpus folders (holding ``manifest*.jsonl``) and WARC files or folders of them.

    WARC records override corpus entries for the same URL; all WARC files are indexed together so
    a revisit finds its original in any of them.
    """
    resources = Resources()
    files: list[Path] = []
    for path in map(Path, paths):
        corpus = path.is_dir() and any(path.glob("manifest*.jsonl"))
        if corpus:
            for url, resource in corpus_resources(path):
                resources.add(url, resource)
        found = warc_files(path) if path.exists() else []
        if not corpus and not found:
            raise FileNotFoundError(f"{path}: no manifest*.jsonl or WARC files")
        files += found
    for url, resource in warc_resources(files):
        resources.add(url, resource)
    logger.info("loaded %d resources (%d WARC files)", len(resources), len(files))
    return resources
