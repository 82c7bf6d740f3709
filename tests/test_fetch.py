"""`sangrah fetch` end to end: the real CLI, a Scrapy child process, the replay proxy, a store.

Each CLI run costs a few seconds (Scrapy start-up, extraction workers), so the runs are
module-scoped and the tests read what they left behind.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.store import open_store
from archive.text.seedfile import TXT_NAME_RE, format_errors, from_seed_txt
from archive.warc import cdxj
from tests.corpus_urls import CORPUS, manifest
from tests.pipeline_runs import WARCIO, run_fetch
from tests.seaweed import s3_store_for

ENTRIES = {entry["url"]: entry for entry in manifest()}
ARTICLES = [u for u, e in ENTRIES.items() if e["kind"] == "article"]
NOT_ARTICLE = "https://ndtv.in/videos/rajnath-singh-said-there-should-be-no-objection-to-worship-on-rafale-529463"
MISSING = "https://ndtv.in/india/this-page-does-not-exist-1234567"
FORBIDDEN = (
    "https://ndtv.in/india/rajnath-singh-to-take-charge-of-defense-ministry-modi-government-2046375"
)
SOFT_404 = "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127218&reg=3&lang=2"
REDIRECTED = "https://khabar.ndtv.com/news/india/pakistans-military-along-with-india-in-the-practice-of-fight-against-terrorism-2096858"
OFFSITE_REDIRECT = "https://webdunia.com/"


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    urls = [*ARTICLES, NOT_ARTICLE, MISSING, FORBIDDEN, SOFT_404, REDIRECTED, OFFSITE_REDIRECT]
    done, results = run_fetch(str(store), urls)
    assert len(results) == len(urls), done.stderr[-3000:]
    return store, done, results


def read_record(store, key: str, offset: int, length: int):
    data = store.read_range(key, offset, length)
    record = next(iter(ArchiveIterator(io.BytesIO(data))))
    return record, record.content_stream().read()


def test_every_article_gets_a_seed_txt(local_run):
    root, done, results = local_run
    store = open_store(str(root))
    for url in ARTICLES:
        result = results[url]
        assert result["txt"], (url, result["reason"])
        name = result["txt"].rsplit("/", 1)[-1]
        assert TXT_NAME_RE.match(name), name
        assert result["txt"].startswith(f"txt/{ENTRIES[url]['source']}/")
        data = store.get_bytes(result["txt"])
        assert format_errors(data) == [], (result["txt"], format_errors(data))
        title, blocks = from_seed_txt(data)
        assert title == ENTRIES[url]["meta"]["title"]
        assert blocks, url
    assert done.returncode == 1  # some URLs below are not articles


def test_twins_share_one_txt(local_run):
    _root, _done, results = local_run
    iframe = "https://www.pib.gov.in/PressReleaseIframePage.aspx?PRID=2127135"
    page = "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127135&reg=3&lang=2"
    assert results[iframe]["txt"] == results[page]["txt"]
    assert results[iframe]["canonical_url"] == results[page]["canonical_url"]


def test_articles_are_archived_as_sent(local_run):
    root, _done, results = local_run
    store = open_store(str(root))
    url = "https://ndtv.in/india/india-russia-resolve-to-strengthen-defence-cooperation-rajnath-singh-shoigu-sco-meeting-4039518"
    result = results[url]
    record, content = read_record(store, result["warc"], result["offset"], result["length"])
    assert record.rec_type == "response"
    assert record.rec_headers.get_header("WARC-Target-URI") == url
    # The replay proxy gzips and chunks text; the record keeps the gzip, not the chunking.
    assert record.http_headers.get_header("Content-Encoding") == "gzip"
    assert record.http_headers.get_header("Transfer-Encoding") is None
    assert content == (CORPUS / ENTRIES[url]["body"]).read_bytes()


@pytest.mark.parametrize(
    ("url", "status", "reason"),
    [
        (NOT_ARTICLE, 200, "not an article"),
        (MISSING, 404, "HTTP 404"),
        (FORBIDDEN, 403, "HTTP 403"),
        (SOFT_404, 200, "soft 404"),
        (OFFSITE_REDIRECT, 404, "HTTP 404"),
    ],
)
def test_no_txt_with_a_clear_reason(local_run, url, status, reason):
    root, _done, results = local_run
    result = results[url]
    assert result["txt"] is None
    assert result["status"] == status
    assert reason.lower() in result["reason"].lower()
    record, _ = read_record(
        open_store(str(root)), result["warc"], result["offset"], result["length"]
    )
    assert record.rec_headers.get_header("WARC-Target-URI") == result["final_url"]


def test_redirect_hops_are_recorded(local_run):
    root, _done, results = local_run
    result = results[REDIRECTED]
    assert result["final_url"].startswith("https://ndtv.in/india/")
    assert result["txt"]
    assert "redirected 1x" in result["note"]
    targets = {}
    for warc in Path(root, "warc").rglob("*.warc.gz"):
        with warc.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    targets[record.rec_headers.get_header("WARC-Target-URI")] = (
                        record.http_headers.get_statuscode()
                    )
    assert targets[REDIRECTED] == "301"
    assert targets["https://ndtv.in/robots.txt"] == "200"


def test_warcs_are_valid_and_indexed(local_run):
    root, _done, results = local_run
    warcs = sorted(Path(root, "warc").rglob("*.warc.gz"))
    assert warcs
    assert not list(Path(root).rglob("*.open"))
    for warc in warcs:
        subprocess.run(["gzip", "-t", str(warc)], check=True)
        subprocess.run([WARCIO, "check", str(warc)], check=True, capture_output=True)
        index = warc.with_name(warc.name.removesuffix(".warc.gz") + ".cdxj")
        entries = list(cdxj.parse(index.read_bytes()))
        indexed_txt = {e.fields.get("txt") for e in entries if e.fields.get("type") == "metadata"}
    txts = {r["txt"] for r in results.values() if r["txt"]}
    assert txts <= indexed_txt
    with warcs[0].open("rb") as f:
        first = next(iter(ArchiveIterator(f)))
        assert first.rec_type == "warcinfo"
        info = first.content_stream().read().decode()
    assert "software: sangrah/" in info and "robots: obey" in info


def test_refetch_writes_revisit_not_a_new_txt(local_run):
    root, _done, results = local_run
    url = ARTICLES[0]
    done, again = run_fetch(str(root), [url])
    assert done.returncode == 0, done.stderr[-2000:]
    assert again[url]["revisit"] is True
    assert again[url]["txt"] == results[url]["txt"]
    record, _ = read_record(
        open_store(str(root)), again[url]["warc"], again[url]["offset"], again[url]["length"]
    )
    assert record.rec_type == "revisit"
    txt_files = list(Path(root, "txt").rglob("*.txt"))
    assert len(txt_files) == len({r["txt"] for r in results.values() if r["txt"]})


def s3_env(server, spool: Path, endpoint: str | None = None) -> dict:
    return {
        "AWS_ENDPOINT_URL": endpoint or server.endpoint_url,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": server.region,
        "SANGRAH_SPOOL_DIR": str(spool),
    }


def test_fetch_into_s3(s3_server, s3_bucket, tmp_path):
    store_uri = f"s3://{s3_bucket}/run1"
    urls = [*ARTICLES, REDIRECTED, MISSING]
    done, results = run_fetch(store_uri, urls, env=s3_env(s3_server, tmp_path / "spool"))
    assert len(results) == len(urls), done.stderr[-3000:]
    store = s3_store_for(s3_server, s3_bucket)
    keys = set(store.iter_keys())
    for url in [*ARTICLES, REDIRECTED]:
        result = results[url]
        assert {result["txt"], result["warc"], result["warc"].replace(".warc.gz", ".cdxj")} <= keys
        record, _ = read_record(store, result["warc"], result["offset"], result["length"])
        assert record.rec_headers.get_header("WARC-Target-URI") == result["final_url"]
        assert format_errors(store.get_bytes(result["txt"])) == []
    assert results[MISSING]["reason"] == "HTTP 404"
    assert "wait in the spool" not in done.stderr  # its local state is not work left
    left = sorted(p.name for p in (tmp_path / "spool").rglob("*") if p.is_file())
    assert left == [".catalog.sqlite", ".store"]  # the spool folder keeps local state only


def test_unreachable_s3_fails_before_fetching(s3_server, s3_bucket, tmp_path):
    """The store is down at the start: one line that names it, nothing fetched or spooled."""
    spool = tmp_path / "spool"
    store_uri = f"s3://{s3_bucket}/run1"
    closed_port = f"http://127.0.0.1:{free_port()}"
    done, results = run_fetch(store_uri, [ARTICLES[0]], env=s3_env(s3_server, spool, closed_port))
    assert done.returncode == 1
    assert results == {}
    assert "cannot archive into" in done.stderr and "cannot reach the S3 endpoint" in done.stderr
    assert "Traceback" not in done.stderr
    assert not spool.exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_same_article_at_once_gives_one_txt(tmp_path):
    """Twins and duplicates fetched concurrently race to the TXT step: one TXT wins."""
    iframe = "https://www.pib.gov.in/PressReleaseIframePage.aspx?PRID=2127135"
    page = "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127135&reg=3&lang=2"
    target = REDIRECTED.replace("khabar.ndtv.com/news", "ndtv.in")
    urls = [iframe, page, page, REDIRECTED, target, target]
    at_once = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]
    done, _ = run_fetch(str(tmp_path), urls, *at_once)
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(urls), done.stderr[-2000:]
    assert len({r["txt"] for r in results[:3]}) == 1
    assert len({r["txt"] for r in results[3:]}) == 1
    assert all(r["txt"] for r in results)
    assert len(list(tmp_path.joinpath("txt").rglob("*.txt"))) == 2


def test_warcs_rotate_by_size(tmp_path):
    """A tiny size limit closes a file after every exchange: each file stands alone."""
    urls = ARTICLES[:3]
    done, results = run_fetch(str(tmp_path), urls, "-s", "SANGRAH_WARC_MAX_SIZE=1")
    assert done.returncode == 0, done.stderr[-2000:]
    warcs = sorted(tmp_path.joinpath("warc").rglob("*.warc.gz"))
    assert len(warcs) >= len(urls) + 1  # robots.txt exchanges are files of their own too
    for warc in warcs:
        with warc.open("rb") as f:
            kinds = [record.rec_type for record in ArchiveIterator(f)]
        assert kinds[0] == "warcinfo"
        assert warc.with_name(warc.name.replace(".warc.gz", ".cdxj")).exists()
    store = open_store(str(tmp_path))
    for url in urls:
        r = results[url]
        record, _ = read_record(store, r["warc"], r["offset"], r["length"])
        assert record.rec_headers.get_header("WARC-Target-URI") == r["final_url"]


def test_index_agrees_with_cdxj_indexer(local_run):
    """pywb's own indexer, run on our WARCs, finds the records our index lists, at the same keys."""
    root, _done, _results = local_run
    for warc in sorted(Path(root, "warc").rglob("*.warc.gz")):
        theirs = subprocess.run(
            [str(Path(sys.executable).with_name("cdxj-indexer")), str(warc)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        ours = {
            (e.key, e.timestamp, e.fields["offset"]): e.fields
            for e in cdxj.parse(warc.with_name(warc.name.replace(".warc.gz", ".cdxj")).read_bytes())
        }
        lines = [line.split(" ", 2) for line in theirs.splitlines()]
        assert lines
        for key, timestamp, blob in lines:
            fields = json.loads(blob)
            mine = ours[(key, timestamp, fields["offset"])]
            for name in ("url", "length", "digest", "status", "mime"):
                if name in fields:
                    assert mine.get(name, fields["url"] if name == "url" else None) == fields[name]


def test_reprocess_from_warcs_without_refetching(local_run, tmp_path):
    """--replay on an archive's WARCs re-runs the pipeline on what was captured."""
    root, _done, results = local_run
    urls = ARTICLES[:4]
    done, again = run_fetch(str(tmp_path), urls, replay=Path(root, "warc"))
    assert done.returncode == 0, done.stderr[-2000:]
    old, new = open_store(str(root)), open_store(str(tmp_path))
    for url in urls:
        assert new.get_bytes(again[url]["txt"]) == old.get_bytes(results[url]["txt"])
        _record, content = read_record(
            new, again[url]["warc"], again[url]["offset"], again[url]["length"]
        )
        assert content == (CORPUS / ENTRIES[url]["body"]).read_bytes()


def test_extraction_path_reaches_the_metadata_record_and_the_index(local_run):
    """How each text was read (path, agreement, the selectors that matched) is kept with it."""
    root, _done, results = local_run
    store = open_store(str(root))
    result = results[ARTICLES[0]]
    index = result["warc"].removesuffix(".warc.gz") + ".cdxj"
    (entry,) = (
        e
        for e in cdxj.parse(store.get_bytes(index))
        if e.fields.get("type") == "metadata" and e.fields.get("txt") == result["txt"]
    )
    record, content = read_record(
        store, result["warc"], int(entry.fields["offset"]), int(entry.fields["length"])
    )
    assert record.rec_type == "metadata"
    stored = json.loads(content)
    assert stored["path"] == entry.fields["path"] and stored["path"].startswith("container")
    # a named source's container holding the page's text is not self-checked: no figure
    assert stored["agreement"] is None and entry.fields.get("agreement") is None
    for name in ("container_selector", "title_selector", "date_selector"):
        assert stored[name] == entry.fields[name], name
    assert stored["container_selector"] and stored["title_selector"]
