"""Discovery edges end to end: paginated listings (followed up to a cap), a start URL that is an
article, sitemaps beyond the size limit. Replica sites of our own (tests/fixtures/pagination,
or written per test), served by the replay proxy on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from archive.discover.discovery import next_page
from crawler.spiders.generic import GenericSpider
from tests.corpus_urls import CORPUS
from tests.pipeline_runs import SANGRAH

PAGINATION = Path(__file__).parent / "fixtures" / "pagination"
SITE = "https://samachar.example"
DEFAULT_NEXT = "link[rel~='next'], a[rel~='next'], .pagination a.next"
BHASKAR = "https://www.bhaskar.com/local/bihar/samastipur/news/samastipur-police-caught-2-miscreants-133589711.html"


def page(n: int) -> bytes:
    return (PAGINATION / f"web/listing_{n}.html").read_bytes()


def article(n: int) -> str:
    return f"{SITE}/desh/khabar-ank-{n}-ki-baat-{1000 + n}.html"


def crawl(store: Path, replay: Path, *args: str, env: dict | None = None):
    command = [SANGRAH, "crawl", "generic", "--json", "--store", str(store)]
    command += ["--replay", str(replay), *args]
    environ = {k: v for k, v in os.environ.items() if k != "SANGRAH_SOURCES"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**environ, **(env or {})}
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    summary = next((line["summary"] for line in lines if "summary" in line), None)
    assert summary is not None, done.stderr[-3000:]
    return done, {line["url"]: line for line in lines if "url" in line}, summary


def test_next_page_link_forms():
    assert next_page(page(1), f"{SITE}/desh", DEFAULT_NEXT) == f"{SITE}/desh?page=2"  # <link>
    assert next_page(page(2), f"{SITE}/desh?page=2", DEFAULT_NEXT) == f"{SITE}/desh?page=3"
    assert next_page(page(3), f"{SITE}/desh?page=3", DEFAULT_NEXT) == f"{SITE}/desh?page=4"
    # a site's own selector, an element holding the link, a link to the page itself
    assert next_page(page(2), f"{SITE}/desh?page=2", "a.prev") == f"{SITE}/desh"
    assert next_page(page(2), f"{SITE}/desh?page=2", "div.pagination") == f"{SITE}/desh"
    assert next_page(page(2), f"{SITE}/desh", "a.prev") is None
    assert next_page(b"<html><body><p>x</p></body></html>", SITE, DEFAULT_NEXT) is None
    # the replica webdunia listing numbers its pages without marking "next": nothing to follow
    listing = (CORPUS / "web/webdunia/listing_national-hindi-news.html").read_bytes()
    base = "https://hindi.webdunia.com/national-hindi-news"
    assert next_page(listing, base, DEFAULT_NEXT) is None


def spider_with(tmp_path: Path, discovery: str) -> GenericSpider:
    # One file per content: archive.discover.sources caches what it read by path.
    override = tmp_path / f"sources-{len(list(tmp_path.glob('sources-*')))}.toml"
    override.write_text(f"[generic.discovery]\n{discovery}\n", encoding="utf-8")
    crawler = get_crawler(GenericSpider, {"SANGRAH_SOURCES_FILE": str(override)})
    return GenericSpider.from_crawler(crawler, start_url=f"{SITE}/desh")


def respond(url: str, body: bytes, listing_page: int | None = None) -> HtmlResponse:
    meta = {} if listing_page is None else {"listing_page": listing_page}
    return HtmlResponse(url, body=body, encoding="utf-8", request=Request(url, meta=meta))


def test_listing_next_and_cap_from_the_source_config(tmp_path):
    spider = spider_with(tmp_path, "listing_next = 'a.prev'\nlisting_pages = 2")
    (request,) = spider.parse_listing(respond(f"{SITE}/desh?page=2", page(2)))
    assert request.url == f"{SITE}/desh" and request.meta["listing_page"] == 2
    assert request.callback == spider.parse_listing
    # the second page of this listing is the last the cap allows: its next link is not followed
    again = respond(f"{SITE}/desh?page=2", page(2), listing_page=2)
    assert list(spider.parse_listing(again)) == []
    assert spider.crawler.stats.get_value("sangrah/discovery/listing_capped") == 1
    assert set(spider.found) == {article(3), article(4)}


def test_next_page_off_site_or_switched_off(tmp_path):
    offsite = (
        b'<html><head><link rel="next" href="https://elsewhere.example/desh?page=2"></head></html>'
    )
    spider = spider_with(tmp_path, "listing_pages = 5")
    assert list(spider.parse_listing(respond(f"{SITE}/desh", offsite))) == []
    assert spider.crawler.stats.get_value("sangrah/discovery/listing_offsite") == 1
    spider = spider_with(tmp_path, "listing_pages = 1")
    assert list(spider.parse_listing(respond(f"{SITE}/desh", page(1)))) == []


@pytest.fixture(scope="module")
def paginated_crawl(tmp_path_factory):
    return crawl(tmp_path_factory.mktemp("store"), PAGINATION, "--start-url", f"{SITE}/desh")


def test_listing_pages_are_followed_up_to_the_cap(paginated_crawl):
    done, results, summary = paginated_crawl
    # Default cap: 3 pages per listing -> the articles of pages 1-3, not those of page 4.
    assert set(results) == {article(n) for n in range(1, 7)}, done.stderr[-3000:]
    assert results[article(1)]["txt"] and results[article(1)]["title"] == "विकास योजना पर बैठक"
    assert results[article(2)]["reason"] == "HTTP 404"
    assert summary["discovered"] == 6 and summary["archived"] == 1
    assert summary["discovery_errors"] == []


def test_listing_cap_from_an_override(tmp_path):
    override = tmp_path / "sources.toml"
    override.write_text("[generic.discovery]\nlisting_pages = 5\n", encoding="utf-8")
    _done, results, summary = crawl(
        tmp_path / "store", PAGINATION, "--start-url", f"{SITE}/desh",
        env={"SANGRAH_SOURCES": str(override)},
    )  # fmt: skip
    # Page 4's next link loops back to page 2, which is not asked for twice.
    assert set(results) == {article(n) for n in range(1, 9)}
    assert summary["discovered"] == 8


def test_start_url_that_is_an_article_is_archived(tmp_path):
    """`crawl generic --start-url ARTICLE`: the page is archived, not only read for links."""
    done, results, summary = crawl(tmp_path, CORPUS, "--start-url", BHASKAR)
    assert BHASKAR in results, (sorted(results), done.stderr[-3000:])
    result = results[BHASKAR]
    assert result["txt"] and result["txt"].startswith("txt/generic/")
    assert result["title"]
    assert summary["archived"] >= 1 and summary["ok"]
    assert (tmp_path / result["txt"]).read_bytes().decode().startswith(result["title"])


def sitemap(urls: int) -> bytes:
    entries = "".join(f"<url><loc>{article(n)}</loc></url>" for n in range(1, urls + 1))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    ).encode()


def test_oversized_sitemaps_are_discovery_errors(tmp_path):
    """A gzipped sitemap inflating past the size limit, and one sent whole past it."""
    site = tmp_path / "site"
    site.mkdir()
    big = sitemap(6000)  # ~340 kB
    (site / "big.xml.gz").write_bytes(gzip.compress(big))
    (site / "big.xml").write_bytes(big)
    (site / "small.xml").write_bytes(sitemap(2))
    entries = [
        ("/big.xml.gz", "application/x-gzip", "big.xml.gz"),
        # sent as it is (the proxy gzips text types on the wire): cut at the limit by Scrapy
        ("/big.xml", "application/octet-stream", "big.xml"),
        ("/small.xml", "application/xml", "small.xml"),
    ]
    lines = [
        {"url": SITE + path, "status": 200, "headers": {"Content-Type": kind}, "body": body}
        for path, kind, body in entries
    ]
    (site / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    args = [f"--sitemap={SITE}{path}" for path, _kind, _body in entries]
    _done, results, summary = crawl(
        tmp_path / "store", site, "--replay", str(PAGINATION), *args,
        "-s", "DOWNLOAD_MAXSIZE=100000", "-s", "DOWNLOAD_WARNSIZE=0",
    )  # fmt: skip
    errors = "\n".join(summary["discovery_errors"])
    assert f"{SITE}/big.xml.gz: gzipped sitemap larger than 100000 bytes" in errors, errors
    assert f"{SITE}/big.xml: sitemap larger than 100000 bytes: cut there" in errors, errors
    assert "not a sitemap" not in errors  # one error per document, the one that says why
    # The declared length was over the limit, so nothing of it was read; the small one is used.
    assert set(results) == {article(1), article(2)}
    assert results[article(1)]["txt"]
