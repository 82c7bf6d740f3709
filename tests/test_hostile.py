"""A hostile web: SSRF in every spelling, through redirects, meta refreshes, sitemaps and the CLI.

The real CLI and Scrapy run against the replay proxy (started here, so its hits can be counted)
and a little server on 127.0.0.1 that records every request it gets. The egress guard itself
keeps everything on this machine: the forbidden targets below are refused before a connection is
made, which the hit counts prove (zero), and the allow-list runs prove that the same requests
would otherwise have gone out.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.replay.proxy import ReplayProxy
from archive.replay.resources import load_resources
from tests.corpus_urls import CORPUS
from tests.pipeline_runs import ENV, NDTV, SANGRAH

SITE = "https://hostile.example"
METADATA = "http://169.254.169.254/latest/meta-data/"
HTML = {"Content-Type": "text/html; charset=utf-8"}
PROXY_NAMES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY")


class Hits(ThreadingHTTPServer):
    """Answers 200 to anything on 127.0.0.1 and remembers the paths asked for."""

    daemon_threads = True

    def __init__(self):
        self.paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(handler) -> None:  # `self`: the server
                self.paths.append(handler.path)
                body = b"<html><head><title>secret</title></head><body>secret</body></html>"
                handler.send_response(200)
                handler.send_header("Content-Type", "text/html")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def server_bind(self) -> None:  # no getfqdn(): no DNS lookup
        import socketserver

        socketserver.TCPServer.server_bind(self)
        self.server_port = self.server_address[1]


@pytest.fixture(scope="module")
def hits():
    server = Hits()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def noise(size: int) -> bytes:
    """Incompressible bytes: the replay proxy's gzip cannot shrink them under a size limit."""
    blocks = (hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def hostile_resources(port: int) -> dict[str, tuple[int, dict, bytes]]:
    loop = f"127.0.0.1:{port}"
    refresh = '<html><head><meta http-equiv="refresh" content="0; url={}"></head></html>'
    return {
        "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"),
        "/to-metadata": (302, {"Location": METADATA}, b""),
        "/to-loopback": (302, {"Location": f"http://{loop}/secret"}, b""),
        "/to-decimal": (301, {"Location": f"http://2130706433:{port}/secret"}, b""),
        "/to-octal": (307, {"Location": f"http://0177.0.0.1:{port}/secret"}, b""),
        "/to-mapped": (302, {"Location": f"http://[::ffff:127.0.0.1]:{port}/secret"}, b""),
        "/to-localhost": (302, {"Location": f"http://evil.localhost:{port}/secret"}, b""),
        "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
        "/refresh-metadata": (200, HTML, refresh.format(METADATA).encode()),
        "/refresh-article": (200, HTML, refresh.format(NDTV).encode()),
        "/big-declared": (200, {"Content-Type": "image/jpeg"}, noise(3_000_000)),
        "/big-chunked": (200, HTML, noise(3_000_000)),
        "/sitemap-index.xml": (200, {"Content-Type": "application/xml"}, (
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
            f'sitemap/0.9"><sitemap><loc>{METADATA}sitemap.xml</loc></sitemap>'
            f"<sitemap><loc>http://{loop}/sitemap.xml</loc></sitemap>"
            f"<sitemap><loc>{SITE}/sitemap.xml</loc></sitemap></sitemapindex>"
        ).encode()),
        "/sitemap.xml": (200, {"Content-Type": "application/xml"}, (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{METADATA}iam/</loc></url>"
            f"<url><loc>{SITE}/news/to-metadata-1.html</loc></url></urlset>"
        ).encode()),
        "/news/to-metadata-1.html": (302, {"Location": f"{METADATA}iam/"}, b""),
    }  # fmt: skip


@pytest.fixture(scope="module")
def proxy(hits, tmp_path_factory):
    corpus = tmp_path_factory.mktemp("hostile-corpus")
    lines = []
    for i, (path, (status, headers, body)) in enumerate(
        hostile_resources(hits.server_port).items()
    ):
        (corpus / f"body{i}").write_bytes(body)
        lines.append({"url": SITE + path, "status": status, "headers": headers, "body": f"body{i}"})
    (corpus / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    with ReplayProxy(load_resources([corpus, CORPUS])) as replay:
        yield replay


def sangrah(*args: str, proxy: ReplayProxy | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in ENV.items() if k not in PROXY_NAMES}
    if proxy is not None:  # like --replay, with the proxy in this process to count its hits
        env.update(proxy.proxy_env())
    return subprocess.run([SANGRAH, *args], capture_output=True, text=True, timeout=300, env=env)


def fetch(store: Path, urls: list[str], *extra: str, proxy=None):
    done = sangrah("fetch", "--json", "--store", str(store), *extra, *urls, proxy=proxy)
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done, {r["url"]: r for r in results}


def responses(store: Path) -> dict[str, tuple[str, bytes]]:
    """WARC-Target-URI -> (status, payload as sent, gunzipped when the proxy gzipped it)."""
    found = {}
    for warc in store.rglob("*.warc.gz"):
        with warc.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    raw = record.raw_stream.read()
                    if record.http_headers.get_header("Content-Encoding") == "gzip":
                        raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw)  # cut too
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    found[uri] = (record.http_headers.get_statuscode(), raw)
    return found


def asked(proxy: ReplayProxy, needle: str) -> int:
    return sum(n for (url, _status), n in proxy.hits.items() if needle in url)


# --- redirects and meta refreshes through the replay proxy ----------------------------------------

REDIRECTS = {
    "/to-metadata": ("302", "169.254.169.254 is a cloud metadata address"),
    "/to-loopback": ("302", "127.0.0.1 is a loopback address"),
    "/to-decimal": ("301", "127.0.0.1 is a loopback address (written 2130706433)"),
    "/to-octal": ("307", "127.0.0.1 is a loopback address (written 0177.0.0.1)"),
    "/to-mapped": ("302", "::ffff:7f00:1 (127.0.0.1) is a loopback address"),
    "/to-localhost": ("302", "evil.localhost is a local name"),
    "/to-file": ("302", "scheme file: is not allowed"),
    "/refresh-metadata": ("200", "169.254.169.254 is a cloud metadata address"),
}


@pytest.fixture(scope="module")
def redirect_run(proxy, hits, tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    urls = [SITE + p for p in REDIRECTS] + [SITE + "/refresh-article"]
    done, results = fetch(store, urls, proxy=proxy)
    assert len(results) == len(urls), done.stderr[-3000:]
    return store, done, results


@pytest.mark.parametrize("path", REDIRECTS)
def test_refused_redirect_is_recorded_with_its_reason(redirect_run, path):
    store, done, results = redirect_run
    status, words = REDIRECTS[path]
    result = results[SITE + path]
    assert result["txt"] is None
    assert result["reason"].startswith(f"egress refused: redirect from {SITE}{path} to ")
    assert words in result["reason"]
    assert words in done.stderr  # logged
    assert responses(store)[SITE + path][0] == status  # the 3xx / refresh page is in the WARC
    assert done.returncode == 1


def test_refused_targets_are_never_requested(redirect_run, proxy, hits):
    assert hits.paths == []
    assert asked(proxy, "169.254.169.254") == 0
    assert asked(proxy, "127.0.0.1") == asked(proxy, "2130706433") == asked(proxy, "0177") == 0
    assert asked(proxy, "evil.localhost") == asked(proxy, "ffff") == asked(proxy, "file:") == 0


def test_meta_refresh_is_followed_like_a_redirect(redirect_run):
    store, _done, results = redirect_run
    result = results[SITE + "/refresh-article"]
    assert result["txt"] and result["final_url"] == NDTV
    assert "redirected 1x" in result["note"]
    page = responses(store)[SITE + "/refresh-article"]
    assert page[0] == "200" and b'http-equiv="refresh"' in page[1]  # kept, and not an article


# --- sitemaps -------------------------------------------------------------------------------------


def test_sitemap_links_to_forbidden_hosts_are_not_requested(proxy, hits, tmp_path):
    done = sangrah(
        "crawl", "generic", "--json", "--store", str(tmp_path),
        "--sitemap", f"{SITE}/sitemap-index.xml", proxy=proxy,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    summary = next(line["summary"] for line in lines if "summary" in line)
    errors = "\n".join(summary["discovery_errors"])
    assert "169.254.169.254 is a cloud metadata address" in errors
    assert "127.0.0.1 is a loopback address" in errors
    article = next(line for line in lines if line.get("url") == f"{SITE}/news/to-metadata-1.html")
    assert "egress refused: redirect from" in article["reason"]
    assert hits.paths == []
    assert asked(proxy, "169.254.169.254") == 0 and asked(proxy, "127.0.0.1") == 0
    assert asked(proxy, f"{SITE}/sitemap.xml") == 1  # the allowed child was read


# --- the CLI -----------------------------------------------------------------------------------

LONG = "https://ndtv.in/" + "a" * 60_000
BAD = {
    "file:///etc/passwd": "scheme file: is not allowed",
    "javascript:alert(document.cookie)": "scheme javascript: is not allowed",
    "ftp://ftp.example.com/pub/x": "scheme ftp: is not allowed",
    LONG: "URL too long (60016 characters",
    "not a url": "whitespace",
    "http://[::1]/": "::1 is a loopback address",
    "http://0x7f.1/": "127.0.0.1 is a loopback address (written 0x7f.1)",
    "http://127.1/": "127.0.0.1 is a loopback address (written 127.1)",
    "http://localhost/": "localhost is a local name",
}
COMMA = "https://ndtv.in/india/this-page-does-not-exist-1234567?a=1,2"


def test_fetch_mixed_good_and_bad_urls(proxy, hits, tmp_path):
    urls = [NDTV, *BAD, COMMA]
    done, results = fetch(tmp_path, urls, proxy=proxy)
    assert done.returncode == 1  # not every URL got a TXT
    assert results[NDTV]["txt"]
    for url, words in BAD.items():
        assert results[url]["txt"] is None and words in results[url]["reason"], url
        assert "\n" not in results[url]["reason"]
    # The first five are refused before the crawl: one line each on stderr.
    assert sum(line.startswith("not fetched: ") for line in done.stderr.splitlines()) == 5
    assert LONG not in done.stderr and "(60016 characters)" in done.stderr
    # One URL, one request: the comma is not a separator.
    assert results[COMMA]["status"] == 404
    assert proxy.hits[(COMMA, 404)] == 1
    assert hits.paths == []


def test_fetch_file_url_archives_nothing(tmp_path):
    done, results = fetch(tmp_path, ["file:///etc/passwd"])
    assert done.returncode == 1
    assert "scheme file: is not allowed" in results["file:///etc/passwd"]["reason"]
    assert not list(tmp_path.rglob("*.warc.gz"))
    assert "root:" not in done.stdout + done.stderr


GUARD = "crawler.middlewares.egress.EgressGuardMiddleware"


def test_scrapy_refuses_file_urls_even_without_the_guard(tmp_path):
    """Defense in depth: the file/ftp/s3/data download handlers are switched off."""
    report = tmp_path / "report.jsonl"
    done = subprocess.run(
        [SANGRAH.replace("sangrah", "scrapy"), "crawl", "fetch", "-a", "urls=file:///etc/passwd",
         "-s", f"DOWNLOADER_MIDDLEWARES={json.dumps({GUARD: None})}",
         "-s", f"SANGRAH_STORE={tmp_path}", "-s", f"SANGRAH_REPORT={report}"],
        capture_output=True, text=True, timeout=300,
        env={**ENV, "SCRAPY_SETTINGS_MODULE": "crawler.settings"},
    )  # fmt: skip
    result = json.loads(report.read_text().splitlines()[0])
    assert result["txt"] is None and "scheme file" in result["reason"], done.stderr[-2000:]
    assert "root:" not in "".join(p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*.gz"))


# --- after DNS: a name that resolves to 127.0.0.1, without a proxy --------------------------------


def test_name_resolving_to_loopback_is_refused_at_connect_time(hits, tmp_path):
    url = f"http://hits.example.com:{hits.server_port}/page"
    pin = ["-s", 'SANGRAH_DNS_HOSTS={"hits.example.com": "127.0.0.1"}']
    done, results = fetch(tmp_path, [url], *pin)
    reason = results[url]["reason"]
    assert reason == "egress refused: hits.example.com resolves to 127.0.0.1, a loopback address"
    assert hits.paths == []
    # The same request with the range allowed does reach the server: the refusal was the guard's.
    allow = ["-s", "SANGRAH_EGRESS_ALLOW=127.0.0.0/8"]
    done, results = fetch(tmp_path, [url], *pin, *allow)
    assert results[url]["status"] == 200, done.stderr[-2000:]
    assert "/page" in hits.paths
    hits.paths.clear()


# --- size limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/big-declared", "/big-chunked"])
def test_oversize_response_is_cut_recorded_and_said(proxy, tmp_path, path):
    url = SITE + path
    done, results = fetch(tmp_path, [url], "-s", "DOWNLOAD_MAXSIZE=1000000", proxy=proxy)
    reason = results[url]["reason"]
    assert reason.startswith("truncated: the response is larger than DOWNLOAD_MAXSIZE (1000000")
    assert "truncated" in done.stderr
    status, body = responses(tmp_path)[url]
    assert status == "200" and len(body) < 1_000_000 + 70_000
    assert truncation(tmp_path, url) == "length"  # the record says its payload was cut
    assert done.returncode == 1


def truncation(store: Path, url: str) -> str | None:
    for warc in store.rglob("*.warc.gz"):
        with warc.open("rb") as f:
            for record in ArchiveIterator(f):
                headers = record.rec_headers
                if record.rec_type == "response" and headers.get_header("WARC-Target-URI") == url:
                    return headers.get_header("WARC-Truncated")
    return None
