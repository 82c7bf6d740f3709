"""archive.text.prune: the whole-element rules, measured without reading a page once per element."""

from __future__ import annotations

import lxml.html

from archive.text.prune import drop_link_only, text_if_short


def test_text_if_short_reads_only_what_it_needs():
    el = lxml.html.fragment_fromstring("<div><p>क़लम \u200b <b>ज़रूरी</b></p>\n\n<p>x</p></div>")
    assert text_if_short(el, 20) == "क़लम ज़रूरी\n\nx"  # normalize keeps line breaks
    assert text_if_short(el, 14) is None  # the normalized text has 14 characters
    spaced = lxml.html.fragment_fromstring(f"<div>{' ' * 5000}<p>छोटा</p>{' ' * 5000}</div>")
    assert text_if_short(spaced, 10) == "छोटा"  # whitespace is not text


def test_link_only_blocks_go_and_their_enclosing_article_stays():
    page = lxml.html.fromstring(
        "<html><body><div id='article'><p>" + "यह एक लंबा अनुच्छेद है। " * 10 + "<a href='/x'>लिंक</a>"
        "</p><ul><li><div><a href='/1'>पहली ख़बर</a></div></li><li><div><a href='/2'>दूसरी"
        "</a> </div></li></ul></div></body></html>"
    )
    drop_link_only(page.body)
    assert page.get_element_by_id("article") is not None
    assert [a.get("href") for a in page.iter("a")] == ["/x"]
