"""One page for ``sangrah check-source``: from a file, from the store's WARCs, or over HTTP.

Not the crawler's path: no Scrapy, no robots.txt, nothing written. The HTTP client is the
standard library's, used only when the operator asks for a live fetch (or when the replay proxy
stands in for the web); it refuses what the crawler's egress guard refuses (archive.egress),
every redirect hop included, and reads at most ``MAX_SIZE`` bytes.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from archive.egress import EgressPolicy, parse_ip

MAX_SIZE = 20 * 1024 * 1024  # the crawler's DOWNLOAD_MAXSIZE
TIMEOUT = 30.0
USER_AGENT = "sangrah check-source (+https://github.com/sangrah)"


class PageError(Exception):
    """The page cannot be had: not in the store, refused, unreachable."""


@dataclass(frozen=True)
class Page:
    body: bytes
    url: str | None  # where it was served (None: a file, which says nothing about it)
    content_type: str | None
    origin: str  # where it came from, in words, for the report
    status: int | None = None


def from_file(path: Path) -> Page:
    try:
        return Page(path.read_bytes(), None, None, f"file {path}")
    except OSError as exc:
        raise PageError(f"cannot read {path}: {exc.strerror or exc}") from None


def from_store(store_uri: str, url: str) -> Page:
    """The newest capture of ``url`` with a payload (a revisit's original), else the capture
    the catalog's article of that URL (or canonical URL) was read from."""
    from archive.catalog.db import Catalog
    from archive.store import StoreError, open_store, path_from_uri
    from archive.store.layout import is_local
    from archive.warc.records import read_payload

    if is_local(store_uri) and not path_from_uri(store_uri).is_dir():
        raise PageError(f"no archive at {store_uri} (give --replay or --live for a page not in it)")
    store = open_store(store_uri)
    try:
        with Catalog.for_store(store) as catalog:
            catalog.update(store)
            row = next(reversed(catalog.captures(url)), None)
            if row is not None and row["is_revisit"]:
                row = catalog.original_of(row)
            row = row or catalog.find(url)
        if row is None or not row.get("warc"):
            raise PageError(f"not in the archive at {store_uri}: {url}")
        content_type, body = read_payload(store, row["warc"], row["offset"], row["length"])
    except (StoreError, OSError) as exc:
        raise PageError(f"cannot read the archive at {store_uri}: {exc}") from None
    where = f"store {store_uri}: {row['warc']} offset {row['offset']}"
    return Page(body, row.get("url") or url, content_type, where, row.get("status"))


def fetch(
    url: str, proxy: str | None = None, ca_pem: str | None = None, allow: list[str] | None = None
) -> Page:
    """GET ``url`` (through ``proxy``, trusting ``ca_pem`` besides the system's CAs when given;
    without a proxy, HTTP(S)_PROXY apply as in the crawler); ``allow``: the operator's egress
    allow-list (SANGRAH_EGRESS_ALLOW)."""
    policy = EgressPolicy(allow or ())
    if problem := policy.url_problem(url):
        raise PageError(f"not fetched: {url}: {problem}")
    if proxy is None:  # through a proxy the proxy connects, and only the name is judged
        _check_addresses(policy, urlsplit(url).hostname or "")
    context = ssl.create_default_context()
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    proxies = {"http": proxy, "https": proxy} if proxy else None
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler(proxies),
        urllib.request.HTTPSHandler(context=context),
        _GuardedRedirects(policy, checks_addresses=proxy is None),
    )
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = opener.open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:  # a 404 or 410 page is still a page to look at
        response = exc
    except (urllib.error.URLError, OSError) as exc:
        raise PageError(f"cannot fetch {url}: {getattr(exc, 'reason', exc)}") from None
    with response:
        body = response.read(MAX_SIZE + 1)
        headers = response.headers
        final, status = response.geturl(), response.status
    if headers.get("Content-Encoding", "").lower() in ("gzip", "x-gzip"):
        body = gzip.decompress(body)
    note = f", cut at {MAX_SIZE} bytes" if len(body) > MAX_SIZE else ""
    origin = f"{'replay' if proxy else 'live'} fetch of {final} (HTTP {status}{note})"
    return Page(body[:MAX_SIZE], final, headers.get("Content-Type"), origin, status)


def _check_addresses(policy: EgressPolicy, host: str) -> None:
    """Refuse a name that resolves to a private, loopback or metadata address (the crawler's
    resolver does this at connect time; this client looks the name up first)."""
    if policy.name_allowed(host):
        return
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise PageError(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        ip = parse_ip(str(info[4][0]).partition("%")[0])
        if ip is not None and (problem := policy.address_problem(ip)):
            raise PageError(f"not fetched: {host}: {problem}")


class _GuardedRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, policy: EgressPolicy, checks_addresses: bool):
        self.policy, self.checks_addresses = policy, checks_addresses

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if problem := self.policy.url_problem(newurl):
            raise PageError(f"redirect from {req.full_url} to {newurl} refused: {problem}")
        if self.checks_addresses:
            _check_addresses(self.policy, urlsplit(newurl).hostname or "")
        return super().redirect_request(req, fp, code, msg, headers, newurl)
