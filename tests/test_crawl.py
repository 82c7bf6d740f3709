"""`sangrah crawl` end to end: discovery from the replica feeds/sitemaps/listings, one TXT per
canonical article, per-source summaries, PRID backfill and the --since/--until window.

Each CLI run starts Scrapy child processes, so the runs are module-scoped fixtures.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from archive.discover.urls import canonical_url
from crawler.spiders.pib import PibSpider
from tests.corpus_urls import CORPUS, manifest
from tests.pipeline_runs import SANGRAH

SOURCES = ("pib", "ians", "ndtv", "webdunia")
ENTRIES = list(manifest())
DISCOVERY_KINDS = {"feed", "sitemap", "listing"}
URL_RE = re.compile(r"""(https?://[^\s<>"'\]]+|/PressRelease\w*\.aspx\?[^\s<>"']+)""")


def run_crawl(store: Path, *args: str) -> tuple[subprocess.CompletedProcess, list, dict]:
    command = [SANGRAH, "crawl", "--json", "--store", str(store), "--replay", str(CORPUS), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=os.environ)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    results = [line for line in lines if "url" in line]
    summaries = {line["summary"]["source"]: line["summary"] for line in lines if "summary" in line}
    return done, results, summaries


def announced() -> dict[str, set[str]]:
    """Canonical URLs of dev articles that some replica feed, sitemap or listing names."""
    named: set[str] = set()
    for entry in ENTRIES:
        if entry["kind"] in DISCOVERY_KINDS:
            text = html.unescape((CORPUS / entry["body"]).read_text("utf-8-sig"))
            for url in URL_RE.findall(text):
                url = "https://www.pib.gov.in" + url if url.startswith("/") else url
                named.add(canonical_url(url))
    out: dict[str, set[str]] = defaultdict(set)
    for entry in ENTRIES:
        if entry["kind"] == "article" and entry["source"] != "generic":
            key = canonical_url(entry["url"])
            if key in named and entry.get("split", "dev") == "dev":
                out[entry["source"]].add(key)
    return out


@pytest.fixture(scope="module")
def crawl_all(tmp_path_factory):
    done, results, summaries = run_crawl(tmp_path_factory.mktemp("store"), "--all")
    assert summaries, done.stderr[-3000:]
    return done, results, summaries


def test_exit_code_and_summaries(crawl_all):
    done, _results, summaries = crawl_all
    assert done.returncode == 0, done.stderr[-3000:]
    assert set(summaries) == set(SOURCES)
    for name, summary in summaries.items():
        assert summary["ok"], (name, summary)
        assert summary["discovered"] >= summary["requested"] > 0
        assert summary["archived"] > 0
        # every requested article ends as exactly one result
        assert (
            summary["archived"] + summary["not_article"] + summary["failed"] == summary["requested"]
        )


def test_every_announced_article_gets_one_txt(crawl_all):
    _done, results, _summaries = crawl_all
    txts: dict[str, set[str]] = defaultdict(set)
    for r in results:
        if r["txt"]:
            txts[canonical_url(r["url"])].add(r["txt"])
    wanted = announced()
    assert set(wanted) == set(SOURCES)
    for source, keys in wanted.items():
        for key in keys:
            assert len(txts.get(key, ())) == 1, (source, key, txts.get(key))


def test_each_canonical_url_is_requested_once(crawl_all):
    _done, results, _summaries = crawl_all
    keys = [canonical_url(r["url"]) for r in results]
    assert len(keys) == len(set(keys))


def test_no_txt_for_non_articles(crawl_all):
    _done, results, _summaries = crawl_all
    by_key = {canonical_url(r["url"]): r for r in results}
    for entry in ENTRIES:
        if entry["kind"] in {"nonarticle", "soft404", "error"} and entry["source"] != "generic":
            result = by_key.get(canonical_url(entry["url"]))
            assert result is None or result["txt"] is None, entry["url"]
    requested = {r["url"] for r in results}
    assert not any("/videos/" in u or "/ramcharitmanas/" in u for u in requested)
    soft = by_key["https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127218"]
    assert soft["status"] == 200 and "soft 404" in soft["reason"]


def test_ians_keeps_only_wire_copy(crawl_all):
    _done, results, summaries = crawl_all
    urls = {r["url"] for r in results}
    assert summaries["ians"]["skipped"]["other_agency"] > 0
    # dc:creator "News Nation Desk" in the RSS: not requested
    assert not any(u.endswith("-9239871") for u in urls)
    assert any(u.endswith("-9239514") for u in urls)  # dc:creator IANS


def test_prid_range_backfill(tmp_path):
    done, results, summaries = run_crawl(tmp_path, "pib", "--prid-range", "2127130-2127220")
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(results) == 91
    by_prid = {int(re.search(r"PRID=(\d+)", r["url"])[1]): r for r in results}
    assert set(by_prid) == set(range(2127130, 2127221))
    assert by_prid[2127135]["txt"]
    assert by_prid[2127218]["txt"] is None and "soft 404" in by_prid[2127218]["reason"]
    assert by_prid[2127131]["status"] == 404 and by_prid[2127131]["reason"] == "HTTP 404"
    summary = summaries["pib"]
    assert summary["ok"] and summary["archived"] == 1 and summary["reasons"]["HTTP 404"] == 89


def test_ndtv_window(tmp_path):
    since, until = date(2023, 4, 1), date(2023, 6, 30)
    done, results, summaries = run_crawl(
        tmp_path, "ndtv", "--since", since.isoformat(), "--until", until.isoformat()
    )
    assert done.returncode == 0, done.stderr[-3000:]
    requested = {canonical_url(r["url"]) for r in results}
    for entry in ENTRIES:
        if entry["source"] == "ndtv" and entry["kind"] == "article":
            day = datetime.fromisoformat(entry["meta"]["published"]).date()
            assert (canonical_url(entry["url"]) in requested) == (since <= day <= until), entry[
                "url"
            ]
    archived = [r for r in results if r["txt"]]
    assert {r["published"][:10] for r in archived} == {"2023-04-28", "2023-06-01"}
    assert summaries["ndtv"]["skipped"]["outside_window"] > 0


def test_limit_takes_the_newest(tmp_path):
    done, results, summaries = run_crawl(tmp_path, "webdunia", "--limit", "3")
    assert summaries["webdunia"]["requested"] == 3
    assert {r["url"].rsplit("-", 1)[1] for r in results} == {
        "125050900012_1.html",  # 2025-05-09 15:15
        "125050700052_1.html",  # 2025-05-09 12:15
        "125050800094_1.html",  # 2025-05-08 14:15
    }
    assert done.returncode == 1  # none of the three is in the corpus: no article archived
    assert summaries["webdunia"]["problem"] == "no article archived"


def test_pib_month_postback():
    crawler = get_crawler(PibSpider)
    spider = PibSpider.from_crawler(crawler, since="2025-04-10", until="2025-05-07")
    page = CORPUS / "web/pib/pib_allrel_reg3_lang2.html"
    url = "https://www.pib.gov.in/allRel.aspx?reg=3&lang=2"
    request = Request(url)
    response = HtmlResponse(url, body=page.read_bytes(), encoding="utf-8", request=request)
    requests = list(spider.parse_listing(response))
    assert [r.meta["postback"] for r in requests] == ["2025-05", "2025-04"]
    post = requests[1]
    assert post.method == "POST" and post.url == url
    body = post.body.decode()
    assert "__EVENTTARGET=ctl00%24ContentPlaceHolder1%24ddlMonth" in body
    assert "ctl00%24ContentPlaceHolder1%24ddlMonth=4" in body
    assert "__VIEWSTATE=" in body
    assert len(spider.found) == 18  # the GET's links, keyed by PRID


def test_scrapy_list():
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawler.settings"}
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], capture_output=True, text=True, env=env
    )
    assert set(done.stdout.split()) >= {"pib", "ians", "ndtv", "webdunia", "generic", "fetch"}


def test_second_crawl_is_incremental(tmp_path):
    """Articles whose TXT is in the store are not requested again, unless --refetch."""
    first, _results, summaries = run_crawl(tmp_path, "webdunia")
    archived = summaries["webdunia"]["archived"]
    assert first.returncode == 0 and archived > 0
    txts = sorted(tmp_path.joinpath("txt").rglob("*.txt"))

    again, results, summaries = run_crawl(tmp_path, "webdunia")
    assert again.returncode == 0, again.stderr[-2000:]
    assert summaries["webdunia"]["skipped"]["already_archived"] == archived
    assert not [r for r in results if r.get("txt")]
    assert sorted(tmp_path.joinpath("txt").rglob("*.txt")) == txts

    forced, results, summaries = run_crawl(tmp_path, "webdunia", "--refetch")
    assert forced.returncode == 0
    revisits = [r for r in results if r.get("revisit")]
    assert len(revisits) == archived
    assert sorted(tmp_path.joinpath("txt").rglob("*.txt")) == txts

    # --revisit: archived articles published within the age are requested again (the corpus's
    # dated links are years old, so an age of 100 years takes them, a day takes none).
    young, results, summaries = run_crawl(tmp_path, "webdunia", "--revisit", "36500d")
    assert young.returncode == 0, young.stderr[-2000:]
    assert summaries["webdunia"]["skipped"].get("already_archived", 0) < archived
    assert any(r.get("revisit") for r in results)
    assert sorted(tmp_path.joinpath("txt").rglob("*.txt")) == txts  # unchanged: no new version
    _old, results, summaries = run_crawl(tmp_path, "webdunia", "--revisit", "1d")
    assert summaries["webdunia"]["skipped"]["already_archived"] == archived


def test_revisit_age() -> None:
    from datetime import timedelta

    from crawler.spiders.base import parse_age

    assert parse_age("48h") == parse_age("2d") == parse_age("48") == timedelta(hours=48)
    assert parse_age("90m") == timedelta(minutes=90)
    with pytest.raises(ValueError, match="not an age"):
        parse_age("yesterday")


def test_dead_feed_fails_loudly(tmp_path):
    """A source whose feeds, sitemaps and listings all went away must not pass silently."""
    override = tmp_path / "sources.toml"
    override.write_text(
        "[webdunia.discovery]\n"
        "feeds = ['https://hindi.webdunia.com/rss/moved.rss']\n"
        "sitemaps = []\n"
        "listings = []\n",
        encoding="utf-8",
    )
    command = [SANGRAH, "crawl", "webdunia", "--store", str(tmp_path), "--replay", str(CORPUS)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SANGRAH_SOURCES": str(override)},
    )
    assert done.returncode == 1
    assert "no article URL discovered" in done.stderr + done.stdout
    assert "rss/moved.rss: HTTP 404" in done.stderr + done.stdout
