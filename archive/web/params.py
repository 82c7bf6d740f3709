"""Query parameters of the browser UI, parsed and bounded: anything out of shape is a 400 that
names the parameter and says what was expected."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from archive.store import validate_key

PER_PAGE = 50
MAX_PER_PAGE = 200
# The catalog's queries take a limit but no offset, so a page is sliced from the first
# page * per rows: this caps how many rows one request may read.
MAX_ROWS = 10_000
MAX_QUERY = 200  # characters of a search
MAX_URL = 4096
MAX_RECORD = 256 * 2**20  # bytes of one WARC record read for /record
MAX_OFFSET = 2**62

_SOURCE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def text(args: MultiDict, name: str, *, max_len: int, required: bool = False) -> str | None:
    value = (args.get(name) or "").strip()
    if not value:
        if required:
            raise BadRequest(f"{name}: required")
        return None
    if len(value) > max_len:
        raise BadRequest(f"{name}: at most {max_len} characters")
    return value


def source(args: MultiDict) -> str | None:
    value = text(args, "source", max_len=40)
    if value is not None and not _SOURCE.fullmatch(value):
        raise BadRequest("source: a source name such as pib or ndtv")
    return value


def day(args: MultiDict, name: str) -> str | None:
    value = text(args, name, max_len=10)
    if value is None:
        return None
    try:
        if not _DAY.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadRequest(f"{name}: a date as YYYY-MM-DD, not {value!r}") from None


def date_range(args: MultiDict) -> tuple[str | None, str | None]:
    since, until = day(args, "since"), day(args, "until")
    if since and until and since > until:
        raise BadRequest("since: must not be after until")
    return since, until


def integer(args: MultiDict, name: str, *, low: int, high: int, default: int | None = None) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        if default is None:
            raise BadRequest(f"{name}: required")
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 20 or not low <= int(raw) <= high:
        raise BadRequest(f"{name}: a whole number from {low} to {high}")
    return int(raw)


def page(args: MultiDict) -> tuple[int, int]:
    """``(page, per)``: the 1-based page and the rows per page."""
    per = integer(args, "per", low=1, high=MAX_PER_PAGE, default=PER_PAGE)
    number = integer(args, "page", low=1, high=MAX_ROWS, default=1)
    if number * per > MAX_ROWS:
        raise BadRequest(f"page: only the first {MAX_ROWS} results are paged; narrow the filters")
    return number, per


def store_key(args: MultiDict, name: str, *, prefix: str, suffix: str) -> str:
    value = text(args, name, max_len=1024, required=True) or ""
    try:
        validate_key(value)
    except ValueError:
        raise BadRequest(f"{name}: not a store key") from None
    if not value.startswith(prefix) or not value.endswith(suffix):
        raise BadRequest(f"{name}: a key like {prefix}...{suffix}")
    return value


def url(args: MultiDict, name: str = "url", *, required: bool = True) -> str | None:
    value = text(args, name, max_len=MAX_URL, required=required)
    if value is not None and (urlsplit(value).scheme not in ("http", "https") or " " in value):
        raise BadRequest(f"{name}: an http(s) URL")
    return value


def record(args: MultiDict) -> tuple[str, int, int]:
    """``(warc, offset, length)`` of one record."""
    warc = store_key(args, "warc", prefix="warc/", suffix=".warc.gz")
    offset = integer(args, "offset", low=0, high=MAX_OFFSET)
    length = integer(args, "length", low=1, high=MAX_RECORD)
    return warc, offset, length


def flag(args: MultiDict, name: str) -> bool:
    value = args.get(name, "")
    if value not in ("", "0", "1"):
        raise BadRequest(f"{name}: 0 or 1")
    return value == "1"
