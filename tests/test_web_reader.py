"""The reader's and archivist's pages in a real browser (Playwright + Debian's chromium, as in
tests/test_web.py): search snippets, a failure's reason, versions with a word diff, and a
faithful replay of an archived article by ReplayWeb.page from its own origin.

Each test saves a screenshot in its pytest tmp dir (looked at when the tests were written).
The replay needs ReplayWeb.page installed (`make replay-ui`, a step of `make test`); like
chromium it is a declared test requirement, so its absence fails the test.
"""

from __future__ import annotations

import threading
import urllib.request
from urllib.parse import urlencode, urlsplit

import pytest
from werkzeug.serving import make_server

from archive.web import create_app
from archive.web.replay import create_replay_app, vendor_dir
from tests import reader_store as hand
from tests.pipeline_runs import ENTRIES, MISSING, NDTV, PIB, WEBDUNIA, fetch
from tests.test_web import (
    OPENER,
    browser,  # noqa: F401  (the module's chromium fixture)
    get,
)

TITLE = ENTRIES[NDTV]["meta"]["title"]
# The text of an element and of the open shadow roots inside it (ReplayWeb.page is made of web
# components, whose text innerText does not reach).
DEEP_TEXT = """el => {
  const walk = n => {
    let t = n.shadowRoot ? walk(n.shadowRoot) : "";
    for (const c of n.childNodes) t += c.nodeType === 3 ? c.textContent : walk(c);
    return t;
  };
  return walk(el);
}"""


class Servers:
    """The UI and the replay origin of one store, each on its own 127.0.0.1 port."""

    def __init__(self, store: str | None = None, replay: bool = False) -> None:
        self.httpds = []
        if store is None:
            return
        replay_base = None
        if replay:
            self.replay = self.serve(create_replay_app(store))
            replay_base = self.replay
        self.ui = self.serve(create_app(store, replay_base=replay_base))

    def serve(self, app) -> str:
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.httpds.append(httpd)
        return f"http://127.0.0.1:{httpd.server_port}"

    def close(self) -> None:
        for httpd in self.httpds:
            httpd.shutdown()
            httpd.server_close()


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    results = fetch(store, PIB, NDTV, WEBDUNIA, MISSING)
    assert all(results[u]["txt"] for u in (PIB, NDTV, WEBDUNIA))
    return store


@pytest.fixture(scope="module")
def served(archive):
    if not (vendor_dir() / "sw.js").is_file():
        pytest.fail("ReplayWeb.page is missing: `make replay-ui` installs it", pytrace=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SANGRAH_CATALOG", raising=False)
        servers = Servers(str(archive), replay=True)
        yield servers
        servers.close()


@pytest.fixture
def hand_served(tmp_path, monkeypatch):
    monkeypatch.delenv("SANGRAH_CATALOG", raising=False)
    store = hand.build(tmp_path / "store")
    servers = Servers(store.uri, replay=False)
    yield servers
    servers.close()


def shoot(page, path) -> None:
    page.screenshot(path=path, full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_search_shows_snippets_and_counts(served, browser, tmp_path):  # noqa: F811
    page = browser.new_page()
    page.goto(served.ui + "/")
    page.locator("header input[name=q]").fill('"रक्षा सहयोग"')
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    assert page.inner_text("p.count").startswith("2 articles found; 1–2 shown")  # noqa: RUF001
    titles = page.locator("ol.articles a.title").all_inner_texts()
    assert sorted(titles) == sorted([TITLE, ENTRIES[PIB]["meta"]["title"]])
    # the phrase is one highlight, in the passage and (NDTV's) in the title
    assert page.locator("p.snippet mark").all_inner_texts() == ["रक्षा सहयोग"] * 2
    assert page.locator("a.title mark").all_inner_texts() == ["रक्षा सहयोग"]
    shoot(page, tmp_path / "search-snippets.png")
    page.close()


def test_a_failure_says_why(hand_served, browser, tmp_path):  # noqa: F811
    page = browser.new_page()
    page.goto(hand_served.ui + "/failures")
    rows = page.locator("table.failures tbody tr")
    assert rows.count() == 2
    assert page.locator("td.reason").all_inner_texts() == ["HTTP 404", hand.VIDEO_REASON]
    page.click(f"text={hand.VIDEO}")
    page.wait_for_url("**/captures?url=**")
    assert page.inner_text("p.why") == f"No text was archived from this URL: {hand.VIDEO_REASON}"
    shoot(page, tmp_path / "failure-reason.png")
    page.close()


def test_versions_with_a_word_diff(hand_served, browser, tmp_path):  # noqa: F811
    page = browser.new_page()
    page.goto(hand_served.ui + f"/article?txt={hand.TXTS[2]}")
    page.click("a.versions")
    page.wait_for_url("**/versions?txt=**")
    assert page.locator("section.version").count() == 3
    second = page.locator("section.version").nth(1)
    assert second.locator("del").all_inner_texts() == ["०५", "की।"]
    assert second.locator("ins").all_inner_texts() == ["05", "गहरे", "कही।"]
    third = page.locator("section.version").nth(2)
    assert third.locator("ins").all_inner_texts() == ["तीसरा अनुच्छेद नया जोड़ा गया।"]
    shoot(page, tmp_path / "versions-diff.png")
    page.close()


def test_replay_of_an_archived_article(served, browser, tmp_path):  # noqa: F811
    """From the article page to ReplayWeb.page on the replay origin, which shows the archived
    page itself (its own heading and text, from the WARC record), asking the web for nothing."""
    beyond: list[str] = []

    def only_local(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:  # the replay must not reach the live site (nor anything else)
            beyond.append(route.request.url)
            route.abort()

    page = browser.new_page()
    page.route("**/*", only_local)
    page.goto(served.ui + f"/article?url={NDTV}")
    page.click("a.replay")
    page.wait_for_url(served.replay + "/?url=*")
    archived = page.frame_locator("replay-web-page iframe").frame_locator("iframe").first
    heading = archived.locator("h1").first
    try:
        heading.wait_for(timeout=60_000)
    except Exception:
        shoot(page, tmp_path / "replay-failed.png")
        raise
    heading.scroll_into_view_if_needed()
    shoot(page, tmp_path / "replay-article.png")
    assert heading.inner_text() == TITLE
    body = archived.locator("body").inner_text()
    assert "सर्गेई शोइगू" in body  # the article's text, as the page had it
    where = archived.locator("html").evaluate("() => location.href")
    assert where.startswith(served.replay + "/replay/") and NDTV in where
    assert urlsplit(served.replay).port != urlsplit(served.ui).port  # an origin of its own
    page.wait_for_timeout(1000)  # let late subresource requests show up
    page.close()
    assert beyond == []


def test_replay_frame_loaded_before_the_service_worker_controls_it(served, browser, tmp_path):  # noqa: F811
    """The embedded replay's frame (``/replay/?source=...``) is the service worker's page; a
    frame that navigates before the worker controls it (a race inside ReplayWeb.page) gets
    the same page from the server, which starts the app: the archived page still shows."""
    context = browser.browser.new_context()  # no worker registered yet: the race, every time
    try:
        page = context.new_page()
        source = served.replay + "/wacz?" + urlencode({"url": NDTV})
        page.goto(served.replay + "/replay/?" + urlencode({"source": source, "embed": "replayonly"})
                  + "#" + urlencode({"view": "replay", "url": NDTV}))  # fmt: skip
        heading = page.frame_locator("iframe").first.locator("h1").first
        try:
            heading.wait_for(timeout=60_000)
        except Exception:
            shoot(page, tmp_path / "frame-failed.png")
            raise
        assert heading.inner_text() == TITLE
    finally:
        context.close()


def test_replay_frame_is_the_service_workers_own_page(served):
    """The frame page the replay origin serves is the one ReplayWeb.page's service worker
    serves at its scope's root (sw.js getIndexHtml): an upgrade that changes it shows here."""
    sw = (vendor_dir() / "sw.js").read_text("utf-8")
    assert '"./ui.js"' in sw and '"replay-app-main"' in sw  # its default script and app tag
    for path in ("/replay/", "/replay/index.html"):
        status, headers, page = get(served.replay, path)
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert b'<script src="./ui.js">' in page and b"<replay-app-main></replay-app-main>" in page


def test_replay_origin_answers_ranges_and_serves_nothing_else(served, archive):
    status, headers, whole = get(served.replay, "/wacz", url=NDTV)
    assert status == 200 and headers["Content-Type"] == "application/wacz"
    assert whole.startswith(b"PK\x03\x04")
    request = urllib.request.Request(
        served.replay + "/wacz?" + urlencode({"url": NDTV}), headers={"Range": "bytes=100-199"}
    )
    with OPENER.open(request, timeout=30) as response:
        assert response.status == 206 and response.read() == whole[100:200]
    assert get(served.replay, "/wacz", url=MISSING.replace("1234567", "0"))[0] == 404
    assert get(served.replay, "/article", url=NDTV)[0] == 404  # no UI pages here
    assert get(served.replay, "/", url="file:///etc/passwd")[0] == 400
    status, _headers, page = get(served.replay, "/", url=NDTV)
    assert status == 200 and b'<replay-web-page source="/wacz?url=' in page


def test_replaywebpage_searches_the_texts_of_an_export(archive, browser, tmp_path):  # noqa: F811
    """`sangrah export --wacz` loaded into ReplayWeb.page: its full-text search over the page
    list (pages.jsonl with each article's text) finds a word that is only in a body."""
    from flask import Response, send_file

    from tests.test_wacz import export

    wacz = tmp_path / "all.wacz"
    assert export(archive, wacz).returncode == 0
    app = create_replay_app(str(archive))
    app.add_url_rule("/all.wacz", "all", lambda: send_file(wacz, conditional=True))
    page_html = (
        '<!doctype html><meta charset="utf-8"><script src="/replay/ui.js"></script>'
        '<replay-web-page source="/all.wacz" view="pages" query="सर्गेई" replaybase="/replay/"'
        ' style="display: block; height: 100vh"></replay-web-page>'
    )
    app.add_url_rule(
        "/search", "search", lambda: Response(page_html, content_type="text/html; charset=utf-8")
    )
    servers = Servers()
    base = servers.serve(app)
    # A context of its own: a service worker an earlier test registered on a port this server
    # now has would answer in its place (the replay app never showed, once in a full run).
    context = browser.browser.new_context()
    try:
        page = context.new_page()
        page.goto(base + "/search")
        app = page.frame_locator("replay-web-page iframe").locator("replay-app-main")
        text = ""
        for _ in range(60):  # the app loads the WACZ, then lists the pages that match
            text = app.evaluate(DEEP_TEXT) if app.count() else ""
            if "1 page" in text:
                break
            page.wait_for_timeout(1000)
        else:
            shoot(page, tmp_path / "replaywebpage-search-failed.png")
        assert TITLE in text and "सर्गेई" in text
        assert ENTRIES[PIB]["meta"]["title"] not in text  # no match there
        shoot(page, tmp_path / "replaywebpage-search.png")
    finally:
        context.close()
        servers.close()
