"""Bad input loses nothing: each exchange is in the WARC, each URL gets a clear reason.

A small corpus of broken answers (a body that is not the gzip it claims, a PDF, binary noise, an
empty page, a robots.txt exclusion) is replayed through the real CLI and Scrapy.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.pipeline_runs import SANGRAH

SITE = "https://bad.example"
HTML = {"Content-Type": "text/html; charset=utf-8"}
RESOURCES = {
    "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private\n"),
    "/corrupt-gzip": (200, {**HTML, "Content-Encoding": "gzip"}, b"this is not gzip at all"),
    "/report.pdf": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),
    "/noise": (200, HTML, bytes(range(256)) * 64),
    "/empty": (200, HTML, b""),
    "/private/page": (200, HTML, b"<html><body><p>never fetched</p></body></html>"),
}
EXPECTED = {
    "/corrupt-gzip": "decompress",
    "/report.pdf": "not html",
    "/noise": "no article",
    "/empty": "no article",
    "/private/page": "robots.txt",
}


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("bad-corpus")
    lines = []
    for i, (path, (status, headers, body)) in enumerate(RESOURCES.items()):
        (corpus / f"body{i}").write_bytes(body)
        lines.append({"url": SITE + path, "status": status, "headers": headers, "body": f"body{i}"})
    (corpus / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    store = tmp_path_factory.mktemp("store")
    urls = [SITE + path for path in EXPECTED]
    done = subprocess.run(
        [SANGRAH, "fetch", "--json", "--store", str(store), "--replay", str(corpus), *urls],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ,
    )
    results = {r["url"]: r for r in map(json.loads, done.stdout.splitlines())}
    return store, done, results


def warc_records(store: Path) -> dict[str, bytes]:
    records = {}
    for warc in store.rglob("*.warc.gz"):
        with warc.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    raw = record.raw_stream.read()
                    # What the replay proxy gzipped itself is compared decoded.
                    encoded = record.http_headers.get_header("Vary") == "Accept-Encoding"
                    records[uri] = gzip.decompress(raw) if encoded else raw
    return records


@pytest.mark.parametrize("path", EXPECTED)
def test_clear_reason_and_no_txt(bad_run, path):
    _store, done, results = bad_run
    result = results[SITE + path]
    assert result["txt"] is None
    assert EXPECTED[path] in result["reason"].lower(), result["reason"]
    assert done.returncode == 1


def test_every_exchange_is_archived_as_sent(bad_run):
    store, _done, _results = bad_run
    records = warc_records(store)
    for path in ("/corrupt-gzip", "/report.pdf", "/noise", "/empty", "/robots.txt"):
        assert records[SITE + path] == RESOURCES[path][2], path
    # Excluded by robots.txt: never requested, so never recorded.
    assert SITE + "/private/page" not in records


def test_the_crawl_goes_on(bad_run):
    _store, done, results = bad_run
    assert set(results) == {SITE + path for path in EXPECTED}
    assert "Traceback" not in done.stderr
