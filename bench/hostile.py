"""Memory per hostile input: peak RSS of a one-URL `sangrah fetch` for each, against a plain
news page in the same run.

    python -m bench.hostile

A local server on 127.0.0.1 answers each case (the egress guard is told to allow loopback for
this); the command's peak RSS (the CLI and its Scrapy child) and what it reported are printed as
a Markdown table: input, what was recorded, TXT or reason, peak RSS.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.corpus_urls import CORPUS, manifest

SANGRAH = str(Path(sys.executable).with_name("sangrah"))
PAGE = next(e for e in manifest() if e["kind"] == "article" and e["source"] == "ndtv")
NEWS = (CORPUS / PAGE["body"]).read_bytes()
LINKS = "".join(f'<li><a href="/l/{n}">खबर {n}</a></li>' for n in range(20_000))
CASES = {
    "/news": ("a news page (NDTV replica)", "text/html; charset=utf-8", NEWS),
    "/50mb": ("a 50 MB page (Content-Length given)", "text/html; charset=utf-8",
              b"<p>x</p>" * 6_500_000),
    "/50mb-stream": ("a 50 MB page (no length: read until cut)", "text/html; charset=utf-8",
                     b"<p>x</p>" * 6_500_000),
    "/links": ("a 20,000-link listing", "text/html; charset=utf-8",
               f"<html><body><ul>{LINKS}</ul></body></html>".encode()),
    "/utf16": ("UTF-16 with a BOM under a UTF-8 declaration", "text/html; charset=utf-8",
               ("\ufeff<html><head><title>खबर</title></head><body><h1>खबर</h1>"
                + "<p>रक्षा मंत्री ने नई दिल्ली में बैठक की और कहा कि दोनों देश मिलकर काम करेंगे।</p>" * 8
                + "</body></html>").encode("utf-16-le")),
}  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        _name, kind, body = CASES.get(self.path, ("", "text/plain", b"not found"))
        self.send_response(200 if self.path in CASES else 404)
        self.send_header("Content-Type", kind)
        if not self.path.endswith("-stream"):  # else HTTP/1.0: the body ends when we close
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler stopped reading at its size limit

    def log_message(self, *_args) -> None:
        pass


def measured(command: list[str]) -> tuple[str, float]:
    probe = (
        "import resource, subprocess, json\n"
        f"done = subprocess.run({command!r}, capture_output=True, text=True)\n"
        "print(json.dumps([done.stdout, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    stdout, rss = json.loads(out.stdout)
    return stdout, rss / 1024


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    print("| input | recorded | TXT or reason | peak RSS |")
    print("|---|---|---|---|")
    try:
        for path, (name, _kind, _body) in CASES.items():
            with tempfile.TemporaryDirectory() as store:
                command = [SANGRAH, "fetch", "--json", "--store", store, "--set",
                           "SANGRAH_EGRESS_ALLOW=127.0.0.0/8", "--set", "ROBOTSTXT_OBEY=False",
                           base + path]  # fmt: skip
                stdout, rss = measured(command)
                result = json.loads(next(line for line in stdout.splitlines() if line))
                recorded = f"{result['status']} in {result['warc'].rsplit('/', 1)[-1][:24]}…"
                outcome = result["txt"] or result["reason"]
                print(f"| {name} | {recorded} | {outcome} | {rss:.0f} MiB |")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
