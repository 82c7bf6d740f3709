"""archive.text.extract against the corpus gold: F1 floors, exact metadata, snippets,
non-articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.text.extract import extract
from bench.quality import body_of, prf

CORPUS = Path(__file__).parent / "corpus"
ENTRIES = [
    json.loads(line)
    for manifest in sorted(CORPUS.glob("manifest*.jsonl"))
    for line in manifest.read_text(encoding="utf-8").splitlines()
]
GOLD = [e for e in ENTRIES if e.get("gold") and e.get("body")]
F1_FLOOR = 0.97  # measured 1.000 on every gold page (bench/RESULTS.md); generic real pages too


def run(entry: dict):
    body = (CORPUS / entry["body"]).read_bytes()
    return extract(body, entry["url"], entry.get("headers", {}).get("Content-Type"))


def by_url_part(part: str) -> dict:
    return next(e for e in ENTRIES if part in e["url"])


@pytest.mark.parametrize("entry", GOLD, ids=lambda e: e["body"])
def test_gold_article(entry):
    result = run(entry)
    gold = (CORPUS / entry["gold"]).read_text(encoding="utf-8")
    assert result.is_article, result.reason
    *_, f1 = prf(body_of(result.txt_bytes().decode("utf-8")), body_of(gold))
    assert f1 >= F1_FLOOR
    assert result.title == entry["meta"]["title"]
    assert result.published == entry["meta"]["published"]
    assert result.language == entry["meta"]["language"]


MUST = [
    # (url part, must contain, must not contain)
    (
        "PRID=2127135&reg",
        "जापान के रक्षा मंत्री ने 22 अप्रैल, 2025",
        ["Posted On", "एमजी/आरपीएम", "***", "Release ID", "Visitor Counter"],
    ),
    (
        "PRID=2126794",
        "भारत और जापान की मित्रता",
        ["प्रविष्टि तिथि", "रिलीज़ आईडी", "आगंतुक पटल", "इस विज्ञप्ति"],
    ),
    (
        "PRID=1598090",
        "has greeted fellow citizens",
        ["VRRK/SH/BM", "Please Click here", "Read this release in", "*****"],
    ),
    (
        "4039518",
        "नई दिल्ली: रक्षा मंत्री राजनाथ सिंह",
        ["विज्ञापन", "Read Time", "ये भी पढ़ें", "Advertisement", "Featured Video"],
    ),
    ("4087001", "जयशंकर", ["हेडलाइन के अलावा", "ये भी पढ़ें"]),
    ("1770045", "नई दिल्ली: भारत और रूस", ["Quick Take", "AI generated", "This Article is From"]),
    (
        "9239514",
        "टोक्यो, 4 जुलाई (आईएएनएस)।",
        [
            "--आईएएनएस",
            "डीएससी/",
            "author-image",
            "New Update",
            "Advertisment",
            "डिस्क्लेमर",
            "(source : IANS)",
        ],
    ),
    (
        "ianslive.in",
        "Talking to IANS, George",
        ["--IANS", "sk/as", "Advertisement", "Related News"],
    ),
    (
        "120100700582",
        "नई दिल्ली। विदेश मंत्री एस. जयशंकर",
        ["Advertiesment", "सम्बंधित जानकारी", "जरूर पढ़ें", "नवीनतम", "सभी देखें"],
    ),
    ("114091900078", "वेबदुनिया", ["> >", "Written By", "हमें फॉलो करें"]),
    ("jagran.com", "प्रयागराज, जेएनएन।", ["यह भी पढ़ें", "डाउनलोड करें"]),
    (
        "autono=166607",
        "जनवरी में लगातार छठे महीने निर्यात में कमी",
        ["Keyword", "Advertisements", "best viewed"],
    ),
]


@pytest.mark.parametrize(("part", "must", "must_not"), MUST, ids=[m[0] for m in MUST])
def test_snippets(part, must, must_not):
    text = run(by_url_part(part)).txt_bytes().decode("utf-8")
    assert must in text
    for snippet in must_not:
        assert snippet not in body_of(text), snippet


@pytest.mark.parametrize(
    ("part", "reason"),
    [
        ("/videos/rajnath-singh-said", "video"),
        ("/videos/we-ve-always", "video"),
        ("video-japan-tour", "video"),
        ("ramcharitmanas", "non-article"),
        ("PressReleasePage.aspx?PRID=2127218", "soft 404"),
        ("PressReleaseIframePage.aspx?PRID=2127218", "soft 404"),
        ("https://www.pib.gov.in/sitemap.xml", "soft 404"),
        ("https://ndtv.in/india", "listing"),
        ("https://hindi.webdunia.com/national-hindi-news", "listing"),
        ("allRel.aspx", "not an article"),
        ("2046375", "soft 404"),  # Akamai "Access Denied" served as a page
    ],
)
def test_not_articles(part, reason):
    candidates = [e for e in ENTRIES if e.get("body") and not e.get("gold")]
    entry = next((e for e in candidates if e["url"] == part), None)
    entry = entry or next(e for e in candidates if part in e["url"])
    result = run(entry)
    assert not result.is_article
    assert reason in result.reason
    with pytest.raises(ValueError):
        result.txt_bytes()


def test_not_html():
    result = extract(b"%PDF-1.4 ...", "https://static.pib.gov.in/x.pdf", "application/pdf")
    assert not result.is_article and result.reason == "not HTML (application/pdf)"


@pytest.mark.parametrize(
    ("twin", "canonical"),
    [
        ("PressReleaseIframePage.aspx?PRID=2127135", "PressReleasePage.aspx?PRID=2127135&reg"),
        ("/amp/world/indian-envoy", "/world/indian-envoy"),
        ("/amp/india/news/india-russia-navies", "/india/news/india-russia-navies"),
    ],
)
def test_twins_share_canonical_url(twin, canonical):
    assert run(by_url_part(twin)).canonical_url == run(by_url_part(canonical)).canonical_url


def test_metadata_extras():
    pib = run(by_url_part("PRID=2127135&reg"))
    assert pib.canonical_url == "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127135"
    assert pib.extra["release_id"] == "2127135" and pib.extra["office"] == "PIB Delhi"
    assert {"label": "English", "prid": "2127067"} in pib.extra["translations"]
    assert pib.extra["ministry"] == "रक्षा मंत्रालय"
    assert run(by_url_part("4087001")).agency == "भाषा"  # byline + disclaimer
    assert run(by_url_part("120100700582")).agency == "भाषा"  # trailing "(भाषा)"
    assert run(by_url_part("9239514")).agency == "IANS"
    assert run(by_url_part("4039518")).agency is None
    bs = run(by_url_part("autono=166607"))
    assert bs.extra["published_precision"] == "day"  # zone-less JSON-LD time not trusted
    assert bs.to_dict()["blocks"] == list(bs.blocks)


def test_keeps_zwj_and_told_ians():
    text = run(by_url_part("2063182")).txt_bytes().decode("utf-8")
    gold = (CORPUS / "gold/pib/pib_2063182_hi.txt").read_text(encoding="utf-8")
    assert ("\u200d" in text) == ("\u200d" in gold)
    assert "Talking to IANS" in run(by_url_part("ianslive.in")).txt_bytes().decode("utf-8")


def test_fallback_without_container(tmp_path):
    """An unseen template (no container match) still gives the text through trafilatura."""
    override = tmp_path / "o.toml"
    override.write_text("[ndtv.extract]\ncontainer = ['#no-such-thing']\n", encoding="utf-8")
    entry = by_url_part("4039518")
    result = extract((CORPUS / entry["body"]).read_bytes(), entry["url"], None, str(override))
    gold = (CORPUS / entry["gold"]).read_text(encoding="utf-8")
    assert result.is_article and result.extra["container"] is False
    assert prf(body_of(result.txt_bytes().decode()), body_of(gold))[2] >= 0.9


def test_mis_declared_charset():
    html = "<html><head><title>x</title></head><body><h1>शीर्षक</h1><article><p>"
    html += "यह एक लंबा हिंदी अनुच्छेद है। " * 20 + "</p></article></body></html>"
    result = extract(
        html.encode("utf-8"), "https://example.in/a/b-1.html", "text/html; charset=cp866"
    )
    assert result.is_article and "हिंदी अनुच्छेद" in result.blocks[0]


def test_container_holding_the_page_skips_the_self_check():
    """A named source's container with most of the page's paragraph text is read alone."""
    result = run(by_url_part("4039518"))
    assert result.path == "container" and result.agreement is None


_SENTENCE = "यह एक लंबा हिंदी अनुच्छेद है जिसमें पूरी ख़बर लिखी गई है। "


def _generic_page(body: str) -> bytes:
    head = "<html><head><title>शीर्षक</title></head><body><h1>शीर्षक</h1>"
    return (head + body + "</body></html>").encode("utf-8")


def test_generic_reading_that_holds_the_page_skips_the_self_check():
    """Our reading ends in a sentence and holds the page's paragraph text: nothing for the
    plain reading to put back or cut, so it is not run."""
    page = _generic_page("".join(f"<p>{i}. {_SENTENCE * 3}</p>" for i in range(4)))
    result = extract(page, "https://example.in/news/story-1.html", "text/html")
    assert result.is_article and result.source == "generic"
    assert result.path == "page" and result.agreement is None


@pytest.mark.parametrize(
    "body",
    [
        # ends in a line without a full stop: possibly chrome after the article
        "".join(f"<p>{i}. {_SENTENCE * 3}</p>" for i in range(4)) + "<p>और ख़बरें पढ़ें</p>",
        # no <p> at all: nothing to judge the reading by
        "<div>" + "<br>".join(_SENTENCE * 3 for _ in range(4)) + "</div>",
    ],
    ids=["tail-without-sentence", "no-paragraphs"],
)
def test_generic_reading_the_check_could_change_is_self_checked(body):
    result = extract(_generic_page(body), "https://example.in/news/story-1.html", "text/html")
    assert result.is_article and result.agreement is not None


def test_stale_container_on_a_named_source_is_self_checked(tmp_path):
    """A selector that now matches page chrome holds little of the page's paragraph text: the
    plain reading runs, disagrees, and its text is taken."""
    override = tmp_path / "o.toml"
    override.write_text("[ndtv.extract]\ncontainer = ['footer']\n", encoding="utf-8")
    entry = by_url_part("4039518")
    result = extract((CORPUS / entry["body"]).read_bytes(), entry["url"], None, str(override))
    gold = (CORPUS / entry["gold"]).read_text(encoding="utf-8")
    assert result.path == "plain" and result.agreement < 0.4
    assert prf(body_of(result.txt_bytes().decode()), body_of(gold))[2] >= 0.9
