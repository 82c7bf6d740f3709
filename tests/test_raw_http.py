"""The response head reaches the WARC byte for byte: a raw-socket server on 127.0.0.1 sends odd
status lines, mixed header case, raw UTF-8 header bytes, bare-LF heads, chunked bodies with
trailers; the real CLI fetches from it and the records must hold what it sent.
"""

from __future__ import annotations

import socket
import socketserver
import subprocess
import threading
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.pipeline_runs import ENV, SANGRAH

HTML = b"<html><body><p>\xe0\xa4\x96\xe0\xa4\xac\xe0\xa4\xb0</p></body></html>"  # खबर
LOCATION = "/समाचार/खबर?q=१".encode()  # sent raw, as some servers do
CHUNKS = [b"<html><body>", b"\xe0\xa4\x96", b"</body></html>"]

# path -> (head as sent, body as sent, head as recorded, body as recorded)
CASES: dict[str, tuple[bytes, bytes, bytes, bytes]] = {
    "/odd": (
        b"HTTP/1.1 200 Okay Then\r\ncontent-TYPE: text/html; charset=utf-8\r\n"
        b"X-Mixed-CASE:   spaced value  \r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        b"Connection: close\r\ncontent-length: %d\r\n\r\n" % len(HTML),
        HTML,
        b"HTTP/1.1 200 Okay Then\r\ncontent-TYPE: text/html; charset=utf-8\r\n"
        b"X-Mixed-CASE:   spaced value  \r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        b"Connection: close\r\ncontent-length: %d\r\n\r\n" % len(HTML),
        HTML,
    ),
    "/moved": (
        b"HTTP/1.1 302 Gone Over There\r\nLocation: " + LOCATION + b"\r\n"
        b"X-Note: \xe0\xa4\xa8\xe0\xa4\xaf\xe0\xa4\xbe\r\nContent-Length: 0\r\n\r\n",
        b"",
        b"HTTP/1.1 302 Gone Over There\r\nLocation: " + LOCATION + b"\r\n"
        b"X-Note: \xe0\xa4\xa8\xe0\xa4\xaf\xe0\xa4\xbe\r\nContent-Length: 0\r\n\r\n",
        b"",
    ),
    "/chunked": (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n"
        b"Trailer: X-Checksum\r\n\r\n",
        b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in CHUNKS) + b"0\r\nX-Checksum: 42\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Archive-Orig-Transfer-Encoding: chunked"
        b"\r\nTrailer: X-Checksum\r\nX-Archive-Trailer-X-Checksum: 42\r\n"
        b"Content-Length: %d\r\n\r\n" % len(b"".join(CHUNKS)),
        b"".join(CHUNKS),
    ),
    "/not-modified": (  # a Content-Length on a response that has no body
        b'HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: "v1"\r\n\r\n',
        b"",
        b'HTTP/1.1 304 Not Modified\r\nX-Archive-Orig-Content-Length: 1234\r\nETag: "v1"\r\n'
        b"Content-Length: 0\r\n\r\n",
        b"",
    ),
    "/bare-lf": (
        b"HTTP/1.0 200 fine\nContent-Type: text/plain\nX-Folded: one\n two\n\n",
        b"plain body, ended by the close",
        b"HTTP/1.0 200 fine\nContent-Type: text/plain\nX-Folded: one\n two\n"
        b"Content-Length: %d\n\n" % len(b"plain body, ended by the close"),
        b"plain body, ended by the close",
    ),
}
TARGET = "/" + "/".join(
    "".join(f"%{b:02X}" for b in part.encode()) for part in ("समाचार", "खबर")
)  # where Scrapy follows the raw Location to
CASES[TARGET + "?q=%E0%A5%A7"] = CASES["/odd"]
CASES["/slow"] = CASES["/odd"]  # answered 1.5 s after the request arrives
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"  # robots.txt
PROXY_NAMES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY")


class RawServer(socketserver.ThreadingTCPServer):
    """Answers each request with the bytes of CASES, then closes the connection."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.paths: list[str] = []
        self.arrived: dict[str, datetime] = {}

        class Handler(socketserver.BaseRequestHandler):
            def handle(handler) -> None:  # `self`: the server
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = handler.request.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                path = data.split(b" ", 2)[1].decode("ascii")
                self.paths.append(path)
                self.arrived[path] = datetime.now(UTC)
                if path == "/slow":
                    time.sleep(1.5)
                head, body, _, _ = CASES.get(path, (NOT_FOUND, b"", b"", b""))
                handler.request.sendall(head + body)
                handler.request.shutdown(socket.SHUT_WR)

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def server():
    return RawServer()


@pytest.fixture(scope="module")
def recorded(server, tmp_path_factory) -> dict[str, tuple[bytes, bytes, str]]:
    """Each response record as (HTTP head, payload, WARC-Date), by target URL, after one fetch."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    store = tmp_path_factory.mktemp("raw-store")
    paths = ("/odd", "/moved", "/chunked", "/not-modified", "/bare-lf", "/slow")
    urls = [base + path for path in paths]
    allow = ["-s", "SANGRAH_EGRESS_ALLOW=127.0.0.0/8", "-s", "RETRY_ENABLED=False"]
    env = {k: v for k, v in ENV.items() if k not in PROXY_NAMES}  # straight to the server
    command = [SANGRAH, "fetch", "--json", "--store", str(store), *allow, *urls]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    server.shutdown()
    server.server_close()
    assert done.stdout.count("\n") == len(urls), done.stderr[-3000:]
    return {url.removeprefix(base): block for url, block in response_blocks(store).items()}


def response_blocks(store: Path) -> dict[str, tuple[bytes, bytes, str]]:
    blocks = {}
    for warc in store.rglob("*.warc.gz"):
        with warc.open("rb") as f:
            records = ArchiveIterator(f)
            for record in records:
                if record.rec_type != "response":
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                records.read_to_end()
                offset, length = records.get_record_offset(), records.get_record_length()
                with warc.open("rb") as raw:
                    raw.seek(offset)
                    member = zlib.decompress(raw.read(length), wbits=31)
                block = member.partition(b"\r\n\r\n")[2].removesuffix(b"\r\n\r\n")
                ends = [e for e in (b"\r\n\r\n", b"\n\n") if e in block]
                head_end = min(block.index(e) + len(e) for e in ends)
                date = record.rec_headers.get_header("WARC-Date")
                blocks[url] = (block[:head_end], block[head_end:], date)
    return blocks


@pytest.mark.parametrize("path", [*CASES])
def test_head_and_body_are_recorded_as_sent(recorded, path):
    _head, _body, head, body = CASES[path]
    assert recorded[path][:2] == (head, body)


def test_raw_location_is_followed_and_kept(recorded):
    assert recorded["/moved"][0].count(LOCATION) == 1  # not percent-encoded, not mojibake
    assert TARGET + "?q=%E0%A5%A7" in recorded  # the redirect target was fetched and recorded


def test_warc_date_is_when_the_request_was_sent(recorded, server):
    """Not when the record was written: /slow answers 1.5 s after its request arrived."""
    sent = datetime.fromisoformat(recorded["/slow"][2].replace("Z", "+00:00"))
    arrived = server.arrived["/slow"]
    # The record is written after the answer, 1.5 s after arrival: a write-time date fails this.
    assert sent <= arrived
