"""Cleaning a parsed page before trafilatura sees it: whole elements that are boilerplate.

General rules, whatever a site's class names: link-only blocks, image wrappers with caption-sized
text, boxes headed like widgets ("Highlights", "ये भी पढ़ें"), small elements whose whole text
is a gold-policy boilerplate line, layout tables; plus wrapping loose inline text (a dateline in
a <b> before the first <p>) so that trafilatura keeps it as a paragraph.
"""

from __future__ import annotations

import re

import lxml.html

from archive.text import boilerplate
from archive.text.css import select_any
from archive.text.seedfile import INVISIBLE, normalize

BLOCK_TAGS = frozenset({"p", "div", "li", "h2", "h3", "h4", "h5", "h6", "blockquote", "td"})


IMAGE_TAGS = ("img", "amp-img", "picture", "amp-anim")


CAPTION_MAX = 250  # characters of text next to an image that still read as its caption

_INVISIBLE_OR_SPACE = re.compile(rf"[\s{INVISIBLE}]+")


INLINE_TAGS = frozenset({"a", "b", "strong", "i", "em", "span", "font", "u", "small", "br", "sup",
                          "sub", "abbr", "time", "mark"})  # fmt: skip


def prune(doc, selectors: list[str]) -> None:
    """Drop what the selectors match, except an element holding most of the page's paragraph
    text: a ``[hidden]`` or ``display:none`` wrapper that a script reveals is the article."""
    total = None
    for el in select_any(doc, selectors):
        if el.getparent() is None:
            continue
        if el.find(".//p") is not None:
            total = paragraph_text(doc) if total is None else total
            if total and paragraph_text(el) >= 0.5 * total:
                continue
        el.drop_tree()


def paragraph_text(root) -> int:
    """Characters of normalized text in the <p> elements under ``root``."""
    return sum(len(normalize(p.text_content())) for p in root.iter("p"))


def drop_link_only(root) -> None:
    """Blocks whose whole text is link text: related-story lists, "see attachment" links.
    Text is measured in visible characters (whitespace aside), counted once per text node."""
    text, links = _visible_chars(root)
    for el in [el for el in root.iter(*BLOCK_TAGS) if text.get(el)]:
        if el.getparent() is not None and links[el] >= 0.9 * text[el]:
            el.drop_tree()


def _visible_chars(root) -> tuple[dict, dict]:
    """Per element: the characters of its text, and of the text inside its links, whitespace
    and invisible characters aside. One pass from the leaves up: reading each element's text
    on its own would read a page's text once for every element enclosing it."""
    text: dict = {}
    links: dict = {}
    for el in reversed(list(root.iter())):  # every element after all of its descendants
        own = _count(el.text) if isinstance(el.tag, str) else 0
        inner = 0
        for child in el:
            own += text.get(child, 0) + _count(child.tail)
            inner += links.get(child, 0)
        text[el] = own
        links[el] = own if el.tag == "a" else inner
    return text, links


def _count(piece: str | None) -> int:
    return len(_INVISIBLE_OR_SPACE.sub("", piece)) if piece else 0


def text_if_short(el, limit: int) -> str | None:
    """The element's normalized text when it is shorter than ``limit``, else None; a big
    element's text is not read to its end (these checks run on every element of a page)."""
    pieces: list[str] = []
    size, check_at = 0, 4 * limit
    for piece in el.itertext():
        pieces.append(piece)
        size += len(piece)
        if size >= check_at:
            if len(normalize("".join(pieces))) >= limit:
                return None
            check_at *= 2  # mostly whitespace so far: look again further on
    text = normalize("".join(pieces))
    return text if len(text) < limit else None


def drop_boilerplate_elements(root, extra: list[str]) -> None:
    """Small elements that are boilerplate as a whole ("ये भी पढ़ें:-", "Advertisement"): removed
    before trafilatura, which would otherwise glue them onto the neighbouring paragraph."""
    for el in list(root.iter(*BLOCK_TAGS, *INLINE_TAGS)):
        if el.getparent() is None:
            continue
        text = text_if_short(el, 200)
        if text and boilerplate.is_boilerplate_line(text, extra):
            el.drop_tree()


def wrap_loose_inline(container) -> None:
    """Wrap runs of bare text and inline children of the container in <p>: a dateline in a
    <b> before the first <p> (NDTV) or text separated only by <br> (Webdunia) is body text
    that trafilatura drops or merges when it is not inside a block."""
    run: list = []
    new_children: list = []
    lead = container.text or ""
    container.text = None
    if lead.strip():
        run.append(lead)
    for child in list(container):
        tail = child.tail
        child.tail = None
        container.remove(child)
        if isinstance(child.tag, str) and child.tag in INLINE_TAGS:
            run.append(child)
        else:
            new_children.extend(close_run(run))
            new_children.append(child)
        if tail and tail.strip():
            run.append(tail)
    new_children.extend(close_run(run))
    container.extend(new_children)


def close_run(run: list) -> list:
    if not any((isinstance(x, str) and x.strip()) or not isinstance(x, str) for x in run):
        run.clear()
        return []
    p = lxml.html.Element("p")
    for item in run:
        if isinstance(item, str):
            if len(p):
                p[-1].tail = (p[-1].tail or "") + item
            else:
                p.text = (p.text or "") + item
        else:
            p.append(item)
    run.clear()
    return [p]


def drop_headed_widgets(root) -> None:
    """A small box that opens with a widget heading ("Highlights", "Quick Take", "ये भी पढ़ें")
    is boilerplate with everything in it, whatever its class names."""
    for el in list(root.iterdescendants(*BLOCK_TAGS, "h1", "strong", "b", "span")):
        parent = el.getparent()
        if parent is None or parent is root or el.getparent().index(el) != 0:
            continue
        text = text_if_short(el, 100)  # a widget heading is a few words
        if text is None or (parent.text or "").strip():
            continue
        if boilerplate.WIDGET_HEADING.fullmatch(text) and text_if_short(parent, 801) is not None:
            parent.drop_tree()


def drop_captioned_images(root) -> None:
    """An image wrapper with a little text (figure, div, p or link around an <img>/<amp-img>) is
    a caption, a photo credit or a teaser, whatever its class names: dropped whole. A wrapper
    holding most of its parent's text (a photo story's only paragraph) stays."""
    for el in list(root.iterdescendants("figure", "div", "p", "a", "section")):
        if el.getparent() is None or next(el.iter(*IMAGE_TAGS), None) is None:
            continue
        text = text_if_short(el, CAPTION_MAX + 1)
        # a caption is at most half of its parent's text
        if text and text_if_short(el.getparent(), 2 * len(text)) is None:
            el.drop_tree()


def text_parent(root):
    """The element holding the most paragraph text as direct <p> children: where a page
    without a known container keeps its body (loose datelines sit next to those <p>s)."""
    weight: dict = {}
    for p in root.iter("p"):
        if (n := len(normalize(p.text_content()))) >= 80 and (parent := p.getparent()) is not None:
            weight[parent] = weight.get(parent, 0) + n
    return max(weight, key=weight.get) if weight else None


def unwrap_layout_tables(root) -> None:
    """Tables that hold headings, forms or other tables are page layout (2010-era designs), not
    data: turned into divs so trafilatura sees paragraphs instead of one giant table."""
    for table in list(root.iter("table")):
        if next(table.iterdescendants("table", "h1", "h2", "form"), None) is None:
            continue
        for el in [table, *table.iterdescendants("tbody", "thead", "tfoot", "tr", "td", "th")]:
            el.tag = "div"
