"""`sangrah check-source`: what an operator sees when fixing sources.toml with an override file.

Pages come from files, from the replay proxy (the same HTTP client a live check uses, pointed at
127.0.0.1) and from a store's WARCs after a real `sangrah fetch`.
"""

from __future__ import annotations

import json
import socketserver
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from archive.text.extract import extract
from tests.corpus_urls import CORPUS
from tests.pipeline_runs import ENV, SANGRAH, fetch

PIB = "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2126794&reg=3&lang=2"
PIB_FILE = CORPUS / "web/pib/pib_2126794_hi.html"
NDTV_FILE = CORPUS / "web/ndtv/article_4039518.html"
NDTV = "https://ndtv.in/india/india-russia-resolve-to-strengthen-defence-cooperation-rajnath-singh-shoigu-sco-meeting-4039518"
PROXY_NAMES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")


def check(*args: str, sources: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in ENV.items() if k not in PROXY_NAMES and k != "SANGRAH_SOURCES"}
    if sources is not None:
        env["SANGRAH_SOURCES"] = str(sources)
    command = [SANGRAH, "check-source", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def as_json(done: subprocess.CompletedProcess) -> dict:
    assert done.stdout.strip(), done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture
def broken_pib(tmp_path: Path) -> Path:
    """An override whose container selector no longer matches (a renamed class on the site)."""
    path = tmp_path / "sources.toml"
    path.write_text("[pib.extract]\ncontainer = ['div.renamed-content']\n", encoding="utf-8")
    return path


def test_file_shows_selectors_paths_and_txt():
    done = check("ndtv", str(NDTV_FILE), "--json")
    assert done.returncode == 0, done.stderr
    report = as_json(done)
    # A saved page names its own URL (rel=canonical): the URL rules judge the real one.
    assert report["url"] == NDTV and "canonical" in report["url_note"]
    by_key = {(s["key"], s["selector"]): s for s in report["selectors"]}
    container = by_key[("container", "#ins_storybody")]
    assert container["nodes"] == 1 and not container["inherited"]
    title = by_key[("title", "h1.sp-ttl")]
    assert title["used"] and title["value"].startswith("भारत और रूस")
    assert by_key[("drop", ".add__placeholder")]["nodes"] == 8  # the in-body ad slots
    assert by_key[("drop", "script")]["inherited"]  # a [generic] fallback
    assert report["chosen"]["path"] == "container"
    assert report["paths"]["container"]["chars"] > 1000
    # The container holds the page's text: a crawl skips the self-check, check-source still
    # shows how far the container's reading agrees with plain trafilatura's.
    assert report["chosen"]["agreement"] is None
    assert 0.7 < report["paths"]["container"]["agreement"] <= 1.0
    # The TXT shown is the one a crawl writes.
    expected = extract(NDTV_FILE.read_bytes(), NDTV, "text/html").txt_bytes().decode()
    assert report["txt"] == expected
    assert report["result"]["container_selector"] == "[itemprop='articleBody']"


def test_broken_container_override_goes_down_another_path(broken_pib):
    done = check("pib", PIB, "--replay", str(CORPUS), sources=broken_pib)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"sources     {broken_pib}" in out
    assert "replay fetch of " + PIB in out
    line = next(x for x in out.splitlines() if "div.renamed-content" in x)
    assert line.split()[:3] == ["container", "div.renamed-content", "0"]
    assert "container  -  no container selector matched" in out
    assert "chosen      page (agreement 1.000): the whole pruned page (no container" in out
    assert "TXT (seed format)" in out and "रक्षा मंत्री श्री राजनाथ सिंह" in out

    report = as_json(check("pib", PIB, "--replay", str(CORPUS), "--json", sources=broken_pib))
    assert report["result"]["container_selector"] is None
    assert report["paths"]["container"]["blocks"] is None
    assert report["chosen"]["path"].startswith("page")
    # Without the override the same page goes through the container.
    fixed = as_json(check("pib", PIB, "--replay", str(CORPUS), "--json"))
    assert fixed["chosen"]["path"] == "container"
    assert fixed["result"]["container_selector"].startswith("div.innner-page")


def test_file_without_a_url_gets_one_on_the_source_domain(broken_pib):
    report = as_json(check("pib", str(PIB_FILE), "--json", sources=broken_pib))
    assert report["url"] == "https://pib.gov.in/pib_2126794_hi.html"
    assert "made up" in report["url_note"]
    # The URL rules judge the made-up URL: no release URL, and with the container gone
    # nothing on the page says article either. The note tells the operator to give --url.
    assert report["txt"] is None and "section/listing page" in report["result"]["reason"]
    given = as_json(check("pib", str(PIB_FILE), "--url", PIB, "--json", sources=broken_pib))
    assert given["url"] == PIB and given["url_note"] is None
    assert given["txt"] and given["chosen"]["path"].startswith("page")


def test_archived_page_from_the_store(tmp_path):
    fetched = fetch(tmp_path, NDTV)[NDTV]
    assert fetched["txt"], fetched
    report = as_json(check("ndtv", NDTV, "--store", str(tmp_path), "--json"))
    assert report["origin"].startswith(f"store {tmp_path}: {fetched['warc']}")
    assert report["txt"].encode() == (tmp_path / fetched["txt"]).read_bytes()
    missing = check("ndtv", NDTV + "-gone", "--store", str(tmp_path))
    assert missing.returncode == 2 and "not in the archive" in missing.stderr


def test_refusals_are_one_line(tmp_path, broken_pib):
    wrong = check("ndtv", PIB, "--replay", str(CORPUS))
    assert wrong.returncode == 2 and "is a pib URL, not ndtv's" in wrong.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[pib.extract]\ncontainer = ['div[']\n", encoding="utf-8")
    done = check("pib", str(PIB_FILE), sources=bad)
    assert done.returncode == 2 and "'div[' is not a CSS selector" in done.stderr
    assert "Traceback" not in done.stderr
    local = check("pib", "http://127.0.0.1:9/x", "--live", sources=broken_pib)
    assert local.returncode == 2 and "127.0.0.1 is a loopback address" in local.stderr
    nothing = check("pib", str(tmp_path / "none.html"))
    assert nothing.returncode == 2 and "cannot read" in nothing.stderr
    no_store = check("ndtv", NDTV, "--store", str(tmp_path / "no-store"))
    assert no_store.returncode == 2 and "no archive at" in no_store.stderr


class _Site(ThreadingHTTPServer):
    """127.0.0.1: the PIB release at /release, and a redirect to the cloud metadata address."""

    daemon_threads = True

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/release":
                    body = PIB_FILE.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def server_bind(self) -> None:  # no getfqdn(): no DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_port = self.server_address[1]


def test_live_fetch_is_guarded_hop_by_hop(monkeypatch):
    """--live on a site the operator allowed (here 127.0.0.1): fetched with the plain client;
    a redirect to a forbidden address is refused, not followed."""
    site = _Site()
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{site.server_port}"
        monkeypatch.setitem(ENV, "SANGRAH_EGRESS_ALLOW", "127.0.0.1/32")
        # An address has no source of its own: the generic spec reads the release.
        report = as_json(check("generic", f"{base}/release", "--live", "--json"))
        assert report["origin"] == f"live fetch of {base}/release (HTTP 200)"
        assert report["url"] == f"{base}/release" and report["source"] == "generic"
        assert report["result"]["title"].startswith("रक्षा मंत्री 05 मई")
        done = check("generic", f"{base}/moved", "--live")
        assert done.returncode == 2
        assert "169.254.169.254 is a cloud metadata address" in done.stderr
    finally:
        site.shutdown()
        site.server_close()


def test_not_an_article_says_why():
    video = "https://ndtv.in/videos/rajnath-singh-said-there-should-be-no-objection-to-worship-on-rafale-529463"
    done = check("ndtv", video, "--replay", str(CORPUS))
    assert done.returncode == 1
    assert "result      not an article: not an article: video page" in done.stdout
    assert "TXT (seed format)" not in done.stdout
