"""The catalog and `sangrah ls / show / search / catalog rebuild`.

The end-to-end tests browse a store that the real pipeline filled (`sangrah fetch` through the
replay proxy, once per module); the unit tests feed the catalog hand-written CDXJ lines.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import unicodedata
from pathlib import Path

import pytest

from archive.catalog import db as catalog_module
from archive.catalog.db import STORE_ID, Catalog, catalog_path, display_form, search_form
from archive.store import open_store
from archive.store.local import LocalStore
from archive.warc import cdxj
from tests.corpus_urls import CORPUS
from tests.pipeline_runs import ENTRIES, ENV, MISSING, NDTV, PIB, SANGRAH, WEBDUNIA, fetch

LATER = "https://hindi.webdunia.com/national-hindi-news/operation-sindoor-salute-to-the-valor-of-the-army-that-destroyed-the-hideouts-of-terrorists-rajnath-singh-125050700091_1.html"


def sangrah(store: Path, *args: str, code: int = 0, text: bool = True):
    done = subprocess.run(
        [SANGRAH, *args, "--store", str(store)],
        capture_output=True,
        text=text,
        timeout=120,
        env=ENV,
    )
    assert done.returncode == code, done.stderr
    return done.stdout


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    results = fetch(store, PIB, NDTV, WEBDUNIA, MISSING)
    assert all(results[u]["txt"] for u in (PIB, NDTV, WEBDUNIA))
    return store, results


def test_ls_lists_the_articles_newest_first(archive):
    store, results = archive
    rows = json_lines(sangrah(store, "ls", "--json"))
    assert [r["url"] for r in rows] == [PIB, NDTV, WEBDUNIA]  # 2025, 2023, 2020
    for row in rows:
        meta = ENTRIES[row["url"]]["meta"]
        assert row["title"] == meta["title"]
        assert row["published"] == meta["published"]
        assert row["source"] == ENTRIES[row["url"]]["source"]
        assert row["txt"] == results[row["url"]]["txt"]
    text = sangrah(store, "ls").splitlines()
    assert len(text) == 3
    assert ENTRIES[PIB]["meta"]["title"] in text[0] and results[PIB]["txt"] in text[0]
    assert text[0].startswith("2025-05-04 17:11")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--source", "ndtv"], [NDTV]),
        (["--since", "2021-01-01", "--until", "2023-04-28"], [NDTV]),
        (["--since", "2025-05-04"], [PIB]),
        (["--limit", "2"], [PIB, NDTV]),
        (["--source", "ians"], []),
    ],
)
def test_ls_filters(archive, args, expected):
    store, _results = archive
    assert [r["url"] for r in json_lines(sangrah(store, "ls", "--json", *args))] == expected


@pytest.mark.parametrize("how", ["url", "canonical_url", "txt"])
def test_show_prints_metadata_and_text(archive, how):
    store, results = archive
    result = results[NDTV]
    txt = (store / result["txt"]).read_text("utf-8")
    out = sangrah(store, "show", result[how])
    assert out.endswith("\n\n" + txt)
    assert f"title         {ENTRIES[NDTV]['meta']['title']}\n" in out
    shown = json.loads(sangrah(store, "show", "--json", result[how]))
    assert shown["text"] == txt
    assert shown["canonical_url"] == result["canonical_url"]
    assert (shown["warc"], shown["offset"], shown["length"]) == (
        result["warc"],
        result["offset"],
        result["length"],
    )
    assert [c["status"] for c in shown["captures"]] == [200]


@pytest.mark.parametrize("url", [PIB, NDTV, WEBDUNIA])
def test_show_raw_is_the_page_as_sent(archive, url):
    store, _results = archive
    payload = sangrah(store, "show", "--raw", url, text=False)
    assert payload == (CORPUS / ENTRIES[url]["body"]).read_bytes()


def test_show_a_capture_that_is_no_article(archive):
    store, results = archive
    shown = json.loads(sangrah(store, "show", "--json", MISSING))
    assert shown["status"] == 404 and shown["text"] is None
    assert (shown["warc"], shown["offset"]) == (
        results[MISSING]["warc"],
        results[MISSING]["offset"],
    )
    sangrah(store, "show", "https://ndtv.in/never-fetched", code=1)


def article_words(store: Path, results: dict) -> str:
    return "\n".join((store / results[u]["txt"]).read_text("utf-8") for u in (PIB, NDTV, WEBDUNIA))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("तोशीमित्सू", {WEBDUNIA}),  # virama, matras, in the body only
        ("सर्गेई", {NDTV}),  # repha (र + virama)
        ("प्रगाढ़", {PIB, WEBDUNIA}),  # nukta
        ("प्रगाढ", {PIB, WEBDUNIA}),  # the same word typed without the nukta
        ("मिलेंगे", {PIB}),  # in the title only
        ("रक्षा संकल्प", {NDTV}),  # every word must occur
        ("हिन्द-प्रशांत", {WEBDUNIA}),
    ],
)
def test_search_finds_hindi_words(archive, query, expected):
    store, _results = archive
    assert {r["url"] for r in json_lines(sangrah(store, "search", "--json", query))} == expected


def test_search_misses_words_not_in_the_texts(archive):
    store, results = archive
    words = article_words(store, results)
    absent = "ज्वालामुखी"  # nowhere in the corpus
    boilerplate = "क्रिकेट"  # in the Webdunia page's menu, cleaned out of its text
    assert absent not in words and boilerplate not in words
    assert boilerplate.encode() in (CORPUS / ENTRIES[WEBDUNIA]["body"]).read_bytes()
    for query in (absent, boilerplate):
        assert sangrah(store, "search", query, code=1) == ""


def test_search_by_source_and_text_output(archive):
    store, results = archive
    rows = json_lines(sangrah(store, "search", "--json", "--source", "pib", "प्रगाढ़"))
    assert [r["url"] for r in rows] == [PIB]
    out = sangrah(store, "search", "नकातानी")
    assert ENTRIES[PIB]["meta"]["title"] in out and results[PIB]["txt"] in out


def test_rebuild_gives_identical_results(archive):
    store, _results = archive
    commands = [["ls", "--json"], ["search", "--json", "रक्षा"], ["show", "--json", NDTV]]
    before = [sangrah(store, *c) for c in commands]
    (store / ".catalog.sqlite").unlink()
    assert [sangrah(store, *c) for c in commands] == before  # rebuilt on first use
    done = subprocess.run(
        [SANGRAH, "catalog", "rebuild", "--store", str(store)],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert done.returncode == 0 and "1 indexes" in done.stderr and "3 articles" in done.stderr
    assert [sangrah(store, *c) for c in commands] == before


class CountingStore(LocalStore):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read: list[str] = []

    def get_bytes(self, key: str) -> bytes:
        self.read.append(key)
        return super().get_bytes(key)


def test_update_is_incremental(archive, tmp_path):
    original, _results = archive
    store = tmp_path / "store"
    shutil.copytree(original, store, ignore=shutil.ignore_patterns(".catalog.sqlite*"))
    sangrah(store, "ls")
    later = fetch(store, LATER)[LATER]
    counting = CountingStore(store)
    with Catalog.for_store(counting) as catalog:
        old = catalog.ingested()
        assert catalog.update(counting) == 1
        new_index = later["warc"].replace(".warc.gz", ".cdxj")
        read = [k for k in counting.read if k != STORE_ID]
        assert read == [new_index, later["txt"]]  # nothing read again
        assert catalog.ingested() == sorted([*old, new_index])
        assert catalog.update(counting) == 0
    rows = json_lines(sangrah(store, "ls", "--json"))
    assert [r["url"] for r in rows] == [LATER, PIB, NDTV, WEBDUNIA]


# --- unit tests on hand-written indexes ---------------------------------------------------------

TXT = "txt/ndtv/2025/05/05/000_0123456789abcdef.txt"
TXT2 = "txt/ndtv/2024/01/01/000_fedcba9876543210.txt"
WARC = "warc/2025/05/05/sangrah-20250505120000000000-00000-h-1.warc.gz"
PAGE = "https://ndtv.in/india/a-1"
TWIN = "https://ndtv.in/amp/india/a-1"


def metadata(url: str, title: str, offset: int, **fields) -> cdxj.CdxjEntry:
    ref = {"warc": WARC, "offset": offset, "length": 50, "id": f"<urn:uuid:{offset}>"}
    data = {"type": "metadata", "offset": "900", "length": "10", "refers_to": ref}
    data |= {"title": title, "txt": TXT, "source": "ndtv", "canonical_url": PAGE, **fields}
    return cdxj.CdxjEntry(url, "20250505120000", data)


def response(url: str, offset: int, second: int, *, revisit: bool = False) -> cdxj.CdxjEntry:
    data = {"mime": "warc/revisit" if revisit else "text/html", "status": "200",
            "digest": "sha1:X", "offset": str(offset), "length": "50", "id": f"<urn:uuid:{offset}>",
            "date": f"2025-05-05T12:00:{second:02d}Z"}  # fmt: skip
    return cdxj.CdxjEntry(url, "20250505120000", data)


@pytest.fixture
def hand_store(tmp_path) -> LocalStore:
    store = LocalStore(tmp_path / "store")
    text = "ज़मीन की ख़बर\n\nमंत्री ने क्षेत्र में कर्\u200dम और प्रगाढ़ संबंधों की बात की।\n"
    store.put_bytes(TXT, unicodedata.normalize("NFC", text).encode())
    entries = [
        response(PAGE, 100, 10),
        response(TWIN, 1000, 20),
        metadata(PAGE, "ज़मीन की ख़बर", 100, published="2025-05-05T10:00:00+05:30"),
        metadata(TWIN, "ज़मीन की ख़बर", 1000, published="2025-05-05T10:00:00+05:30"),
        response(PAGE, 2000, 30, revisit=True),
    ]
    store.put_bytes(WARC.replace(".warc.gz", ".cdxj"), cdxj.render(entries))
    return store


def test_devanagari_words_are_whole_tokens(hand_store, tmp_path):
    with Catalog(tmp_path / "c.sqlite", hand_store.uri) as catalog:
        catalog.update(hand_store)
        catalog.db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, fts, 'row')")
        terms = {row[0] for row in catalog.db.execute("SELECT term FROM temp.vocab")}
    # nukta folded away, ZWJ dropped, matras/virama/anusvara kept inside the word
    assert {"जमीन", "खबर", "मंत्री", "क्षेत्र", "कर्म", "प्रगाढ"} <= terms
    # What the stock tokenizer would do: split at every combining mark.
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
    db.execute("INSERT INTO t VALUES ('मंत्री क्षेत्र')")
    assert {row[0] for row in db.execute("SELECT term FROM v")} == {"म", "त", "र", "क", "ष"}
    db.close()


@pytest.mark.parametrize(
    "query",
    ["ज़मीन", "ज\u093cमीन", "जमीन", "कर्म", "कर्\u200dम", "मंत्र*", "खबर मंत्री", "प्रगाढ़ संबंधों"],
)
def test_search_spellings(hand_store, tmp_path, query):
    with Catalog(tmp_path / "c.sqlite", hand_store.uri) as catalog:
        catalog.update(hand_store)
        assert [r["txt"] for r in catalog.search(query)] == [TXT]


@pytest.mark.parametrize("query", ["", '"', "-", "*", "मंत्र", "AND OR NOT", "ज्वालामुखी"])
def test_odd_queries_find_nothing(hand_store, tmp_path, query):
    with Catalog(tmp_path / "c.sqlite", hand_store.uri) as catalog:
        catalog.update(hand_store)
        assert catalog.search(query) == []


def test_twins_revisits_and_idempotence(hand_store, tmp_path):
    with Catalog(tmp_path / "c.sqlite", hand_store.uri) as catalog:
        assert catalog.update(hand_store) == 1
        stats = catalog.stats()
        assert stats == {"indexes": 1, "captures": 3, "articles": 1}
        assert catalog.update(hand_store) == 0
        assert catalog.stats() == stats
        assert catalog.find(TWIN)["txt"] == catalog.find(PAGE)["txt"] == TXT
        # The TXT's first capture describes it, though the twin's line comes first in the file.
        assert catalog.find(TWIN)["url"] == PAGE
        assert catalog.find(TWIN)["captured"] == "2025-05-05T12:00:10Z"  # its response's date
        assert [c["is_revisit"] for c in catalog.captures(PAGE)] == [0, 1]
        assert catalog.rebuild(hand_store) == 1
        assert catalog.stats() == stats


def test_catalog_belongs_to_one_store(hand_store, tmp_path):
    path = tmp_path / "c.sqlite"
    with Catalog(path, hand_store.uri) as catalog:
        catalog.update(hand_store)
    with Catalog(path, "file:///elsewhere") as catalog:
        assert catalog.stats()["articles"] == 0  # another store: started over
    with Catalog(path, "file:///elsewhere") as catalog:
        catalog.db.execute("INSERT INTO indexes VALUES ('k', 0, 0)")
    with Catalog(path, "file:///elsewhere") as catalog:
        assert catalog.ingested() == ["k"]  # the same store: kept


def test_without_fts5_search_falls_back_to_like(hand_store, tmp_path, monkeypatch):
    monkeypatch.setattr(catalog_module, "TOKENIZER", "no_such_tokenizer")
    with Catalog(tmp_path / "c.sqlite", hand_store.uri) as catalog:
        catalog.update(hand_store)
        assert not catalog.has_fts5
        assert [r["txt"] for r in catalog.search("जमीन मंत्री")] == [TXT]
        assert catalog.search("ज्वालामुखी") == []


def test_catalog_path(monkeypatch, tmp_path):
    monkeypatch.delenv("SANGRAH_CATALOG", raising=False)
    assert catalog_path(open_store(str(tmp_path)).uri) == tmp_path / ".catalog.sqlite"
    assert catalog_path("./data") == Path("data/.catalog.sqlite")
    monkeypatch.delenv("SANGRAH_SPOOL_DIR", raising=False)
    assert catalog_path("s3://bucket") == Path("spool/s3_bucket/.catalog.sqlite")
    assert catalog_path("s3://bucket/a/b/") == Path("spool/s3_bucket_a_b/.catalog.sqlite")
    monkeypatch.setenv("SANGRAH_SPOOL_DIR", str(tmp_path / "spool"))
    assert catalog_path("s3://bucket") == tmp_path / "spool/.catalog.sqlite"
    monkeypatch.setenv("SANGRAH_CATALOG", str(tmp_path / "x.sqlite"))
    assert catalog_path("s3://bucket") == tmp_path / "x.sqlite"


def test_catalog_of_an_s3_store(s3_server, s3_bucket, s3_store, hand_store, tmp_path):
    for key in hand_store.iter_keys():
        s3_store.put_bytes(key, hand_store.get_bytes(key))
    with Catalog(tmp_path / "c.sqlite", s3_store.uri) as catalog:
        assert catalog.update(s3_store) == 1
        assert [r["txt"] for r in catalog.search("प्रगाढ")] == [TXT]
    env = {
        **ENV,
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "AWS_DEFAULT_REGION": s3_server.region,
    }
    command = [SANGRAH, "show", "--json", TWIN, "--store", f"s3://{s3_bucket}/run1"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["text"] == hand_store.get_bytes(TXT).decode()
    assert (tmp_path / f"spool/s3_{s3_bucket}_run1/.catalog.sqlite").exists()


def test_a_store_made_anew_under_the_same_uri_resets_the_catalog(hand_store, tmp_path):
    from archive.catalog.db import STORE_ID

    with Catalog(tmp_path / "c.sqlite", hand_store.uri) as catalog:
        catalog.update(hand_store)
        assert catalog.articles()
        for key in list(hand_store.iter_keys()):
            hand_store.delete(key)  # the bucket is emptied and used again
        catalog.update(hand_store)
        assert catalog.articles() == []
        assert hand_store.exists(STORE_ID)


def test_a_broken_index_is_skipped_not_fatal(hand_store, tmp_path, caplog):
    broken = "warc/2025/05/06/sangrah-20250506000000000000-00000-h-1.cdxj"
    hand_store.put_bytes(broken, b"in,ndtv)/x 20250506000000 {not json\n")
    with Catalog(tmp_path / "c.sqlite", hand_store.uri) as catalog:
        assert catalog.update(hand_store) == 2
        assert broken in caplog.text
        assert catalog.ingested() == [WARC.replace(".warc.gz", ".cdxj")]
        assert [r["txt"] for r in catalog.articles()] == [TXT]


class ListingStore(LocalStore):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.listed: list[str] = []

    def iter_keys(self, prefix: str = ""):
        self.listed.append(prefix)
        return super().iter_keys(prefix)


def test_later_updates_follow_the_index_log_not_the_archive(hand_store, tmp_path):
    """After the first update, only the log of what was published since is listed, and an
    index published late under an old name (a spool synced days later) is found through it."""
    from archive.warc import indexlog

    store = ListingStore(hand_store.root)
    with Catalog(tmp_path / "c.sqlite", store.uri) as catalog:
        assert catalog.update(store) == 1
        assert "warc/" in store.listed
        store.listed.clear()
        late = "warc/2024/01/01/sangrah-20240101000000000000-00000-h-9.cdxj"
        other = "https://ndtv.in/india/b-2"
        entries = [response(other, 100, 10), metadata(other, "पुरानी खबर", 100, txt=TXT2)]
        store.put_bytes(TXT2, "पुरानी खबर\n\nपाठ।\n".encode())
        store.put_bytes(indexlog.entry_key(late), late.encode())
        store.put_bytes(late, cdxj.render(entries))
        assert catalog.update(store) == 1
        assert "warc/" not in store.listed  # the archive itself is not listed again
        assert all(prefix.startswith("indexlog/") for prefix in store.listed)
        assert late in catalog.ingested()
        assert catalog.update(store) == 0


def test_a_logged_index_not_yet_published_is_retried(hand_store, tmp_path):
    from archive.warc import indexlog

    with Catalog(tmp_path / "c.sqlite", hand_store.uri) as catalog:
        catalog.update(hand_store)
        soon = "warc/2025/05/07/sangrah-20250507000000000000-00000-h-2.cdxj"
        hand_store.put_bytes(indexlog.entry_key(soon), soon.encode())
        catalog.update(hand_store)
        assert soon not in catalog.ingested()
        hand_store.put_bytes(soon, cdxj.render([response("https://ndtv.in/c", 5, 5)]))
        catalog.update(hand_store)
        assert soon in catalog.ingested()


def test_search_form_folds_nukta_zwj_and_devanagari_digits():
    text = "क़ानून २०२६ में ९ बदलाव; कर्\u200dम"
    assert search_form(text) == "कानून 2026 में 9 बदलाव; कर्म"
    assert display_form(text) == "क़ानून २०२६ में ९ बदलाव; कर्म"  # shown as written, ZWJ aside
    assert search_form("दिल्ली १2३") == search_form("दिल्ली 123")
