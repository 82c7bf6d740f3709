"""archive.text.extract on unseen-template variants of the gold pages (tests/variants.py).

Floors sit a little under the measured means (bench/RESULTS.md, "Unseen templates"): every
kind measured 1.000 after the general rules (caption wrappers, widget boxes, described
standfirst, Hindi date stamps); the floors leave room for harmless drift, not for a template
that silently loses its body.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

import lxml.html
import pytest

from archive.text.extract import extract
from archive.text.seedfile import normalize
from bench.quality import body_of, prf
from tests.variants import CORPUS, KINDS, Variant, variants

MEAN_FLOOR = {kind: 0.97 for kind in KINDS}
PAGE_FLOOR = 0.9
VARIANTS = list(variants())
BY_KIND: dict[str, list[Variant]] = defaultdict(list)
for _v in VARIANTS:
    BY_KIND[_v.kind].append(_v)


def _run(v: Variant):
    result = extract(v.body, v.url, "text/html; charset=utf-8")
    assert result.is_article, f"{v.kind} {v.url}: {result.reason}"
    return result, result.txt_bytes().decode("utf-8")


def _gold(v: Variant) -> str:
    return (CORPUS / v.entry["gold"]).read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", list(KINDS))
def test_kind_floor(kind):
    assert BY_KIND[kind], f"no variants built for {kind}"
    scores = []
    for v in BY_KIND[kind]:
        result, txt = _run(v)
        f1 = prf(body_of(txt), body_of(_gold(v)))[2]
        assert f1 >= PAGE_FLOOR, (kind, v.url, f1)
        scores.append(f1)
        assert result.title == v.entry["meta"]["title"], (kind, v.url)
        if v.keeps_date:
            assert result.published == v.entry["meta"]["published"], (kind, v.url)
    assert statistics.mean(scores) >= MEAN_FLOOR[kind]


@pytest.mark.parametrize("kind", [k for k in KINDS if "inserted" in k or k in ("amp", "pib_event")])
def test_inserted_boilerplate_is_dropped(kind):
    for v in BY_KIND[kind]:
        _, txt = _run(v)
        body = body_of(txt)
        for snippet in v.must_not:
            assert snippet not in body, (kind, v.url, snippet)


def test_variants_keep_gold_valid():
    """The rewrites leave the article text alone: every gold line is still on the page."""
    for v in VARIANTS:
        page = normalize(lxml.html.document_fromstring(v.body).text_content())
        for line in body_of(_gold(v)).split("\n"):
            assert line[-25:] in page, (v.kind, v.url, line)


def test_pib_templates_keep_release_metadata():
    mobile = next(v for v in BY_KIND["pib_mobile"] if "2127135" in v.url)
    assert "PressReleseDetailm.aspx" in mobile.url
    result, _ = _run(mobile)
    assert result.canonical_url == "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127135"
    assert result.extra["ministry"] == "रक्षा मंत्रालय"
    assert result.extra["release_id"] == "2127135"
    event = next(v for v in BY_KIND["pib_event"] if "2127135" in v.url)
    result, _ = _run(event)
    assert result.published is None  # the event layout prints no dateline
    assert result.extra["release_id"] == "2127135"  # from span#ReleaseIdEvent
