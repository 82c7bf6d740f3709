"""pywb replays what a crawl archived: the crawl's WARCs and our own CDXJ, as they are.

pywb 2.10 pins old dependencies, so it lives in its own virtualenv (`make pywb`, which
`make test` runs); it is started on 127.0.0.1 without its live-web handler. The crawl comes from
the replay proxy (PIB's listing with its POST postbacks, an NDTV article, a redirect) and from
the raw server of tests/test_raw_http.py (a raw UTF-8 Location).
"""

from __future__ import annotations

import gzip
import http.client
import json
import shutil
import socket
import subprocess
import threading
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc import cdxj
from tests.corpus_urls import CORPUS
from tests.pipeline_runs import ENTRIES, ENV, NDTV, SANGRAH
from tests.test_raw_http import CASES, PROXY_NAMES, TARGET, RawServer

WAYBACK = Path(__file__).parents[1] / ".venv-pywb" / "bin" / "wayback"
REDIRECTED = "https://khabar.ndtv.com/news/india/pakistans-military-along-with-india-in-the-practice-of-fight-against-terrorism-2096858"
LISTING = "https://www.pib.gov.in/allRel.aspx?reg=3&lang=2"
COLL = "sangrah"


def sangrah(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [SANGRAH, *args], capture_output=True, text=True, timeout=600, env=env or ENV
    )
    assert '"url"' in done.stdout, done.stderr[-3000:]
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[Path, str]:
    """One store: a PIB crawl (its postbacks >= 2 s after the listing's GET, so pywb's
    Memento-Datetime tells them apart), two NDTV pages, a raw server's UTF-8 redirect."""
    root = tmp_path_factory.mktemp("pywb-store")
    replay = ["--store", str(root), "--replay", str(CORPUS)]
    window = ["--since", "2025-05-01", "--until", "2025-05-31", "--limit", "1"]
    sangrah("crawl", "pib", "--json", *replay, *window, "-s", "DOWNLOAD_DELAY=2")
    sangrah("fetch", "--json", *replay, NDTV, REDIRECTED)
    server = RawServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    raw = f"http://127.0.0.1:{server.server_address[1]}"
    env = {k: v for k, v in ENV.items() if k not in PROXY_NAMES}
    allow = ["-s", "SANGRAH_EGRESS_ALLOW=127.0.0.0/8"]
    sangrah("fetch", "--json", "--store", str(root), *allow, raw + "/moved", env=env)
    server.shutdown()
    server.server_close()
    return root, raw


@pytest.fixture(scope="module")
def pywb(store, tmp_path_factory):
    """A pywb collection of the store's WARCs and CDXJ files; yields its base URL."""
    if not WAYBACK.exists():
        pytest.skip("pywb is not installed: `make pywb` (`make test` does it)")
    root, _raw = store
    home = tmp_path_factory.mktemp("pywb")
    for kind, suffix in (("archive", ".warc.gz"), ("indexes", ".cdxj")):
        folder = home / "collections" / COLL / kind
        folder.mkdir(parents=True)
        for path in (root / "warc").rglob("*" + suffix):
            shutil.copy(path, folder / path.name)  # pywb resolves the index's bare file names
    port = free_port()
    env = {k: v for k, v in ENV.items() if k not in PROXY_NAMES}
    log = (home / "wayback.log").open("wb")
    process = subprocess.Popen(
        [str(WAYBACK), "-p", str(port), "-b", "127.0.0.1", "-d", str(home)],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(port, process, home / "wayback.log")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def wait_for(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if get(port, f"/{COLL}/")[0] == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("pywb did not start: " + log.read_text(errors="replace")[-3000:])


def get(port: int, path: str, method: str = "GET", body: bytes | None = None, headers=None):
    """(status, headers, body) of one request to pywb; redirects are not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def replay_path(timestamp: str, url: str, mode: str = "id_") -> str:
    return f"/{COLL}/{timestamp}{mode}/{quote(url, safe=':/?&=%')}"


def entries(root: Path) -> list[cdxj.CdxjEntry]:
    return [e for path in (root / "warc").rglob("*.cdxj") for e in cdxj.parse(path.read_bytes())]


def memento(headers) -> str:
    return parsedate_to_datetime(headers["Memento-Datetime"]).strftime("%Y%m%d%H%M%S")


@pytest.mark.parametrize("url", [NDTV, REDIRECTED.replace("khabar.ndtv.com/news", "ndtv.in")])
def test_the_page_not_its_metadata_at_the_articles_timestamp(store, pywb, url):
    root, _ = store
    meta = next(e for e in entries(root) if e.fields.get("page") == url)
    assert meta.url == "urn:extraction:" + url and meta.fields["txt"]
    status, headers, body = get(pywb, replay_path(meta.timestamp, url))
    assert status == 200, body[:500]
    assert headers["Content-Type"].startswith("text/html")
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    assert body == (CORPUS / ENTRIES[url]["body"]).read_bytes()
    # The extraction result is still in the archive, under its own name.
    status, headers, body = get(pywb, replay_path(meta.timestamp, meta.url))
    assert status == 200 and json.loads(body)["txt"] == meta.fields["txt"]


def test_redirect_replays_to_its_target(store, pywb):
    root, _ = store
    hop = next(e for e in entries(root) if e.url == REDIRECTED)
    status, headers, _ = get(pywb, replay_path(hop.timestamp, REDIRECTED, "mp_"))
    assert status == 301
    target = REDIRECTED.replace("khabar.ndtv.com/news", "ndtv.in")
    location = urlsplit(headers["Location"])
    assert location.netloc in ("", f"127.0.0.1:{pywb}") and location.path.endswith(target)
    status, headers, body = get(pywb, location.path.replace("mp_/", "id_/"))
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert ENTRIES[target]["meta"]["title"].encode() in body


def test_raw_utf8_location_resolves_on_replay(store, pywb):
    root, raw = store
    hop = next(e for e in entries(root) if e.url == raw + "/moved")
    status, headers, _ = get(pywb, replay_path(hop.timestamp, raw + "/moved", "mp_"))
    assert status == 302
    location = urlsplit(headers["Location"])
    assert location.netloc in ("", f"127.0.0.1:{pywb}")
    path = location.path + (f"?{location.query}" if location.query else "")
    # pywb percent-encodes the whole value (its "?" too) and decodes it again on lookup
    assert unquote(path).endswith(raw + unquote(TARGET) + "?q=१")
    status, _, body = get(pywb, path.replace("mp_/", "id_/"))
    assert status == 200 and body == CASES["/odd"][1]


def test_post_replays_the_postback_not_the_get(store, pywb):
    root, _ = store
    lines = [e for e in entries(root) if e.url == LISTING]
    get_line = next(e for e in lines if "method" not in e.fields)
    post_line = next(e for e in lines if e.fields.get("method") == "POST")
    assert post_line.timestamp > get_line.timestamp
    content_type, form = postback_request(root, post_line)
    posted = {"Content-Type": content_type}
    # Asked at the GET's time, pywb answers a POST with the postback (an exact key match) ...
    status, headers, body = get(
        pywb, replay_path(get_line.timestamp, LISTING), "POST", form, posted
    )
    assert status == 200, body[:500]
    assert memento(headers) == post_line.timestamp
    # ... and a GET, even at the postback's time, with the GET.
    status, headers, _ = get(pywb, replay_path(post_line.timestamp, LISTING))
    assert status == 200 and memento(headers) == get_line.timestamp


def postback_request(root: Path, line: cdxj.CdxjEntry) -> tuple[str, bytes]:
    """Content-Type and body of the request record that goes with ``line``'s response."""
    warc = next((root / "warc").rglob(line.fields["filename"]))
    with warc.open("rb") as f:
        records = iter(ArchiveIterator(f))
        for record in records:
            if record.rec_headers.get_header("WARC-Concurrent-To") == line.fields["id"]:
                return record.http_headers.get_header(
                    "Content-Type"
                ), record.content_stream().read()
    raise AssertionError(f"no request record for {line.fields['id']}")
