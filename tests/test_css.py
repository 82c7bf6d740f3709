"""archive.text.css: compiled selectors and the one-walk matcher give what lxml's cssselect does."""

from __future__ import annotations

import lxml.html
import pytest
from cssselect import SelectorError

from archive.text.css import css_select, select_any

PAGE = """<html><body>
<div id="main" class="story  body"><p class="ad">x</p><span class="Ad">y</span>
  <amp-ad class="slot">z</amp-ad><div hidden><p id="ad">w</p></div></div>
<section class="ad"><p class="ad">v</p></section>
<div style="color:red; display:none" aria-hidden="true" data-x="">u</div>
<p style="display: none" id="ReleaseId">t</p>
<span aria-hidden="TRUE" title="x">s</span>
</body></html>"""

SELECTORS = [".ad", "#main", "amp-ad", "div.story", "p#ad", "[hidden]", "section", "span.ad",
             "div > p", "[id$='ain']", "blink", '[style*="display:none"]',
             "[style*='display: none']", '[aria-hidden="true"]', "p[id]", "[data-x^='']",
             "[data-x]", "span[title=x]", '[id$="ReleaseId"]', "[title*='']", "[ ID ^= 'Rel' ]",
             '[class~="ad"]']  # fmt: skip


@pytest.mark.parametrize(
    "selectors",
    [
        SELECTORS,
        SELECTORS[:4],
        SELECTORS[5:],
        SELECTORS[11:],
        [".nothing"],
        [],
        *([s] for s in SELECTORS),
    ],
)
def test_select_any_matches_cssselect(selectors):
    doc = lxml.html.document_fromstring(PAGE)
    expected = {el for sel in selectors for el in doc.cssselect(sel)}
    found = select_any(doc, selectors)
    assert set(found) == expected and len(found) == len(expected)
    order = list(doc.iter())
    assert [order.index(el) for el in found] == sorted(order.index(el) for el in found)


def test_class_match_is_case_sensitive_and_whole_word():
    doc = lxml.html.document_fromstring(PAGE)
    assert [el.tag for el in select_any(doc, [".Ad"])] == ["span"]
    assert select_any(doc, [".stor"]) == []


def test_css_select_is_cssselect_and_rejects_bad_selectors():
    doc = lxml.html.document_fromstring(PAGE)
    assert css_select(doc, "div p") == doc.cssselect("div p")
    with pytest.raises(SelectorError):
        css_select(doc, "p[")
