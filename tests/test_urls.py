"""archive.discover.urls and archive.discover.sources: canonical URLs, spec lookup, override
files."""

from __future__ import annotations

import pytest

from archive.discover.sources import SourcesError, load_sources, source_for_url
from archive.discover.urls import canonical_url

PIB = "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127135"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127135&reg=3&lang=2", PIB),
        ("https://pib.gov.in/PressReleaseIframePage.aspx?PRID=2127135", PIB),
        ("http://PIB.GOV.IN/PressReleseDetailm.aspx?prid=2127135#x", PIB),
        ("https://www.pib.gov.in/Pressreleaseshare.aspx?PRID=2127135", PIB),
        (
            "https://ndtv.in/india/slug-4039518?pfrom=home-khabar_india&utm_source=x#pfrom=y",
            "https://ndtv.in/india/slug-4039518",
        ),
        ("https://ndtv.in/india/slug-4039518/amp/1", "https://ndtv.in/india/slug-4039518"),
        (
            "https://ndtv.in/india/slug-4039518?ndtv_related&tblci=abc",
            "https://ndtv.in/india/slug-4039518",
        ),
        (
            "https://www.newsnationtv.com/amp/world/slug-9239514?rand=2668",
            "https://www.newsnationtv.com/world/slug-9239514",
        ),
        (
            "https://m.hindi.webdunia.com/a/b-114091900078_1.html?utm_source=Related_Story_Article&utm_medium=Site_Internal",
            "https://hindi.webdunia.com/a/b-114091900078_1.html",
        ),
        (
            "https://hindi.webdunia.com/a/%e0%a4%b8-1_1.html",
            "https://hindi.webdunia.com/a/%E0%A4%B8-1_1.html",
        ),
        (
            "https://hindi.webdunia.com/a/स-1_1.html",
            "https://hindi.webdunia.com/a/%E0%A4%B8-1_1.html",
        ),
        (
            "https://hindi.business-standard.com//storypage.php?autono=166607",
            "https://hindi.business-standard.com//storypage.php?autono=166607",
        ),
        ("HTTPS://Example.COM:443/a?b=1&utm_medium=x&fbclid=1", "https://example.com/a?b=1"),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_html_canonical():
    amp = "https://www.amarujala.com/amp/x/y-vns1"
    assert canonical_url(amp, html_canonical="https://www.amarujala.com/x/y-vns1") == (
        "https://www.amarujala.com/x/y-vns1"
    )
    # Wayback/syndication canonicals on another site are ignored; AMP rules apply instead.
    one = "https://hindi.oneindia.com/amphtml/news/india/s-567287.html"
    wb = "https://web.archive.org/web/2022/https://hindi.oneindia.com/news/india/s-567287.html"
    assert (
        canonical_url(one, html_canonical=wb)
        == "https://hindi.oneindia.com/news/india/s-567287.html"
    )
    # a canonical pointing at a section page is a template bug
    story = "https://ndtv.in/india/slug-4039518"
    assert canonical_url(story, html_canonical="https://ndtv.in/videos/") == story


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://pib.gov.in/x", "pib"),
        ("https://www.pib.gov.in/x", "pib"),
        ("https://khabar.ndtv.com/news/india/x-1", "ndtv"),
        ("https://rajasthan.ndtv.in/x", "ndtv"),
        ("https://m.hindi.webdunia.com/x", "webdunia"),
        ("https://newsnationtv.com/x", "ians"),
        ("https://ianslive.in/x--20250820123412", "ians"),
        ("https://www.bhaskar.com/x", "generic"),
    ],
)
def test_source_for_url(url, name):
    assert source_for_url(url).name == name


def test_url_rules():
    ndtv, wd = source_for_url("https://ndtv.in/"), source_for_url("https://hindi.webdunia.com/")
    assert ndtv.is_article_url("https://ndtv.in/india/some-story-4039518")
    assert ndtv.is_article_url("https://ndtv.in/videos/some-video-529463") is False
    assert (
        wd.is_article_url(
            "https://hindi.webdunia.com/religion/religion/hindu/ramcharitmanas/BalKand/1.htm"
        )
        is False
    )
    assert load_sources()["pib"].discovery["listings"]


def test_override_file_merges_over_defaults(tmp_path, monkeypatch):
    override = tmp_path / "live.toml"
    override.write_text(
        "[ndtv.extract]\ncontainer = ['div.new-body']\n[ndtv.discovery]\nfeeds = ['https://x/rss']\n",
        encoding="utf-8",
    )
    specs = load_sources(override)
    assert specs["ndtv"].extract["container"] == ["div.new-body"]
    assert specs["ndtv"].discovery["feeds"] == ["https://x/rss"]
    assert "h1.sp-ttl" in specs["ndtv"].extract["title"]  # untouched keys keep the defaults
    assert "script" in specs["ndtv"].extract["drop"]  # generic drop rules still inherited
    monkeypatch.setenv("SANGRAH_SOURCES", str(override))
    assert load_sources()["ndtv"].extract["container"] == ["div.new-body"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[ndtv.extract]\ncontainr = ['div.x']\n",
            "unknown key 'containr' (did you mean 'container'?)",
        ),
        ("[ndtv]\narticle_urls = ['x']\n", "did you mean 'article_url'?"),
        ("[ndtv.discovery]\nfeed = ['https://x/rss']\n", "did you mean 'feeds'?"),
        ("[ndtv]\nextract = 3\n", "extract must be a table"),
        ("title = 'x'\n", "must be a [table]"),
    ],
)
def test_sources_file_is_validated(tmp_path, text, message):
    override = tmp_path / "bad.toml"
    override.write_text(text, encoding="utf-8")
    with pytest.raises(SourcesError) as err:
        load_sources(override)
    assert message in str(err.value) and "bad.toml" in str(err.value)


@pytest.mark.parametrize(
    ("url", "verdict"),
    [
        ("https://hindi.webdunia.com/article-yuva/%E0%A4%95%E0%A5%88%E0%A4%B8%E0%A5%87-"
         "%E0%A4%AC%E0%A4%A8%E0%A5%87%E0%A4%82-1110301044_1.htm", True),
        ("https://hindi.webdunia.com/article-yuva/कैसे-बनें-सफल-1110301044_1.htm", True),
        ("https://hindi.webdunia.com/article-yuva/", False),
        ("https://hindi.webdunia.com/religion/religion/hindu/x.htm", False),
        ("https://hindi.webdunia.com/some-section/old-page.htm", False),
    ],
)  # fmt: skip
def test_webdunia_older_article_urls(url, verdict):
    assert load_sources()["webdunia"].is_article_url(url) is verdict
