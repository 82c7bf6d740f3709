"""The replay proxy answers by real URL from the bundled corpus and from WARC files.

Clients here are the standard library's, speaking to the proxy the way Scrapy does: absolute-form
requests for http, CONNECT + TLS for https.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.replay.proxy import ReplayProxy, accepts_gzip
from archive.replay.resources import Resource, Resources, load_resources, normalize_url

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
PINNED = datetime(2025, 5, 5, 12, 0, tzinfo=UTC)

PIB = "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127135&reg=3&lang=2"
PIB_PATH = "/PressReleasePage.aspx?PRID=2127135&reg=3&lang=2"
NDTV_301 = (
    "https://khabar.ndtv.com/news/india/"
    "pakistans-military-along-with-india-in-the-practice-of-fight-against-terrorism-2096858"
)
NDTV_IN = (
    "https://ndtv.in/india-global/"
    "jaishankar-holds-bilateral-talks-with-foreign-ministers-of-south-africa-and-saudi-arabia-4087001"
)
WEBDUNIA_PATH = (
    "/national-hindi-news/%E0%A4%B8%E0%A5%81%E0%A4%B7%E0%A4%AE%E0%A4%BE-%E0%A4%B8%E0%A5%8D%E0%A4"
    "%B5%E0%A4%B0%E0%A4%BE%E0%A4%9C-%E0%A4%95%E0%A5%80-%E0%A4%85%E0%A4%AE%E0%A5%87%E0%A4%B0%E0%A4"
    "%BF%E0%A4%95%E0%A4%BE-%E0%A4%AF%E0%A4%BE%E0%A4%A4%E0%A5%8D%E0%A4%B0%E0%A4%BE-%E0%A4%B6%E0%A5"
    "%81%E0%A4%B0%E0%A5%82-114092500029_1.html"
)


def _client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the proxy's certificate is throwaway, as for Scrapy
    return context


CLIENT_TLS = _client_tls()


def corpus_entry(url: str) -> dict:
    for manifest in CORPUS.glob("manifest*.jsonl"):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["url"] == url:
                return entry
    raise KeyError(url)


def corpus_body(url: str) -> bytes:
    return (CORPUS / corpus_entry(url)["body"]).read_bytes()


@pytest.fixture(scope="module")
def proxy():
    with ReplayProxy(load_resources([CORPUS]), clock=lambda: PINNED) as running:
        yield running


def https_connection(proxy: ReplayProxy, host: str) -> http.client.HTTPSConnection:
    conn = http.client.HTTPSConnection("127.0.0.1", proxy.port, context=CLIENT_TLS, timeout=5)
    conn.set_tunnel(host, 443)
    return conn


def https_get(proxy: ReplayProxy, host: str, path: str, **headers: str):
    conn = https_connection(proxy, host)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def tunnel(proxy: ReplayProxy, host: str) -> socket.socket:
    """A plain socket on which the proxy has accepted ``CONNECT host:443``; TLS comes next."""
    plain = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    plain.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    reply = b""
    while not reply.endswith(b"\r\n\r\n"):
        reply += plain.recv(1)
    assert reply.startswith(b"HTTP/1.1 200 ")
    return plain


def raw_https(proxy: ReplayProxy, host: str, request: bytes) -> tuple[bytes, bytes]:
    """Send ``request`` bytes verbatim through a CONNECT tunnel; (head, undecoded body)."""
    with tunnel(proxy, host) as plain:
        with CLIENT_TLS.wrap_socket(plain, server_hostname=host) as tls:
            tls.sendall(request)
            data = b""
            while block := tls.recv(65536):
                data += block
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def dechunk(body: bytes) -> list[bytes]:
    chunks = []
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert body == b"\r\n"
            return chunks
        chunks.append(body[:size])
        assert body[size : size + 2] == b"\r\n"
        body = body[size + 2 :]


def verifying_tls(proxy: ReplayProxy) -> ssl.SSLContext:
    """A client context that trusts only the proxy's CA, and checks host names."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED
    context.load_verify_locations(cadata=proxy.ca_pem)
    return context


@pytest.mark.parametrize("url", [PIB, NDTV_IN])
def test_tunnel_certificate_verifies_against_the_proxy_ca(proxy, url):
    host, _, path = url.removeprefix("https://").partition("/")
    conn = http.client.HTTPSConnection(
        "127.0.0.1", proxy.port, context=verifying_tls(proxy), timeout=5
    )
    conn.set_tunnel(host, 443)
    try:
        conn.request("GET", "/" + path, headers={"Accept-Encoding": "identity"})
        response = conn.getresponse()
        assert response.status == 200
        assert response.read() == corpus_body(url)
        san = dict(conn.sock.getpeercert()["subjectAltName"])
        assert san == {"DNS": host}  # a leaf per host, not one shared certificate
    finally:
        conn.close()


def test_tunnel_certificate_names_the_connect_host_only(proxy):
    with tunnel(proxy, "ndtv.in") as plain:
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            verifying_tls(proxy).wrap_socket(plain, server_hostname="www.pib.gov.in")


def test_tunnel_to_an_ip_literal_has_an_ip_san(proxy):
    with tunnel(proxy, "127.0.0.1") as plain:
        with verifying_tls(proxy).wrap_socket(plain, server_hostname="127.0.0.1") as tls:
            assert tls.getpeercert()["subjectAltName"] == (("IP Address", "127.0.0.1"),)


def test_https_article_gzip_when_accepted(proxy):
    response, body = https_get(proxy, "www.pib.gov.in", PIB_PATH, **{"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.getheader("Content-Encoding") == "gzip"
    assert response.getheader("Vary") == "Accept-Encoding"
    assert gzip.decompress(body) == corpus_body(PIB)
    # stored headers first, in manifest order; Date (pinned clock) and Server only added
    names = [name for name, _ in response.getheaders()]
    assert names[:4] == [
        "Content-Type",
        "Cache-Control",
        "X-Frame-Options",
        "X-Content-Type-Options",
    ]
    assert response.getheader("Date") == "Mon, 05 May 2025 12:00:00 GMT"
    assert response.getheader("Server") == "sangrah-replay"


def test_https_article_identity_is_exact_bytes(proxy):
    response, body = https_get(proxy, "www.pib.gov.in", PIB_PATH, **{"Accept-Encoding": "identity"})
    assert response.status == 200
    assert response.getheader("Content-Encoding") is None
    assert body == corpus_body(PIB)
    assert response.getheader("Content-Length") == str(len(body))


def test_gzip_answer_is_chunked_on_the_wire(proxy):
    request = (
        f"GET {PIB_PATH} HTTP/1.1\r\nHost: www.pib.gov.in\r\n"
        "Accept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n"
    ).encode()
    head, body = raw_https(proxy, "www.pib.gov.in", request)
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "Transfer-Encoding: chunked" in lines
    assert "Content-Encoding: gzip" in lines
    assert not any(line.lower().startswith("content-length") for line in lines)
    chunks = dechunk(body)
    assert len(chunks) > 1  # a ~40 KB gzip stream in 16 KiB chunks
    assert gzip.decompress(b"".join(chunks)) == corpus_body(PIB)


def test_redirect_has_location_and_no_body(proxy):
    host, _, path = NDTV_301.removeprefix("https://").partition("/")
    response, body = https_get(proxy, host, "/" + path, **{"Accept-Encoding": "gzip"})
    assert response.status == 301
    assert response.getheader("Location") == corpus_entry(NDTV_301)["headers"]["Location"]
    assert response.getheader("Server") == "Apache"  # stored value kept, not replaced
    assert response.getheader("Content-Length") == "0"
    assert response.getheader("Content-Encoding") is None
    assert body == b""


def test_head_sends_headers_only(proxy):
    conn = https_connection(proxy, "www.pib.gov.in")
    try:
        conn.request("HEAD", PIB_PATH, headers={"Accept-Encoding": "identity"})
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Length") == str(len(corpus_body(PIB)))
        assert response.read() == b""
        conn.request("GET", PIB_PATH, headers={"Accept-Encoding": "identity"})
        assert conn.getresponse().read() == corpus_body(PIB)  # no stray body bytes in between
    finally:
        conn.close()


def test_unknown_url_is_404_through_urllib_proxy(proxy):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.url}))
    url = "http://example.org/nowhere?x=1"
    with pytest.raises(urllib.error.HTTPError) as raised:
        opener.open(url, timeout=5)
    with raised.value as error:
        assert error.code == 404
        assert error.headers["Content-Type"].startswith("text/plain")
        assert error.read() == f"not in replay corpus: {url}\n".encode()
    assert proxy.hits[(url, 404)] == 1


def test_origin_form_request_uses_host_header(proxy):
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    try:
        conn.request("GET", "/plain", headers={"Host": "example.net"})
        response = conn.getresponse()
        assert response.status == 404
        assert response.read() == b"not in replay corpus: http://example.net/plain\n"
    finally:
        conn.close()


@pytest.mark.parametrize(
    "spelling",
    ["as-stored", "lower-case", "utf-8"],
)
def test_percent_escapes_are_normalised(proxy, spelling):
    url = "https://hindi.webdunia.com" + WEBDUNIA_PATH
    target = {
        "as-stored": WEBDUNIA_PATH.encode(),
        "lower-case": re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), WEBDUNIA_PATH).encode(),
        "utf-8": urllib.request.unquote(WEBDUNIA_PATH).encode("utf-8"),
    }[spelling]
    assert (target != WEBDUNIA_PATH.encode()) == (spelling != "as-stored")
    request = b"GET %s HTTP/1.1\r\nHost: hindi.webdunia.com\r\nConnection: close\r\n\r\n" % target
    head, body = raw_https(proxy, "hindi.webdunia.com", request)
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == corpus_body(url)


def test_keep_alive_serves_two_requests_on_one_tunnel(proxy):
    conn = https_connection(proxy, "www.pib.gov.in")
    try:
        conn.request("GET", PIB_PATH, headers={"Accept-Encoding": "gzip"})
        first = conn.getresponse()
        assert gzip.decompress(first.read()) == corpus_body(PIB)
        tunnel = conn.sock
        conn.request("GET", "/no-such-page")
        second = conn.getresponse()
        assert second.status == 404
        assert b"https://www.pib.gov.in/no-such-page" in second.read()
        assert conn.sock is tunnel  # http.client would have reconnected if the server closed it
    finally:
        conn.close()


def test_client_disconnect_mid_response_leaves_server_serving(proxy):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(f"GET {PIB} HTTP/1.1\r\nHost: www.pib.gov.in\r\n\r\n".encode())
        assert sock.recv(12) == b"HTTP/1.1 200"
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    response, body = https_get(proxy, "www.pib.gov.in", PIB_PATH)
    assert response.status == 200
    assert body == corpus_body(PIB)


def write_warc(path: Path, records: list[tuple[str, str, list[tuple[str, str]], bytes]]) -> None:
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for uri, status, headers, payload in records:
            http_headers = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    uri,
                    "response",
                    payload=BytesIO(payload),
                    length=len(payload),
                    http_headers=http_headers,
                )
            )


def test_warc_replay_keeps_stored_gzip_payload(tmp_path):
    html = "<html><body>प्रधानमंत्री</body></html>".encode()
    stored = gzip.compress(html, mtime=1)
    write_warc(
        tmp_path / "crawl.warc.gz",
        [
            ("https://example.org/a", "200 OK", [("Content-Type", "text/html")], b"old"),
            (
                "https://example.org/a",
                "200 OK",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Encoding", "gzip"),
                    ("Connection", "keep-alive"),
                    ("Content-Length", "99999"),
                ],
                stored,
            ),
            (
                "https://example.org/chunked",
                "200 OK",
                [("Content-Type", "image/png"), ("Transfer-Encoding", "chunked")],
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            ),
        ],
    )
    with ReplayProxy(load_resources([tmp_path])) as replay:
        response, body = https_get(replay, "example.org", "/a", **{"Accept-Encoding": "gzip"})
        assert response.status == 200
        assert body == stored  # the last record wins; its gzip bytes are not recompressed
        assert response.getheader("Content-Length") == str(len(stored))
        assert response.getheader("Connection") is None
        response, body = https_get(replay, "example.org", "/chunked")
        assert body == b"hello world"  # a chunked wire capture is de-chunked, reframed
        assert response.getheader("Transfer-Encoding") is None


def test_warc_revisit_resolves_to_the_record_it_refers_to(tmp_path):
    feed = "https://example.org/feed"
    with (tmp_path / "revisits.warc.gz").open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        originals = []
        for payload in (b"<rss>first</rss>", b"<rss>second</rss>"):
            originals.append(
                writer.create_warc_record(
                    feed,
                    "response",
                    payload=BytesIO(payload),
                    length=len(payload),
                    http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/xml")]),
                )
            )
            writer.write_record(originals[-1])
        first = originals[0].rec_headers.get_header
        revisit = writer.create_revisit_record(
            feed + "?utm=1",
            digest=first("WARC-Payload-Digest"),
            refers_to_uri=feed,
            refers_to_date=first("WARC-Date"),
            http_headers=StatusAndHeaders("200 OK", [("Content-Type", "application/rss+xml")]),
        )
        revisit.rec_headers.add_header("WARC-Refers-To", first("WARC-Record-ID"))
        writer.write_record(revisit)
    resources = load_resources([tmp_path / "revisits.warc.gz"])
    # WARC-Refers-To names the first capture, although the URI's latest one is the second
    assert resources.get(feed + "?utm=1").body == b"<rss>first</rss>"
    assert resources.get(feed + "?utm=1").header("Content-Type") == "application/rss+xml"
    assert resources.get(feed).body == b"<rss>second</rss>"


def test_double_slash_path_is_looked_up_as_sent(proxy):
    # http.server collapses a leading "//" in self.path; this real capture's URL has one
    url = "https://hindi.business-standard.com//storypage.php?autono=166607"
    response, body = https_get(proxy, "hindi.business-standard.com", url.partition(".com")[2])
    assert response.status == 200
    assert body == corpus_body(url)


def test_cli_prints_url_then_exits_on_sigterm():
    command = [sys.executable, "-m", "tests.replay", "--corpus", str(CORPUS)]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) as server:
        try:
            first_line = server.stdout.readline().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", first_line)
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": first_line}))
            with pytest.raises(urllib.error.HTTPError) as raised:
                opener.open("http://example.org/", timeout=5)
            raised.value.close()
            assert raised.value.code == 404
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=5) == 0
        finally:
            if server.poll() is None:
                server.kill()


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("gzip, deflate, br", True), ("identity", False), ("", False), ("gzip;q=0", False),
     ("*;q=0.5", True), ("br, GZIP;q=0.8", True)],
)  # fmt: skip
def test_accepts_gzip(value, allowed):
    assert accepts_gzip(value) is allowed


def test_normalize_url_spellings_meet():
    resources = Resources(
        [("https://Example.org:443/a%7Eb?q=%e0%a4%b8", Resource.from_bytes(200, []))]
    )
    assert normalize_url("HTTPS://example.ORG/a~b?q=स") == normalize_url(
        "https://example.org:443/a%7eb?q=%E0%A4%B8"
    )
    assert "https://example.org/a~b?q=%E0%A4%B8" in resources
    assert "https://example.org:8443/a~b?q=%E0%A4%B8" not in resources


def test_compressed_answer_kept_until_the_page_changes(tmp_path, monkeypatch):
    """Compressed answers are kept, keyed by the body: a page asked for twice is compressed
    once; a page rewritten on disk between two requests is served as it is now."""
    import archive.replay.proxy as proxy_module

    compressed = []
    real_compress = proxy_module.gzip.compress

    def counted(data, *args, **kwargs):
        compressed.append(data)
        return real_compress(data, *args, **kwargs)

    monkeypatch.setattr(proxy_module.gzip, "compress", counted)
    page = tmp_path / "page.html"
    page.write_bytes(b"<html><body><p>" + "पहला संस्करण। ".encode() * 200 + b"</p></body></html>")
    html = [("Content-Type", "text/html; charset=utf-8")]
    resources = Resources([("https://example.in/a", Resource(200, html, page.read_bytes))])
    with ReplayProxy(resources) as running:
        first = [https_get(running, "example.in", "/a", **{"Accept-Encoding": "gzip"})[1]
                 for _ in range(2)]  # fmt: skip
        assert len(compressed) == 1  # the second answer came from the kept copy
        assert first[0] == first[1] and gzip.decompress(first[0]) == page.read_bytes()
        page.write_bytes(page.read_bytes().replace("पहला".encode(), "दूसरा".encode()))
        second = https_get(running, "example.in", "/a", **{"Accept-Encoding": "gzip"})[1]
        assert len(compressed) == 2 and "दूसरा".encode() in gzip.decompress(second)
