"""Browsing like a reader and an archivist, on a hand-written store (tests/reader_store.py):
why a URL got no TXT, search with snippets, counts, pages, phrases and digits in both scripts,
versions with a word diff; in the catalog, the CLI and the UI (Flask's test client)."""

from __future__ import annotations

import json
import subprocess

import pytest

from archive.catalog.db import MARK, Catalog
from archive.text import wordiff
from archive.web import create_app
from tests import reader_store as hand
from tests.pipeline_runs import ENV, SANGRAH

S, E = MARK


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("SANGRAH_CATALOG", raising=False)
    return hand.build(tmp_path / "store")


@pytest.fixture
def catalog(store, tmp_path):
    with Catalog(tmp_path / "c.sqlite", store.uri) as catalog:
        catalog.update(store)
        yield catalog


def sangrah(store, *args: str, code: int = 0) -> str:
    done = subprocess.run(
        [SANGRAH, *args, "--store", str(store.root)],
        capture_output=True, text=True, timeout=120, env=ENV,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    return done.stdout


# --- why not ------------------------------------------------------------------------------------


def test_captures_keep_why_they_got_no_txt(catalog):
    assert catalog.find(hand.VIDEO)["reason"] == hand.VIDEO_REASON  # from the metadata record
    assert catalog.find(hand.GONE)["reason"] == "HTTP 404"  # no metadata record: the status
    assert catalog.find(hand.ROBOTS)["reason"] is None  # a missing robots.txt is no failure
    assert {c["reason"] for c in catalog.captures(hand.PAGE)} == {None}
    failed = catalog.failures()
    assert [(f["url"], f["source"]) for f in failed] == [(hand.GONE, "ndtv"), (hand.VIDEO, "ndtv")]
    assert [f["url"] for f in catalog.failures(since="2025-05-07")] == [hand.GONE]
    assert [f["url"] for f in catalog.failures(until="2025-05-06")] == [hand.VIDEO]
    assert catalog.failures(source="pib") == []


def test_day_stats(catalog):
    assert catalog.day_stats() == [
        {"source": "ndtv", "day": "2025-05-07", "articles": 1, "failures": {"HTTP 404": 1},
         "failed": 1, "last_success": "2025-05-07T12:00:00Z"},
        {"source": "ndtv", "day": "2025-05-06", "articles": 1,
         "failures": {hand.VIDEO_REASON: 1}, "failed": 1, "last_success": "2025-05-07T12:00:00Z"},
        {"source": "ndtv", "day": "2025-05-05", "articles": 1, "failures": {}, "failed": 0,
         "last_success": "2025-05-07T12:00:00Z"},
    ]  # fmt: skip


def test_cli_shows_why(store):
    out = sangrah(store, "show", hand.VIDEO)
    assert out.startswith(f"no TXT        {hand.VIDEO_REASON}\n")
    assert f"  no TXT: {hand.VIDEO_REASON}\n" in out  # on its capture line too
    assert sangrah(store, "show", hand.GONE).startswith("no TXT        HTTP 404\n")
    failed = sangrah(store, "ls", "--failed").splitlines()
    assert failed == [
        f"2025-05-07 12:00  ndtv      404  HTTP 404  {hand.GONE}",
        f"2025-05-06 12:00  ndtv      200  {hand.VIDEO_REASON}  {hand.VIDEO}",
    ]
    rows = [json.loads(line) for line in sangrah(store, "ls", "--failed", "--json").splitlines()]
    assert [r["reason"] for r in rows] == ["HTTP 404", hand.VIDEO_REASON]
    stats = sangrah(store, "stats").splitlines()
    assert stats[0].split() == ["day", "source", "articles", "failed", "last", "success", "why"]
    assert stats[2].split()[:6] == ["2025-05-06", "ndtv", "1", "1", "2025-05-07", "12:00"]
    assert stats[2].endswith(f"  {hand.VIDEO_REASON} x1")


# --- search -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("०५", [0, 1, 2]),  # Devanagari digits find ASCII ones
        ("05", [0, 1, 2]),  # and the other way round
        ('"सहयोग की बात"', [0, 1, 2]),  # a phrase
        ('"गहरे सहयोग"', [1, 2]),
        ('"सहयोग गहरे"', []),  # the words, but not in this order
        ('"की बात', [0, 1, 2]),  # an unclosed quote: a phrase to the end
        ("तीसरा", [2]),
        ("तीस*", [2]),
    ],
)
def test_search_phrases_and_digits(catalog, query, found):
    assert sorted(r["txt"] for r in catalog.search(query)) == [hand.TXTS[i] for i in found]
    assert catalog.count(query) == len(found)


def test_snippets_mark_the_words_as_written(catalog):
    """The index holds the folded form; snippets come from the text with its nukta and its
    Devanagari digits, and the marks fall on the same words."""
    rows = {r["txt"]: r for r in catalog.search("०५ जमीन")}
    first = rows[hand.TXTS[0]]["snippet"]
    assert f"{S}०५{E} मई को {S}ज़मीन{E} पर" in first
    assert f"{S}05{E} मई को {S}ज़मीन{E} पर गहरे" in rows[hand.TXTS[1]]["snippet"]
    title = catalog.search("मंत्री")[0]["title_marked"]
    assert title == f"रक्षा {S}मंत्री{E} की बैठक"


def test_search_pages(catalog):
    everything = [r["txt"] for r in catalog.search("रक्षा")]
    assert len(everything) == 3 and catalog.count("रक्षा") == 3
    pages = [[r["txt"] for r in catalog.search("रक्षा", limit=2, offset=o)] for o in (0, 2, 4)]
    assert pages == [everything[:2], everything[2:], []]


def test_cli_search(store):
    done = subprocess.run(
        [SANGRAH, "search", "०५", "--limit", "2", "--page", "2", "--store", str(store.root)],
        capture_output=True, text=True, timeout=120, env=ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == "3 articles match; page 2 of 2\n"
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0].endswith(tuple(hand.TXTS))
    assert "«०५»" in lines[1] or "«05»" in lines[1]
    rows = [json.loads(x) for x in sangrah(store, "search", "--json", "जमीन").splitlines()]
    assert len(rows) == 3 and all("«ज़मीन»" in r["snippet"] for r in rows)


# --- versions -----------------------------------------------------------------------------------


def test_word_diff_keeps_devanagari_words_whole():
    changes = wordiff.diff_words("मंत्री ने क्षेत्र में कहा।\n\nवही", "मंत्री ने क्षेत्रों में कहा।\n\nवही")
    assert changes == [
        wordiff.Change("=", ("मंत्री", "ने")),
        wordiff.Change("-", ("क्षेत्र",)),
        wordiff.Change("+", ("क्षेत्रों",)),
        wordiff.Change("=", ("में", "कहा।", "\n", "वही")),
    ]
    assert wordiff.summary(changes) == {"added": 1, "removed": 1}
    assert wordiff.marked(changes) == ["मंत्री ने [-क्षेत्र-] {+क्षेत्रों+} में कहा।"]


def test_versions_are_linked_by_version_of(catalog):
    for txt in hand.TXTS:  # from any version, all of them, oldest first
        found = catalog.find(txt)
        assert [v["txt"] for v in catalog.versions(found)] == hand.TXTS
    assert catalog.find(hand.TXTS[2])["version_of"] == hand.TXTS[1]
    assert catalog.find(hand.PAGE)["txt"] == hand.TXTS[2]  # the URL shows the newest


def test_cli_show_versions(store):
    out = sangrah(store, "show", "--versions", hand.PAGE).splitlines()
    assert out[0] == f"version 1  2025-05-05 12:00:00  {hand.TXTS[0]}"
    assert out[2] == f"version 2  2025-05-06 12:00:00  {hand.TXTS[1]}  +3 -2 words"
    assert (
        out[4]
        == "    रक्षा मंत्री ने [-०५-] {+05+} मई को ज़मीन पर {+गहरे+} सहयोग की बात [-की।-] {+कही।+}"
    )
    assert out[5] == f"version 3  2025-05-07 12:00:00  {hand.TXTS[2]}  +5 -0 words"
    assert out[7] == "    {+तीसरा अनुच्छेद नया जोड़ा गया।+}"
    rows = [
        json.loads(x)
        for x in sangrah(store, "show", "--versions", "--json", hand.PAGE).splitlines()
    ]
    assert [(r["version"], r["version_of"], r.get("added")) for r in rows] == [
        (1, None, None), (2, hand.TXTS[0], 3), (3, hand.TXTS[1], 5)]  # fmt: skip
    sangrah(store, "show", "--versions", hand.GONE, code=1)


# --- the UI -------------------------------------------------------------------------------------


@pytest.fixture
def client(store):
    return create_app(store.uri).test_client()


def test_ui_says_why(client):
    page = client.get("/captures", query_string={"url": hand.VIDEO}).text
    assert f'<strong class="reason">{hand.VIDEO_REASON}</strong>' in page
    page = client.get("/failures").text
    assert page.index(hand.GONE) < page.index(hand.VIDEO)
    assert f'<td class="reason">{hand.VIDEO_REASON}</td>' in page
    assert "<td>2025-05-06</td>" in client.get("/stats").text


def test_ui_search_snippets_counts_pages(client):
    page = client.get("/search", query_string={"q": "जमीन ०५", "per": "2"}).text
    assert "3 articles found; 1\u20132 shown" in page
    assert "<mark>०५</mark> मई को <mark>ज़मीन</mark>" in page or "<mark>05</mark>" in page
    assert 'rel="next"' in page
    page = client.get("/search", query_string={"q": "जमीन ०५", "per": "2", "page": "2"}).text
    assert "3 articles found; 3\u20133 shown" in page and 'rel="next"' not in page
    assert page.count('<p class="snippet">') == 1


def test_ui_versions_with_a_word_diff(client):
    article = client.get("/article", query_string={"txt": hand.TXTS[0]}).text
    assert f'href="/versions?txt={hand.TXTS[0]}">3 versions</a>' in article
    page = client.get("/versions", query_string={"txt": hand.TXTS[1]}).text
    assert page.count('<section class="version"') == 3
    assert "<del>०५</del> <ins>05</ins> मई को ज़मीन पर <ins>गहरे</ins> सहयोग" in page
    assert "<ins>तीसरा अनुच्छेद नया जोड़ा गया।</ins>" in page
    assert "+3 \u22122 words"  # a minus sign in page
    assert client.get("/versions", query_string={"txt": "txt/x/0_0.txt"}).status_code == 404
