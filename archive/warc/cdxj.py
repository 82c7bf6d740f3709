"""Per-WARC CDXJ index lines, in the form pywb and cdxj-indexer read.

``<SURT key> <14-digit timestamp> <JSON>`` sorted by key then timestamp; the JSON carries pywb's
fields (url, mime, status, digest, length, offset, filename; for a POST also method and
requestBody, and the key is that of ``url?__wb_method=POST&<body>``, as pywb looks it up) plus
sangrah's own (txt, title, published, source, canonical, request_digest...), which pywb
ignores.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from io import BytesIO

import surt as _surt

_DIGITS = re.compile(r"\D")


def surt(url: str) -> str:
    """The SURT key pywb and cdxj-indexer give ``url``: the ``surt`` package's defaults.

    Scheme and ``www.`` dropped, host reversed and IDNA-encoded, everything lowercased, default
    port and trailing slash dropped, repeated slashes folded, unreserved characters unescaped,
    query arguments sorted, fragment dropped: ``https://www.pib.gov.in/P.aspx?b=2&a=1`` ->
    ``in,gov,pib)/p.aspx?a=1&b=2``. A key of our own making would miss pywb's lookups.
    """
    try:
        return _surt.surt(url)
    except Exception:  # as cdxj-indexer does: a URL surt cannot parse is its own key
        return url


def method_query(method: str, content_type: str | None, body: bytes) -> str | None:
    """A POST/PUT body as the query pywb appends to its URL (``None`` for other methods): a
    form's fields, a JSON body's values, or the bytes in base64, cut at 4,096 characters
    (cdxj-indexer's and pywb's own canonicalisation, so both find what we index)."""
    if method.upper() not in ("POST", "PUT"):
        return None
    with warnings.catch_warnings():
        # cdxj-indexer imports pyamf, which imports the deprecated pkg_resources: a warning on
        # every command's stderr otherwise. Imported here, so GET-only runs never load it.
        warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
        from cdxj_indexer.postquery import query_extract

    return query_extract(content_type, len(body), BytesIO(body), "") or ""


def method_url(url: str, method: str | None, query: str | None) -> str:
    """The URL pywb looks a POST/PUT capture up by: ``url?__wb_method=POST&<query>``.

    pywb replays a POST by appending the method and the body's query to the URL it looks up;
    a POST indexed under the plain URL would answer (and be answered by) the GET.
    """
    if query is None or not method:
        return url
    appended = f"__wb_method={method.upper()}" + (f"&{query}" if query else "")
    return f"{url}{'&' if '?' in url else '?'}{appended}"


def timestamp14(warc_date: str) -> str:
    """``2025-05-05T12:17:00.123456Z`` -> ``20250505121700``."""
    return _DIGITS.sub("", warc_date)[:14].ljust(14, "0")


@dataclass(frozen=True)
class CdxjEntry:
    url: str
    timestamp: str  # 14 digits
    fields: dict

    @property
    def key(self) -> str:
        return surt(method_url(self.url, self.fields.get("method"), self.fields.get("requestBody")))

    def line(self) -> str:
        data = {"url": self.url, **{k: v for k, v in self.fields.items() if k != "url"}}
        return f"{self.key} {self.timestamp} {json.dumps(data, ensure_ascii=False)}"


def sort_key(line: str) -> str:
    """A CDXJ line's order: its key and timestamp; lines with the same ones keep the order they
    were written in (the records' order in the WARC), whichever path writes the index."""
    return line[: line.index(" {")]


def render(entries: Iterable[CdxjEntry]) -> bytes:
    lines = sorted((entry.line() for entry in entries), key=sort_key)
    return "".join(line + "\n" for line in lines).encode("utf-8")


def parse(data: bytes) -> Iterator[CdxjEntry]:
    for line in data.decode("utf-8").splitlines():
        if not line.strip() or line.startswith("!"):
            continue
        _key, timestamp, blob = line.split(" ", 2)
        fields = json.loads(blob)
        yield CdxjEntry(url=fields.pop("url"), timestamp=timestamp, fields=fields)
