"""Replay proxy: answers HTTP(S) requests from stored resources instead of the network.

Tests and ``sangrah fetch --replay`` point the real Scrapy downloader at this HTTP proxy on
127.0.0.1 (``HTTP(S)_PROXY`` or ``request.meta["proxy"]``), so every downloader middleware runs as
in production while the answers come from a corpus folder or WARC files (see
:mod:`archive.replay.resources`), looked up by the resource's real URL.

Plain http arrives as absolute-form requests; https as ``CONNECT host:443``, after which the
tunnel is terminated here with a leaf certificate for that host, signed by a throwaway CA made at
start (:attr:`ReplayProxy.ca_pem`, for clients that verify; Scrapy does not). Text
bodies are gzipped and sent chunked when the client accepts gzip, as real servers do, so the
archiver has to capture the compressed, de-chunked exchange before Scrapy decompresses it.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import logging
import re
import signal
import socket
import socketserver
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from archive.replay.resources import Resource, Resources, load_resources
from archive.replay.tls import ReplayCA

logger = logging.getLogger("archive.replay")

Clock = Callable[[], datetime]

# Hop-by-hop and framing headers: they described the stored transfer, this one is framed anew.
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
    "upgrade", "content-length",
}  # fmt: skip
_COMPRESSIBLE_SUFFIXES = ("/xml", "+xml", "/json", "+json", "/javascript")
_CHUNK_SIZE = 16 * 1024
GZIP_CACHE_BYTES = 256 * 1024 * 1024  # compressed answers kept in memory
_IDLE_TIMEOUT = 60.0  # seconds a keep-alive connection may sit idle before it is closed
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def utc_now() -> datetime:
    return datetime.now(UTC)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value allows gzip (``gzip;q=0`` forbids it)."""
    for item in accept_encoding.split(","):
        coding, *params = (part.strip().lower() for part in item.split(";"))
        if coding in ("gzip", "x-gzip", "*"):
            q = next((p[2:] for p in params if p.startswith("q=")), "1")
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


def compressible(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media.startswith("text/") or media.endswith(_COMPRESSIBLE_SUFFIXES)


def _header_line(name: str, value: str) -> bytes:
    # Inverse of warcio's header decoding (UTF-8, else latin-1), so stored bytes go out unchanged.
    line = f"{name}: {value}\r\n"
    try:
        raw = line.encode("latin-1")
        raw.decode("utf-8")
    except UnicodeEncodeError:
        return line.encode("utf-8")
    except UnicodeDecodeError:
        return raw
    return line.encode("utf-8")


def not_found(url: str) -> Resource:
    body = f"not in replay corpus: {url}\n".encode()
    return Resource.from_bytes(404, [("Content-Type", "text/plain; charset=utf-8")], body)


class _ReplayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT
    server: ReplayServer
    tunnel_host = ""  # set by CONNECT: later requests arrive inside TLS for https://<tunnel_host>

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        except OSError as exc:  # includes ssl.SSLError; the client went away mid-exchange
            logger.debug("connection from %s ended: %r", self.client_address[0], exc)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # flushing to a closed socket
        finally:
            self.server.untrack(self.connection)
            if self.tunnel_host:  # the server only closes the plain socket the TLS one replaced
                self.connection.close()

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s - %s", self.client_address[0], format % args)

    def parse_request(self) -> bool:
        # Raw UTF-8 in a target (some clients send it) is escaped to the form the manifests store;
        # left alone, http.server decodes it as latin-1 and splits on U+0085/U+00A0 as whitespace.
        self.raw_requestline = _NON_ASCII.sub(lambda m: b"%%%02X" % m[0][0], self.raw_requestline)
        return super().parse_request()

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        if not host or not port.isdigit():
            self.send_error(400, "CONNECT needs host:port")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.log_request(200)
        try:
            tls = self.server.ca.context(host).wrap_socket(self.connection, server_side=True)
        except (OSError, ValueError) as exc:  # ValueError: a host no certificate can name
            logger.debug("TLS handshake with %s failed: %r", self.client_address[0], exc)
            self.close_connection = True
            return
        self.server.untrack(self.connection)
        self.server.track(tls)
        self.rfile.close()
        self.connection = self.request = tls
        self.rfile = tls.makefile("rb", self.rbufsize)
        self.wfile = tls.makefile("wb")  # buffered: handle_one_request flushes after each answer
        self.tunnel_host = host if port == "443" else f"{host}:{port}"
        self.close_connection = False  # BaseHTTPRequestHandler's loop now reads the tunnel

    def do_GET(self) -> None:
        self._answer()

    do_HEAD = do_POST = do_GET

    def _target_url(self) -> str:
        # self.path has leading "//" collapsed (an open-redirect guard); the request line has not.
        target = self.requestline.split()[1]
        if target.lower().startswith(("http://", "https://")):
            return target  # absolute form: a proxy request
        if self.tunnel_host:
            return f"https://{self.tunnel_host}{target}"
        host, port = self.server.server_address[:2]
        return f"http://{self.headers.get('Host', f'{host}:{port}')}{target}"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # keep the connection in step; request bodies are ignored
        url = self._target_url()
        resource = self.server.resources.get(url) or not_found(url)
        if self.server.latency:
            time.sleep(self.server.latency)
        headers, body, chunked = self._framed(resource)
        reason = resource.reason or self.responses.get(resource.status, ("Unknown",))[0]
        head = [f"HTTP/1.1 {resource.status} {reason}\r\n".encode("latin-1")]
        head += [_header_line(name, value) for name, value in headers]
        self.wfile.write(b"".join(head) + b"\r\n")
        self.log_request(resource.status)
        self.server.count(url, resource.status)
        if self.command == "HEAD":
            return
        if not chunked:
            self.wfile.write(body)
            return
        for start in range(0, len(body), _CHUNK_SIZE):
            chunk = body[start : start + _CHUNK_SIZE]
            self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _framed(self, resource: Resource) -> tuple[list[tuple[str, str]], bytes, bool]:
        """Stored headers (order and values kept) plus framing, compressed as a server would."""
        headers = [(k, v) for k, v in resource.headers if k.lower() not in _HOP_BY_HOP]
        names = {name.lower() for name, _ in headers}
        if "date" not in names:
            headers.append(("Date", format_datetime(self.server.clock().astimezone(UTC), True)))
        if "server" not in names:
            headers.append(("Server", "sangrah-replay"))
        body = resource.body
        gzip_it = (
            body
            and "content-encoding" not in names
            and compressible(resource.header("Content-Type"))
            and accepts_gzip(self.headers.get("Accept-Encoding", ""))
        )
        if not gzip_it:
            return [*headers, ("Content-Length", str(len(body)))], body, False
        body = self.server.gzipped(body)
        headers.append(("Content-Encoding", "gzip"))
        if not any(k.lower() == "vary" and "accept-encoding" in v.lower() for k, v in headers):
            headers.append(("Vary", "Accept-Encoding"))
        if self.request_version == "HTTP/1.0":  # no chunked coding before HTTP/1.1
            return [*headers, ("Content-Length", str(len(body)))], body, False
        return [*headers, ("Transfer-Encoding", "chunked")], body, True


class ReplayServer(ThreadingHTTPServer):
    """The threaded server; ``hits`` counts answers per (url, status) as the client asked."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        resources: Resources,
        clock: Clock = utc_now,
        latency: float = 0.0,
    ):
        self.resources = resources
        self.clock = clock
        self.latency = latency  # seconds before each answer: a distant or slow site
        self.ca = ReplayCA()  # signs a certificate per CONNECT host
        self.hits: Counter[tuple[str, int]] = Counter()
        self._lock = threading.Lock()
        # Compressed answers kept, as a server's cache (or nginx's gzip_static) keeps them: the
        # proxy runs on the machine it serves, and compressing each page again on every request
        # took most of its CPU. Keyed by a digest of the body; oldest out first past the budget.
        self._gzipped: OrderedDict[bytes, bytes] = OrderedDict()
        self._gzipped_bytes = 0
        self._open: set[socket.socket] = set()
        super().__init__(address, _ReplayHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn, a DNS lookup this machine must not make.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def gzipped(self, body: bytes) -> bytes:
        key = hashlib.blake2b(body, digest_size=16).digest()  # a page rewritten on disk: new key
        with self._lock:
            if (packed := self._gzipped.get(key)) is not None:
                self._gzipped.move_to_end(key)
                return packed
        packed = gzip.compress(body, compresslevel=6, mtime=0)  # nginx/Apache-like; mtime 0: stable
        with self._lock:
            if key not in self._gzipped:
                self._gzipped[key] = packed
                self._gzipped_bytes += len(packed)
            while self._gzipped_bytes > GZIP_CACHE_BYTES:
                self._gzipped_bytes -= len(self._gzipped.popitem(last=False)[1])
        return packed

    def count(self, url: str, status: int) -> None:
        with self._lock:
            self.hits[(url, status)] += 1

    def counted(self) -> Counter[tuple[str, int]]:
        with self._lock:
            return Counter(self.hits)

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections so they end now."""
        with self._lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            try:  # the plain socket call: SSLSocket.shutdown would race the reading thread
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        logger.exception("replay handler failed for %s", client_address[0])


class ReplayProxy:
    """The replay server in a background daemon thread; a context manager."""

    def __init__(
        self,
        resources: Resources,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Clock = utc_now,
        latency: float = 0.0,
    ):
        self.server = ReplayServer((host, port), resources, clock, latency)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.server.server_address[0]}:{self.port}"

    @property
    def ca_pem(self) -> str:
        """The PEM certificate of the CA that signs the tunnels' certificates, to trust it."""
        return self.server.ca.pem

    @property
    def hits(self) -> Counter[tuple[str, int]]:
        return self.server.counted()

    def proxy_env(self) -> dict[str, str]:
        """Environment variables that route urllib/Scrapy through this proxy."""
        keys = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
        return dict.fromkeys(keys, self.url)

    def start(self) -> ReplayProxy:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"replay-proxy-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server.close_connections()
        self.server.server_close()

    def __enter__(self) -> ReplayProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; the first line of stdout is the proxy URL."""
    parser = argparse.ArgumentParser(description="Replay stored HTTP(S) resources as a proxy.")
    parser.add_argument("--corpus", type=Path, action="append", default=[], help="corpus folder")
    parser.add_argument("--warc", type=Path, action="append", default=[], help="WARC file/dir")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if not args.corpus and not args.warc:
        parser.error("give at least one --corpus or --warc")
    for folder in args.corpus:
        if not any(folder.glob("manifest*.jsonl")):
            parser.error(f"--corpus {folder}: no manifest*.jsonl there")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        resources = load_resources([*args.corpus, *args.warc])
    except (OSError, ValueError) as exc:
        logger.error("cannot load resources: %s", exc)
        return 2
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    with ReplayProxy(resources, port=args.port) as proxy:
        print(proxy.url, flush=True)
        logger.info("serving %d resources at %s", len(resources), proxy.url)
        while not stopping.wait(0.5):  # a timed wait keeps signal delivery prompt everywhere
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
