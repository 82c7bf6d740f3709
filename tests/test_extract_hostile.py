"""Hostile content: wrong encodings, legacy-font Hindi, link farms (fixtures in tests/hostile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.text.extract import extract

HOSTILE = Path(__file__).parent / "hostile"
PARAGRAPH = "यह एक लंबा हिंदी अनुच्छेद है जिसमें समाचार का पूरा विवरण दिया गया है। "
KRUTI = (
    "ubZ fnYyh] 4 tqykbZ A jk\"Vªifr us vkt dgk fd ns'k esa fodkl dh xfr rst gS vkSj ;g "
    "ljdkj dh izkFkfedrk Hkh gSA mUgksaus dgk fd xkaoksa esa fctyh vkSj ikuh dh lqfo/kk ij /;ku "
    "fn;k tk jgk gS rFkk ;qokvksa dks jkstxkj ds vf/kd volj feysaxsA"
)


def build() -> dict[str, bytes]:
    article = (
        '<!doctype html><html lang="hi"><head><meta charset="utf-8"><title>शीर्षक</title>'
        '<meta property="og:type" content="article"></head><body><h1>दिल्ली में बारिश</h1>'
        f"<article><p>{PARAGRAPH * 4}</p><p>{PARAGRAPH * 3}</p></article></body></html>"
    )
    kruti = (
        '<!doctype html><html><head><meta charset="utf-8"><title>Hkkjr</title>'
        "<style>.story p { font-family: 'Kruti Dev 010', serif; }</style></head><body>"
        '<h1>ubZ fnYyh esa ckfj"k</h1><div class="story">'
        f"<p>{KRUTI}</p><p>{KRUTI}</p><p>{KRUTI}</p></div></body></html>"
    )
    links = "".join(
        f'<li><a href="/news/story-{i}.html">खबर संख्या {i} का शीर्षक यहां</a></li>'
        for i in range(3000)
    )
    farm = (
        '<!doctype html><html><head><meta charset="utf-8"><title>सभी खबरें</title>'
        '<meta property="og:type" content="article"></head><body><h1>सभी खबरें</h1>'
        f"<p>{PARAGRAPH}</p><ul>{links}</ul></body></html>"
    )
    return {
        "utf16_bom.html": b"\xff\xfe" + article.encode("utf-16-le"),
        "kruti_dev.html": kruti.encode("utf-8"),
        "link_farm.html": farm.encode("utf-8"),
    }


@pytest.fixture(scope="module")
def pages() -> dict[str, bytes]:
    built = build()
    for name, data in built.items():
        assert (HOSTILE / name).read_bytes() == data, f"{name}: rebuild with build()"
    return built


def test_utf16_bom_beats_wrong_declaration(pages):
    for ctype in ("text/html; charset=utf-8", None):
        result = extract(pages["utf16_bom.html"], "https://example.in/news/rain-1.html", ctype)
        assert result.is_article, result.reason
        assert result.title == "दिल्ली में बारिश"
        assert "हिंदी अनुच्छेद" in result.blocks[0] and result.language == "hi"


def test_legacy_font_page_gets_no_txt(pages):
    result = extract(pages["kruti_dev.html"], "https://example.in/news/rain-2.html", None)
    assert not result.is_article
    assert result.reason.startswith("legacy-font (non-Unicode) text")
    assert "Kruti Dev" in result.reason
    with pytest.raises(ValueError):
        result.txt_bytes()


def test_legacy_font_named_but_unused_is_fine(pages):
    page = pages["utf16_bom.html"][2:].decode("utf-16-le")
    page = page.replace("<head>", "<head><style>.x { font-family: 'Kruti Dev 010'; }</style>")
    assert extract(page.encode(), "https://example.in/news/rain-3.html", None).is_article


def test_link_farm_is_not_an_article(pages):
    result = extract(pages["link_farm.html"], "https://example.in/news/all-1.html", None)
    assert not result.is_article
    assert "link listing" in result.reason


def test_article_in_a_hidden_wrapper_is_kept():
    """A page whose whole body sits in a ``hidden`` wrapper (revealed by a script) keeps it."""
    page = (
        '<html><head><title>t</title><meta property="og:type" content="article"></head><body>'
        f"<h1>दिल्ली में बारिश</h1><div hidden><p>{PARAGRAPH * 4}</p><p>{PARAGRAPH * 3}</p></div>"
        "<div hidden><p>छिपा हुआ मेनू</p></div></body></html>"
    )
    result = extract(page.encode(), "https://example.in/news/rain-4.html", None)
    assert result.is_article and "हिंदी अनुच्छेद" in result.blocks[0]
    assert "छिपा" not in " ".join(result.blocks)
    assert result.path == "page"  # our own reading, not the plain-trafilatura fallback


@pytest.mark.parametrize(
    "line", ["End of Article", "Follow Us On Social Media", "Follow us on Twitter", "खबर समाप्त"]
)
def test_page_furniture_lines(line):
    from archive.text.boilerplate import is_boilerplate_line

    assert is_boilerplate_line(line)
    assert not is_boilerplate_line(f"He said they would follow us on {line} to the end.")
