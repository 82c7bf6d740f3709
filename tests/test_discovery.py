"""Discovery parsing of the corpus' real-shaped feeds, sitemaps and listing pages (no network)."""

from __future__ import annotations

import gzip
from datetime import datetime

import pytest

from archive.discover.discovery import (
    SitemapTooLarge,
    date_from_url,
    form_fields,
    looks_like_article,
    page_is_article,
    parse_feed,
    parse_id_range,
    parse_listing,
    parse_sitemap,
    registered_domain,
    sitemaps_from_robots,
)
from archive.text.dates import IST
from tests.corpus_urls import CORPUS

WEB = CORPUS / "web"


def body(path: str) -> bytes:
    return (WEB / path).read_bytes()


def ist(*args: int) -> datetime:
    return datetime(*args, tzinfo=IST)


def test_pib_rss_with_bom_and_no_dates():
    data = body("pib/pib_rss_modid6_lang2_regid3.xml")
    assert data.startswith(b"\xef\xbb\xbf")
    links = parse_feed(data)
    assert len(links) == 20
    assert links[0].url == "https://www.pib.gov.in/PressReleaseIframePage.aspx?PRID=2127251"
    assert links[-1].url == "https://www.pib.gov.in/PressReleaseIframePage.aspx?PRID=2126702"
    assert all(link.date is None and link.agency is None for link in links)
    assert links[0].title == "प्रधानमंत्री ने अंगोला के राष्ट्रपति के साथ संयुक्त प्रेस वक्तव्य दिया"


def test_ndtv_feedburner_dates_and_source_agency():
    links = {link.url: link for link in parse_feed(body("ndtv/rss_ndtvkhabar-latest.xml"))}
    assert len(links) == 20
    first = links[
        "https://ndtv.in/india/mahakumbh-2025-railways-to-run-3000-special-trains-for-devotees-7412036"
    ]
    assert first.date == ist(2025, 1, 10, 9, 50) and first.agency == "NDTV"
    ians = links["https://ndtv.in/cities/delhi-cold-wave-temperature-drops-to-4-degree-7410881"]
    assert ians.agency == "IANS"
    bhasha = links[
        "https://ndtv.in/india-global/jaishankar-holds-bilateral-talks-with-foreign-ministers-of-south-africa-and-saudi-arabia-4087001"
    ]
    assert bhasha.agency == "भाषा" and bhasha.date == ist(2023, 6, 1, 21, 47)
    no_source = links[
        "https://ndtv.in/india/bsf-alert-on-bangladesh-border-infiltration-bids-foiled-7401177"
    ]
    assert no_source.agency is None and no_source.extra["guid"] == "7401177"


def test_feedburner_updated_at_is_the_fallback_date():
    feed = b"""<rss><channel><item><link>https://ndtv.in/india/x-1234567</link>
      <updatedAt>June 27, 2021 01:40 PM</updatedAt></item></channel></rss>"""
    (link,) = parse_feed(feed)
    assert link.date == ist(2021, 6, 27, 13, 40)


def test_rss_dc_creator_is_the_agency():
    links = parse_feed(body("ians/nn_rss_world.xml"))
    by_id = {link.url.rsplit("-", 1)[1]: link.agency for link in links}
    assert by_id["9239514"] == "IANS"
    assert by_id["9239871"] == "News Nation Desk"


def test_atom_entries():
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
      <entry><title>t</title><link rel="alternate" href="/a/b-123456"/>
      <published>2025-05-01T10:00:00Z</published><author><name>IANS</name></author></entry></feed>"""
    (link,) = parse_feed(atom, "https://example.in/feed")
    assert link.url == "https://example.in/a/b-123456"
    assert link.date == datetime.fromisoformat("2025-05-01T10:00:00+00:00")
    assert link.agency == "IANS"


def test_google_news_sitemap_publication_dates():
    kind, links = parse_sitemap(body("ndtv/google-news-sitemap.xml"))
    assert kind == "urlset" and len(links) == 9
    assert links[0].url.endswith("-consul-general-summit-7315093")
    assert links[0].date == ist(2024, 12, 23, 18, 41)
    assert links[0].title.startswith("जयशंकर 24 से 29 दिसंबर")
    assert "lastmod_only" not in links[0].extra
    kind, links = parse_sitemap(body("ians/nn_news_sitemap.xml"))
    envoy = next(link for link in links if link.url.endswith("-9239514"))
    assert envoy.date == ist(2025, 7, 4, 16, 12)
    assert envoy.extra["keywords"].startswith("IANS")


def test_sitemap_index_and_monthly_urlset():
    kind, children = parse_sitemap(body("ndtv/sitemap_index.xml"))
    assert kind == "index" and len(children) == 32
    assert children[0].url == (
        "https://ndtv.in/sitemap.xml?yyyy=2025&mm=12&sitename=ndtv-khabar&category="
    )
    assert children[0].date == ist(2025, 12, 28, 23, 59)
    kind, links = parse_sitemap(body("ndtv/sitemap_2019_09.xml"))
    assert kind == "urlset"
    assert links[0].url.endswith("-fight-against-terrorism-2096858")
    assert links[0].date == ist(2019, 9, 6, 21, 40) and links[0].extra["lastmod_only"]
    kind, children = parse_sitemap(body("webdunia/sitemap_index.xml"))
    assert [c.url.rsplit("/", 1)[1] for c in children][:2] == [
        "news-sitemap.xml",
        "national-hindi-news.xml",
    ]


def test_gzipped_sitemap_within_a_size_limit():
    raw = body("ndtv/sitemap_2019_09.xml")
    packed = gzip.compress(raw)
    assert parse_sitemap(packed) == parse_sitemap(raw)
    assert parse_sitemap(gzip.compress(raw[:100]) + gzip.compress(raw[100:]))[0] == "urlset"
    with pytest.raises(SitemapTooLarge):
        parse_sitemap(packed, max_size=len(raw) - 1)
    bomb = gzip.compress(b"<urlset>" + b" " * 20_000_000)  # 20 MB of spaces, ~20 kB packed
    with pytest.raises(SitemapTooLarge):
        parse_sitemap(bomb, max_size=1_000_000)
    assert parse_sitemap(packed[:40]) == ("", [])  # truncated gzip: no sitemap, no crash


def test_html_soft404_is_not_a_sitemap():
    assert parse_sitemap(body("pib/pib_sitemap_untitled.html")) == ("", [])
    assert parse_feed(b"") == []


def test_robots_sitemaps():
    text = body("ndtv/robots.txt").decode()
    assert sitemaps_from_robots(text) == [
        "https://ndtv.in/sitemap.xml",
        "https://ndtv.in/sitemap/google-news-sitemap",
        "https://ndtv.in/sitemap/google-video-sitemap",
    ]


def test_listing_links_by_css():
    links = parse_listing(
        body("ndtv/listing_india.html"), "https://ndtv.in/india", "a.NwsLstPg_ttl-lnk, a.item-title"
    )
    urls = [link.url for link in links]
    assert urls[0].endswith("-consul-general-summit-7315093")
    assert (
        "https://ndtv.in/india/rajnath-singh-to-take-charge-of-defense-ministry-modi-government-2046375/amp/1"
        in urls
    )
    assert not any("#" in u for u in urls)  # "#pfrom=..." fragments dropped
    assert len(urls) == len(set(urls))
    # container selectors work too (webdunia's div.wd-card holds the <a>)
    wd = parse_listing(
        body("webdunia/listing_national-hindi-news.html"),
        "https://hindi.webdunia.com/national-hindi-news",
        "div.wd-card",
    )
    assert wd[0].url.endswith("-rajnath-singh-125050700091_1.html")


def test_pib_listing_relative_links():
    links = parse_listing(
        body("pib/pib_allrel_reg3_lang2.html"),
        "https://www.pib.gov.in/allRel.aspx?reg=3&lang=2",
        'a[href*="PressReleasePage.aspx"]',
    )
    assert links[0].url == "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127251&reg=3&lang=2"
    assert "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127135&reg=3&lang=2" in {
        link.url for link in links
    }


def test_pib_postback_form_fields():
    action, fields = form_fields(
        body("pib/pib_allrel_reg3_lang2.html"),
        "https://www.pib.gov.in/allRel.aspx?reg=3&lang=2",
        "form1",
    )
    assert action == "https://www.pib.gov.in/allRel.aspx?reg=3&lang=2"
    names = dict(fields)
    assert names["__VIEWSTATE"] and names["__EVENTVALIDATION"]
    assert names["ctl00$ContentPlaceHolder1$ddlYear"] == "2025"
    assert names["ctl00$Bar1$ddlLang"] == "2"


def test_helpers():
    assert list(parse_id_range("2127300-2127298")) == [2127300, 2127299, 2127298]
    assert list(parse_id_range("3-5")) == [5, 4, 3]
    with pytest.raises(ValueError):
        parse_id_range("abc")
    url = "https://ianslive.in/india-and-japan--20250820123412"
    assert date_from_url(url, r"--(\d{14})/?$") == ist(2025, 8, 20, 12, 34, 12)
    wd = "https://hindi.webdunia.com/x/prakash-hindustani-webdunia-114091900078_1.html"
    assert date_from_url(wd, r"-1(\d{6})\d{5}_\d+\.html", "%y%m%d") == ist(2014, 9, 19)
    assert registered_domain("www.pib.gov.in") == "pib.gov.in"
    assert registered_domain("hindi.webdunia.com") == "webdunia.com"
    assert looks_like_article("https://www.jagran.com/uttar-pradesh/allahabad-city-21109565.html")
    assert not looks_like_article("https://ndtv.in/cities/delhi-news")


def test_start_url_article_is_recognised():
    assert page_is_article(body("ndtv/article_4039518.html"))  # JSON-LD NewsArticle
    assert page_is_article(b'<html><head><meta property="og:type" content="article"></head></html>')
    assert not page_is_article(body("ndtv/listing_india.html"))
    assert not page_is_article(b"")
