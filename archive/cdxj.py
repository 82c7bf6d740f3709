"""Per-WARC CDXJ index lines, in the form pywb and cdxj-indexer read.

``<SURT key> <14-digit timestamp> <JSON>`` sorted by key then timestamp; the JSON carries pywb's
fields (url, mime, status, digest, length, offset, filename) plus sangrah's own (txt, title,
published, source, canonical...), which pywb ignores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

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
        return surt(self.url)

    def line(self) -> str:
        data = {"url": self.url, **self.fields}
        return f"{self.key} {self.timestamp} {json.dumps(data, ensure_ascii=False)}"


def render(entries: Iterable[CdxjEntry]) -> bytes:
    lines = sorted(entry.line() for entry in entries)
    return "".join(line + "\n" for line in lines).encode("utf-8")


def parse(data: bytes) -> Iterator[CdxjEntry]:
    for line in data.decode("utf-8").splitlines():
        if not line.strip() or line.startswith("!"):
            continue
        _key, timestamp, blob = line.split(" ", 2)
        fields = json.loads(blob)
        yield CdxjEntry(url=fields.pop("url"), timestamp=timestamp, fields=fields)
