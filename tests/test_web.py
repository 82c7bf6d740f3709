"""The browser UI (`sangrah browse`, archive/web).

A store filled by the real pipeline (`sangrah fetch` through the replay proxy, once per module)
is served on 127.0.0.1 by werkzeug in a thread. urllib checks statuses, headers and the bounds
of every parameter; Playwright drives Debian's chromium through the pages. chromium is a
declared test requirement (`make test` installs it): when it is missing the browser tests fail,
they do not skip. Small hand-made stores cover escaping, revisits and the catalog refresh.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from urllib.error import HTTPError
from urllib.parse import urlencode

import pytest
from markupsafe import escape
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from archive.store.local import LocalStore
from archive.text.seedfile import from_seed_txt
from archive.warc import cdxj, indexlog
from archive.web import create_app
from tests.corpus_urls import CORPUS
from tests.pipeline_runs import ENTRIES, ENV, MISSING, NDTV, PIB, SANGRAH, WEBDUNIA, fetch

ARTICLES = (PIB, NDTV, WEBDUNIA)  # newest first: 2025, 2023, 2020
TITLES = {url: ENTRIES[url]["meta"]["title"] for url in ARTICLES}
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SOME_WARC = "warc/2025/05/05/sangrah-20250505120000000000-00000-h-1.warc.gz"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    results = fetch(store, PIB, NDTV, WEBDUNIA, MISSING)
    assert all(results[u]["txt"] for u in ARTICLES)
    return store, results


@pytest.fixture(scope="module")
def server(archive):
    store, _results = archive
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SANGRAH_CATALOG", raising=False)
        httpd = make_server("127.0.0.1", 0, create_app(str(store)), threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_port}"
        httpd.shutdown()
        thread.join()
        httpd.server_close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kwargs):
        return None  # a 3xx is returned as it is


# No proxy: a proxy from the environment must not see requests to 127.0.0.1.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def get(base: str, path: str, **query: str) -> tuple[int, dict, bytes]:
    url = base + path + ("?" + urlencode(query) if query else "")
    try:
        with OPENER.open(url, timeout=30) as response:
            return response.status, response.headers, response.read()
    except HTTPError as error:
        return error.code, error.headers, error.read()


def listed(body: bytes) -> list[str]:
    """The articles a listing shows, in order."""
    text = body.decode("utf-8")
    found = {url: text.find(f">{escape(TITLES[url])}</a>") for url in ARTICLES}
    return sorted((url for url, at in found.items() if at >= 0), key=found.get)


# --- HTTP ---------------------------------------------------------------------------------------


def test_index_lists_the_articles_newest_first(server):
    status, headers, body = get(server, "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body.startswith(b'<!doctype html>\n<html lang="hi">')
    assert listed(body) == list(ARTICLES)
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"source": "ndtv"}, [NDTV]),
        ({"since": "2021-01-01", "until": "2023-04-28"}, [NDTV]),
        ({"since": "2025-05-04"}, [PIB]),
        ({"until": "2020-10-07"}, [WEBDUNIA]),
        ({"source": "ians"}, []),
        ({"per": "1"}, [PIB]),
        ({"per": "1", "page": "2"}, [NDTV]),
        ({"per": "2", "page": "2"}, [WEBDUNIA]),
        ({"per": "1", "page": "4"}, []),
    ],
)
def test_index_filters_and_pages(server, query, expected):
    status, _headers, body = get(server, "/", **query)
    assert status == 200
    assert listed(body) == expected
    if not expected:
        assert b"No articles" in body


def test_page_links_keep_the_filters(server):
    _status, _headers, body = get(server, "/", per="1", page="2", since="2020-01-01")
    links = dict(re.findall(rb'rel="(prev|next)" href="([^"]+)"', body))
    assert links == {
        b"prev": b"/?per=1&amp;page=1&amp;since=2020-01-01",
        b"next": b"/?per=1&amp;page=3&amp;since=2020-01-01",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "सर्गेई"}, [NDTV]),
        ({"q": "प्रगाढ़"}, [PIB, WEBDUNIA]),
        ({"q": "प्रगाढ़", "source": "pib"}, [PIB]),
        ({"q": "ज्वालामुखी"}, []),
    ],
)
def test_search(server, query, expected):
    status, _headers, body = get(server, "/search", **query)
    assert status == 200
    assert sorted(listed(body)) == sorted(expected)
    assert f'value="{query["q"]}"'.encode() in body  # the box shows the query


@pytest.mark.parametrize("how", ["txt", "url", "canonical_url"])
def test_article_page(server, archive, how):
    store, results = archive
    result = results[NDTV]
    param = "txt" if how == "txt" else "url"
    status, _headers, body = get(server, "/article", **{param: result[how]})
    assert status == 200
    page = body.decode("utf-8")
    assert f"<h1>{escape(TITLES[NDTV])}</h1>" in page
    assert ENTRIES[NDTV]["meta"]["author"] in page
    _title, blocks = from_seed_txt((store / result["txt"]).read_bytes())
    for block in blocks:
        assert f"<p>{escape(block)}</p>".replace("\n", "<br>") in page
    where = {"warc": result["warc"], "offset": result["offset"], "length": result["length"]}
    assert f'href="/record?{urlencode(where, safe="/")}"'.replace("&", "&amp;") in page
    assert f'href="/captures?{urlencode({"url": NDTV}, safe=":/")}"' in page


def test_an_url_without_article_leads_to_its_captures(server):
    status, headers, _body = get(server, "/article", url=MISSING)
    assert status == 302
    assert headers["Location"] == "/captures?" + urlencode({"url": MISSING}, safe=":/")


@pytest.mark.parametrize("url", ARTICLES)
def test_record_is_the_payload_as_sent_in_a_sandbox(server, archive, url):
    _store, results = archive
    r = results[url]
    where = {"warc": r["warc"], "offset": str(r["offset"]), "length": str(r["length"])}
    status, headers, body = get(server, "/record", **where)
    assert status == 200
    assert body == (CORPUS / ENTRIES[url]["body"]).read_bytes()
    assert headers["Content-Type"] == ENTRIES[url]["headers"]["Content-Type"]
    assert headers["Content-Security-Policy"].split(";")[0] == "sandbox"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Disposition"].startswith("inline;")
    _status, headers, _body = get(server, "/record", **where, download="1")
    assert headers["Content-Disposition"].startswith("attachment; filename=")


def test_captures_page(server, archive):
    _store, results = archive
    status, _headers, body = get(server, "/captures", url=MISSING)
    assert status == 200
    assert b"<td>404</td>" in body and results[MISSING]["warc"].encode() in body
    _status, _headers, body = get(server, "/captures", url=NDTV)
    assert b"<td>200</td>" in body and escape(TITLES[NDTV]).encode() in body
    r = results[MISSING]
    _status, headers, body = get(
        server, "/record", warc=r["warc"], offset=str(r["offset"]), length=str(r["length"])
    )
    assert headers["Content-Type"].startswith("text/plain")  # the archived 404 page, as sent


@pytest.mark.parametrize(
    ("path", "query", "names"),
    [
        ("/", {"since": "2025-13-01"}, "since"),
        ("/", {"since": "20250101"}, "since"),
        ("/", {"until": "yesterday"}, "until"),
        ("/", {"since": "2025-05-05", "until": "2025-05-04"}, "since"),
        ("/", {"page": "0"}, "page"),
        ("/", {"page": "x"}, "page"),
        ("/", {"page": "२"}, "page"),  # a Devanagari digit
        ("/", {"per": "1000"}, "per"),
        ("/", {"per": "200", "page": "51"}, "page"),  # past the first 10,000 rows
        ("/", {"source": "../etc"}, "source"),
        ("/search", {}, "q"),
        ("/search", {"q": "क" * 201}, "q"),
        ("/article", {}, "txt or url"),
        ("/article", {"txt": "../../etc/passwd"}, "txt"),
        ("/article", {"txt": "warc/a/b.txt"}, "txt"),
        ("/article", {"url": "file:///etc/passwd"}, "url"),
        ("/captures", {}, "url"),
        ("/captures", {"url": "https://ndtv.in/" + "a" * 5000}, "url"),
        ("/record", {"warc": SOME_WARC, "offset": "-1", "length": "10"}, "offset"),
        ("/record", {"warc": SOME_WARC, "offset": "0"}, "length"),
        ("/record", {"warc": SOME_WARC, "offset": "0", "length": str(2**40)}, "length"),
        ("/record", {"warc": "txt/pib/a.txt", "offset": "0", "length": "1"}, "warc"),
        ("/record", {"warc": ".catalog.sqlite", "offset": "0", "length": "1"}, "warc"),
        ("/record", {"warc": SOME_WARC, "offset": "0", "length": "1", "download": "y"}, "download"),
    ],
)
def test_bad_parameters_are_400s_that_say_why(server, path, query, names):
    status, _headers, body = get(server, path, **query)
    assert status == 400
    assert f'<p class="message">{names}: '.encode() in body


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/article", {"txt": "txt/pib/2025/05/04/999_0000000000000000.txt"}),
        ("/article", {"url": "https://ndtv.in/never-fetched"}),
        ("/captures", {"url": "https://ndtv.in/never-fetched"}),
        ("/record", {"warc": SOME_WARC, "offset": "0", "length": "100"}),
        ("/nowhere", {}),
    ],
)
def test_unknown_keys_are_404s(server, path, query):
    assert get(server, path, **query)[0] == 404


def test_unknown_record_places_are_404s(server, archive):
    _store, results = archive
    r = results[NDTV]
    for offset, length in ((r["offset"] + 1, r["length"]), (r["offset"], r["length"] - 1)):
        where = {"warc": r["warc"], "offset": str(offset), "length": str(length)}
        assert get(server, "/record", **where)[0] == 404


# --- the browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """A chromium context (one per module: launching is the slow part)."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        pytest.fail(
            "chromium not found: the browser tests need Debian's chromium, a declared test "
            "requirement (`make test` installs it: apt-get install chromium fonts-noto-core)",
            pytrace=False,
        )
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, timeout=30_000)
        context = launched.new_context()
        context.set_default_timeout(10_000)
        yield context
        launched.close()


def test_browser_index_filters_and_screenshot(server, browser, tmp_path):
    page = browser.new_page()
    page.goto(server + "/")
    text = page.text_content("main") or ""
    assert [url for url in ARTICLES if TITLES[url] in text] == list(ARTICLES)
    positions = [text.index(TITLES[url]) for url in ARTICLES]
    assert positions == sorted(positions)
    shot = tmp_path / "index.png"
    page.screenshot(path=shot, full_page=True)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    page.select_option("select[name=source]", "webdunia")
    page.click("form.filters button")
    page.wait_for_url("**/?source=webdunia*")
    assert page.locator("ol.articles a.title").all_inner_texts() == [TITLES[WEBDUNIA]]
    page.close()


def test_browser_search_article_captures_record(server, browser, archive):
    store, results = archive
    page = browser.new_page()
    page.goto(server + "/")
    page.locator("header input[name=q]").press_sequentially("सर्गेई")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    assert page.locator("ol.articles a.title").all_inner_texts() == [TITLES[NDTV]]

    page.click(f"text={TITLES[NDTV]}")
    page.wait_for_url("**/article?txt=**")
    assert page.inner_text("h1") == TITLES[NDTV]
    _title, blocks = from_seed_txt((store / results[NDTV]["txt"]).read_bytes())
    assert page.locator("div.text p").all_inner_texts() == blocks

    page.click("a.captures")
    page.wait_for_url("**/captures?url=**")
    assert page.locator("table.captures tbody tr").count() == 1
    row = page.inner_text("table.captures tbody tr")
    assert "200" in row and results[NDTV]["warc"] in row

    page.click("table.captures tbody a")
    page.wait_for_url("**/record?**")
    assert page.evaluate("window.origin") == "null"  # sandboxed: an opaque origin
    assert page.evaluate("typeof window.dataLayer") == "undefined"  # its inline script never ran
    assert TITLES[NDTV] in page.title()
    page.close()


# --- hand-made stores: escaping, revisits, missing files, the refresh ----------------------------

TXT = "txt/ndtv/2025/05/05/000_0123456789abcdef.txt"
PAGE = "https://ndtv.in/india/a-1"
INDEX = SOME_WARC.replace(".warc.gz", ".cdxj")


def hand_index() -> bytes:
    def response(offset: int, second: int, mime: str) -> cdxj.CdxjEntry:
        return cdxj.CdxjEntry(PAGE, "20250505120000", {
            "mime": mime, "status": "200", "digest": "sha1:X", "offset": str(offset),
            "length": "50", "id": f"<urn:uuid:{offset}>", "date": f"2025-05-05T12:00:{second}Z",
        })  # fmt: skip

    ref = {"warc": SOME_WARC, "offset": 100, "length": 50, "id": "<urn:uuid:100>"}
    meta = {"type": "metadata", "offset": "900", "length": "10", "refers_to": ref, "txt": TXT,
            "title": "<b>शीर्षक</b>", "source": "ndtv",
            "published": "2025-05-05T10:00:00+05:30"}  # fmt: skip
    entries = [
        response(100, 10, "text/html"),
        cdxj.CdxjEntry(PAGE, "20250505120000", meta),
        response(2000, 30, "warc/revisit"),
    ]
    return cdxj.render(entries)


@pytest.fixture
def hand_store(tmp_path, monkeypatch) -> LocalStore:
    monkeypatch.delenv("SANGRAH_CATALOG", raising=False)
    store = LocalStore(tmp_path / "store")
    text = "<b>शीर्षक</b>\n\nपहला <script>alert(1)</script> अनुच्छेद\nदूसरी पंक्ति\n"
    store.put_bytes(TXT, text.encode())
    return store


def test_text_is_escaped_and_lines_kept(hand_store):
    hand_store.put_bytes(INDEX, hand_index())
    page = create_app(hand_store.uri).test_client().get("/article", query_string={"txt": TXT})
    assert page.status_code == 200
    assert "<h1>&lt;b&gt;शीर्षक&lt;/b&gt;</h1>" in page.text
    assert "<p>पहला &lt;script&gt;alert(1)&lt;/script&gt; अनुच्छेद<br>दूसरी पंक्ति</p>" in page.text
    assert "<script>" not in page.text


def test_revisit_leads_to_its_payload_and_a_missing_warc_is_404(hand_store):
    hand_store.put_bytes(INDEX, hand_index())
    client = create_app(hand_store.uri).test_client()
    revisit = client.get("/record", query_string={"warc": SOME_WARC, "offset": 2000, "length": 50})
    assert revisit.status_code == 302
    assert revisit.location == f"/record?warc={SOME_WARC}&offset=100&length=50"
    original = client.get(revisit.location)
    assert original.status_code == 404 and "is not in the store" in original.text


def test_catalog_refreshes_on_listings_at_most_every_n_seconds(hand_store):
    now = [0.0]
    client = create_app(hand_store.uri, refresh_seconds=60, clock=lambda: now[0]).test_client()
    assert "No articles" in client.get("/").text  # read on start: nothing indexed yet
    hand_store.put_bytes(INDEX, hand_index())
    hand_store.put_bytes(indexlog.entry_key(INDEX), INDEX.encode())  # announced, as a run does
    now[0] = 59.0
    assert "No articles" in client.get("/").text
    assert client.get("/article", query_string={"txt": TXT}).status_code == 404  # no refresh
    now[0] = 60.0
    assert "&lt;b&gt;शीर्षक" in client.get("/").text
    assert client.get("/article", query_string={"txt": TXT}).status_code == 200


# --- the command --------------------------------------------------------------------------------


def test_web_does_not_import_scrapy(tmp_path):
    code = (
        "import sys; from archive.web import create_app; create_app(sys.argv[1]); "
        "import archive.cli; assert 'scrapy' not in sys.modules, 'scrapy imported'"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=ENV, timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sangrah_browse_serves_the_store(archive, tmp_path):
    store, _results = archive
    port = free_port()
    command = [SANGRAH, "browse", "--store", str(store), "--port", str(port)]
    with subprocess.Popen(command, env=ENV, stderr=subprocess.PIPE, text=True) as child:
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    status, _headers, body = get(f"http://127.0.0.1:{port}", "/")
                    break
                except OSError:
                    assert child.poll() is None and time.monotonic() < deadline, "not serving"
                    time.sleep(0.1)
            assert status == 200 and listed(body) == list(ARTICLES)
            status, _headers, body = get(f"http://127.0.0.1:{port + 2}", "/", url=NDTV)
            assert status == 200 and b"<replay-web-page" in body  # the replay origin
        finally:
            child.terminate()
            stderr = child.communicate(timeout=10)[1]
    assert f"browsing {store} at http://127.0.0.1:{port}/" in stderr
    assert f"records from port {port + 1}, replay from port {port + 2};" in stderr
    missing = subprocess.run(
        [SANGRAH, "browse", "--store", str(tmp_path / "nothing")],
        capture_output=True, text=True, env=ENV, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2 and "no archive at" in missing.stderr
