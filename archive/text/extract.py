"""One fetched page -> an :class:`Extraction` (article text in the gold policy, plus metadata).

``extract()`` is a top-level function of plain values so it can run in a process pool; it never
touches the network or Scrapy. The path of a page:

1. decode the bytes (HTTP charset, meta charset, UTF-8; checked by Devanagari ratio);
2. rule out non-articles: not HTML, non-article URLs, soft 404s, video pages;
3. read metadata from the full page (source selectors, then og/JSON-LD/microdata fallbacks);
4. prune the page (source ``drop`` rules), scope it to the source's article container and hand
   that to trafilatura; with no container (an unseen template) trafilatura gets the whole pruned
   page, so mobile/AMP/older designs still give text;
5. clean the blocks (archive.text.boilerplate);
6. self-check: plain trafilatura on the unpruned page is a second reading (skipped when a named
   source's container holds most of the page's paragraph text, or when our reading holds most
   of it and ends in a sentence, so that the check could not change it); when the two disagree
   badly, archive.text.agreement decides (ours, ours with the body blocks it lost put back, or
   plain).
   The result records which path gave the text (``path``: container, page, plain; "+plain" when
   body blocks of plain's reading were put back, "-tail" when a trailing run of chrome was cut),
   the selectors that matched (container, title, date) and the agreement figure (share of plain's
   text that our reading holds), all plain fields of ``to_dict()``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from lxml import etree

from archive.discover.sources import SourceSpec, source_for_url
from archive.discover.urls import canonical_url
from archive.text import agreement, boilerplate, legacyfont, pagemeta, prune
from archive.text.css import css_select
from archive.text.seedfile import (
    decode_html,
    detect_language,
    normalize,
    normalize_head,
    to_seed_txt,
)

_STAND_INS = {"\u200d": "\u1d25", "\u200c": "\u1d24"}  # ZWJ/ZWNJ -> ᴥ/ᴤ (Latin ain letters)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
SELF_CHECK_SHARE = 0.5  # a named source's container with less of the page's <p> text: check it


@dataclass(frozen=True)
class Extraction:
    is_article: bool
    reason: str | None  # why the page is not an article
    source: str
    url: str
    canonical_url: str
    title: str | None = None
    blocks: tuple[str, ...] = ()
    published: str | None = None
    author: str | None = None
    agency: str | None = None
    language: str | None = None
    path: str | None = None  # container, page or plain; +plain / -tail (archive.text.agreement)
    agreement: float | None = None  # share of plain trafilatura's text that our reading holds
    container_selector: str | None = None  # the spec's container selector that matched
    title_selector: str | None = None  # the spec's title selector that matched (else fallback)
    date_selector: str | None = None  # the spec's date selector that matched (else fallback)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        # Shallow: dataclasses.asdict deep-copies every block (once per page, in the crawl)
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["blocks"], data["extra"] = list(self.blocks), dict(self.extra)
        return data

    def txt_bytes(self) -> bytes:
        if not self.is_article or not self.title:
            raise ValueError(f"not an article: {self.reason}")
        return to_seed_txt(self.title, self.blocks)


def extract(
    body: bytes, url: str, content_type: str | None = None, sources_file: str | None = None
) -> Extraction:
    spec = source_for_url(url, sources_file)
    base = {"source": spec.name, "url": url}
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime and mime not in _HTML_TYPES and not _looks_like_html(body):
        return Extraction(
            False, f"not HTML ({mime})", canonical_url=canonical_url(url, spec), **base
        )
    text = decode_html(body, content_type)
    try:
        doc = lxml.html.document_fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", text) or "<html/>")
    except (etree.ParserError, ValueError):
        return Extraction(
            False, "not HTML (unparsable)", canonical_url=canonical_url(url, spec), **base
        )
    meta = pagemeta.read(doc, spec, url)
    canon = canonical_url(url, spec, meta.canonical)
    base["canonical_url"] = canon
    if reason := _not_article(doc, spec, url, meta):
        return Extraction(False, reason, title=meta.title, **base)
    base["title_selector"], base["date_selector"] = meta.title_selector, meta.date_selector
    container, base["container_selector"] = _find(doc, spec.hint("container", []))
    page_text = prune.paragraph_text(doc)  # before pruning changes the doc
    holds_page = _holds_page(spec, container, page_text)
    headings = [meta.title, *pagemeta.select(doc, "h1")[:1]]
    raw_blocks, scoped, lead = _body_blocks(doc, spec, meta.description)
    blocks = _clean(raw_blocks, headings, spec, scoped)
    if lead and blocks and not any(normalize(b).startswith(lead) for b in blocks):
        blocks.insert(0, lead)  # after trimming the page chrome: the lead may follow a crumb
    plain_raw = []  # the self-check's reading of the unpruned page (``text``, not ``doc``)
    if not holds_page and _may_change(blocks, page_text):
        plain_raw = _trafilatura_blocks(text, {}, scoped=False)
    plain = _clean(plain_raw, headings, spec, False)
    blocks, choice, agree = agreement.choose(
        blocks, plain if agreement.is_prose(plain) else [], meta.description
    )
    path = "container" if scoped else "page"
    path = {"ours": path, "merged": f"{path}+plain", "trimmed": f"{path}-tail"}.get(choice, choice)
    base["path"], base["agreement"] = path, None if agree is None else round(agree, 3)
    if not meta.title or not blocks:
        why = "no headline found" if blocks else "no article text found"
        return Extraction(False, why, title=meta.title, published=meta.published, **base)
    if font := legacyfont.legacy_font(doc, " ".join(blocks)):
        why = f"legacy-font (non-Unicode) text: written for the {font} font, not Unicode Hindi"
        return Extraction(False, why, title=meta.title, published=meta.published, **base)
    if choice == "plain":
        raw_blocks = plain_raw
    agency = boilerplate.find_agency(
        [*raw_blocks[-6:], *raw_blocks[:2], meta.author or ""], spec.agencies
    )
    extra = {**meta.extra, "container": scoped}
    return Extraction(
        True, None, title=meta.title, blocks=tuple(blocks), published=meta.published,
        author=meta.author, agency=agency, language=detect_language(" ".join(blocks)),
        extra=extra, **base,
    )  # fmt: skip


def _holds_page(spec: SourceSpec, container, page_text: int) -> bool:
    """Whether a named source's container holds most of the page's paragraph text: then it is
    the article, and the self-check is skipped (on every corpus page, template variant and peer
    page the plain reading never changed such a result). Generic containers and a container
    holding little (a teaser matched by a stale selector) are judged by :func:`_may_change`."""
    if spec.name == "generic" or container is None:
        return False
    return prune.paragraph_text(container) >= SELF_CHECK_SHARE * page_text


def _may_change(blocks: list[str], page_text: int) -> bool:
    """Whether the self-check could change our reading, judged from the reading itself. The
    check replaces or extends a reading that misses much of the article (agreement.choose:
    coverage under AGREE), and cuts a trailing run of non-sentences (chrome after the article).
    A reading holding at least SELF_CHECK_SHARE of the page's paragraph text and ending in a
    sentence leaves neither to do, and a second trafilatura pass is most of a page's CPU; a page
    without paragraphs gives nothing to judge by and is checked. (The check's third rule, plain's
    standfirst put first, is then left to our own path's: standfirst selectors and
    :func:`_described_lead`; no corpus, peer or variant page changed.) ``sangrah check-source``
    shows every reading regardless."""
    if not blocks or not page_text or not agreement.is_sentence(blocks[-1]):
        return True
    return sum(len(b) for b in blocks) < SELF_CHECK_SHARE * page_text


def _clean(raw: list[str], headings: list, spec: SourceSpec, scoped: bool) -> list[str]:
    """Gold-policy cleaning; ``headings``: the title, then the page's <h1> (a copy of either
    in the body is a repeated headline, even when og:title words it differently)."""
    title = headings[0]
    blocks = boilerplate.clean_blocks(raw, title, spec.hint("boilerplate", ()))
    blocks = [b for b in blocks if not any(boilerplate.is_title_copy(b, h) for h in headings[1:])]
    return blocks if scoped else boilerplate.trim_chrome(blocks, title)


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a byte-order mark
        head = head[2:].decode("utf-16-le" if head[0] == 0xFF else "utf-16-be", "ignore").encode()
    head = head.lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _not_article(doc, spec: SourceSpec, url: str, meta: pagemeta.PageMeta) -> str | None:
    """Why this page is not an article, or None. URL rules first, then page signals."""
    page_title = normalize(doc.findtext(".//title") or "")
    body_text = normalize_head(doc.body.text_content() if doc.body is not None else "", 20000)
    if any(re.search(p, page_title, re.I) for p in spec.soft404_title) or any(
        re.search(p, body_text, re.I) for p in spec.soft404_text
    ):
        return f"soft 404 ({spec.name} {page_title!r})"
    kind = _page_kind(url, meta)
    if kind == "video" and _prose_paragraphs(doc) >= _ARTICLE_PARAGRAPHS:
        kind = None  # a story with an embedded clip (VideoObject, "/video" in the URL)
    elif any(re.search(p, url) for p in spec.nonarticle_url):
        return f"not an article: {kind or 'non-article section'} page (URL rule)"
    if kind:
        return f"not an article: {kind} page"
    if farm := _link_farm(doc):
        return f"not an article: link listing ({farm})"
    # An unexpected URL shape is not enough on its own (new templates, live blogs): the page
    # must also lack every article signal.
    if spec.is_article_url(url) is False and not _article_signals(doc, spec, meta):
        return "not an article: section/listing page (no article URL or markup)"
    required = spec.hint("require", [])
    if required and not any(css_select(doc, sel) for sel in required):
        return f"soft 404 ({spec.name}: no {required[0]})"
    return None


def _article_signals(doc, spec: SourceSpec, meta: pagemeta.PageMeta) -> bool:
    og_article = (meta.og_type or "").lower() == "article"
    has_container = _find(doc, spec.hint("container", []))[0] is not None
    return og_article or bool(meta.ld_types & pagemeta.ARTICLE_TYPES) or has_container


LINK_FARM_LINKS = 1000  # a page with this many links ...
LINK_FARM_SHARE = 0.85  # ... whose visible text is this much link text is a listing


def _link_farm(doc) -> str | None:
    """A listing of links with little prose, whatever its URL and markup claim (measured: the
    articles of tests/corpus and tests/peer have at most 600 links and 80% link text)."""
    if doc.body is None:
        return None
    links = [a for a in doc.body.iter("a") if a.get("href")]
    if len(links) < LINK_FARM_LINKS:
        return None
    hidden = doc.body.iter("script", "style", "noscript", "template")
    visible = len(normalize(doc.body.text_content())) - sum(
        len(normalize(el.text_content())) for el in hidden
    )
    linked = sum(len(normalize(a.text_content())) for a in links)
    if visible and linked >= LINK_FARM_SHARE * visible:
        return f"{len(links)} links, {linked / visible:.0%} of the text"
    return None


_ARTICLE_PARAGRAPHS = 4  # sentence-length <p>s that make a page with video signals an article


def _prose_paragraphs(doc) -> int:
    """Paragraphs of running text on the page: a <p>, or a <div> without blocks inside, of
    >= 150 characters, less than a third of it link text, not inside a link."""
    count = 0
    for el in doc.iter("p", "div"):
        if next(el.iterdescendants("p", "div"), None) is not None:
            continue
        if (
            len(text := normalize(el.text_content())) < 150
            or next(el.iterancestors("a"), None) is not None
        ):
            continue
        links = sum(len(normalize(a.text_content())) for a in el.iter("a"))
        count += links < len(text) / 3
    return count


def _page_kind(url: str, meta: pagemeta.PageMeta) -> str | None:
    path = urlsplit(url).path.lower()
    og_type = (meta.og_type or "").lower()
    if (
        og_type.startswith("video")
        or "VideoObject" in meta.ld_types
        or re.search(r"/videos?/", path)
    ):
        return "video"
    if re.search(r"/(photos?|photo-gallery|gallery|web-?stories)/", path):
        return "gallery"
    return None


def _body_blocks(
    doc, spec: SourceSpec, description: str | None
) -> tuple[list[str], bool, str | None]:
    """Raw content blocks, whether they came from the source's container, and the standfirst
    found by the page description on the whole-page path (to go first, if the body lacks it)."""
    prune.prune(doc, spec.hint("drop", []))
    extra = spec.hint("boilerplate", [])
    if (container := _find(doc, spec.hint("container", []))[0]) is not None:
        parts = [el for el in _find_all(doc, spec.hint("standfirst", [])) if _near(el, container)]
        if not parts and (lead := _described_lead(doc, container, description)) is not None:
            parts = [lead]
        root = lxml.html.Element("article")
        for el in parts:
            el.tag = "p"  # a standfirst is a paragraph, whatever heading tag the site uses
        for el in [*parts, container]:
            # Bare elements: trafilatura would otherwise re-scope to [itemprop=articleBody]
            # inside our article and drop the standfirst next to it.
            el.attrib.clear()
            el.tail = None
            root.append(el)
        prune.drop_captioned_images(container)
        prune.wrap_loose_inline(container)
        prune.drop_headed_widgets(root)
        prune.drop_boilerplate_elements(root, extra)
        prune.drop_link_only(root)
        html = etree.tostring(root, encoding="unicode")
        if blocks := _trafilatura_blocks(html, spec.hint("trafilatura", {}), scoped=True):
            return blocks, True, None
    lead_text = None
    if doc.body is not None:
        prune.unwrap_layout_tables(doc.body)
        prune.drop_captioned_images(doc.body)
        if (text_parent := prune.text_parent(doc.body)) is not None:
            prune.wrap_loose_inline(text_parent)
            lead = _described_lead(doc, text_parent, description)
            lead_text = None if lead is None else normalize(lead.text_content())
        prune.drop_headed_widgets(doc.body)
        prune.drop_boilerplate_elements(doc.body, extra)
        prune.drop_link_only(doc.body)
    html = etree.tostring(doc, encoding="unicode")
    blocks = _trafilatura_blocks(html, spec.hint("trafilatura", {}), scoped=False)
    return blocks, False, lead_text


def _described_lead(doc, body, description: str | None):
    """The visible standfirst, found by its text rather than its class: the block outside the
    article body, after the headline, whose text is the page's og:/meta description (the
    description may be cut short with "..."). None when the description is the body's own lead."""
    desc = normalize(description or "").rstrip(".…").strip()
    if len(desc) < 40 or doc.body is None:
        return None
    h1 = next(doc.body.iter("h1"), None)
    after_h1 = h1 is None
    for el in doc.body.iter():
        if el is h1:
            after_h1 = True
            continue
        if el is body:
            return None  # the standfirst comes before the body
        if not after_h1 or el.tag not in ("p", "h2", "h3", "div", "span", "strong"):
            continue
        text = prune.text_if_short(el, int(1.5 * len(desc) + 3) + 1)
        if text and text.startswith(desc) and el.find(".//a") is None:
            return el
    return None


def _find(doc, selectors: list[str]) -> tuple:
    """(first element matched, its selector) or (None, None)."""
    return next(
        ((found[0], sel) for sel in selectors if (found := css_select(doc, sel))), (None, None)
    )


def _find_all(doc, selectors: list[str]) -> list:
    found = [el for sel in selectors for el in css_select(doc, sel)]
    return [el for el in found if not any(_inside(el, other) for other in found if other is not el)]


def _near(el, container) -> bool:
    """A standfirst belongs to the article when it sits next to the container (within a few
    levels of their common ancestor), not in a sidebar teaser; never inside the container."""
    if el is container or _inside(el, container) or _inside(container, el):
        return False
    ancestors = list(container.iterancestors())[:5]
    return any(a is p for p in el.iterancestors() for a in ancestors)


def _inside(el, ancestor) -> bool:
    return any(parent is ancestor for parent in el.iterancestors())


def _trafilatura_blocks(html: str, options: dict, scoped: bool) -> list[str]:
    """trafilatura's reading of ``html`` as blocks; ``options`` are the source's settings ({}
    for trafilatura's defaults, the self-check's plain reading). A source's container is read
    without trafilatura's fallback extractors (``fast``): they would read the same few elements
    again (same output on every corpus, peer and variant page, a fifth less CPU)."""
    if scoped:
        html = f"<html><body>{html}</body></html>"
    # trafilatura drops non-printable characters, ZWJ/ZWNJ included, but inside Devanagari they
    # choose the half-form of a conjunct: carried through as rare printable stand-ins.
    protect = not any(ch in html for ch in _STAND_INS.values())
    if protect:
        html = _replace_all(html, _STAND_INS)
    xml = trafilatura.extract(
        html, output_format="xml", include_comments=False, include_tables=True,
        include_images=False, include_links=False, include_formatting=False,
        deduplicate=False, with_metadata=False, **{"fast": scoped, **options},
    )  # fmt: skip
    if not xml:
        return []
    if protect:
        xml = _replace_all(xml, {v: k for k, v in _STAND_INS.items()})
    main = etree.fromstring(xml.encode("utf-8")).find("main")
    return [] if main is None else _xml_blocks(main)


def _replace_all(text: str, replacements: dict[str, str]) -> str:
    """str.replace per pair: str.translate looks up every character of a page in a dict."""
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def _xml_blocks(main) -> list[str]:
    """trafilatura XML -> blocks: a <p> per block (split at <lb/>), a list or table per block."""
    blocks: list[str] = []
    for el in main:
        if el.tag == "list":
            blocks.append("\n".join(_line(item) for item in el.iter("item")))
        elif el.tag == "table":
            rows = (" ".join(_line(c) for c in row.iter("cell")) for row in el.iter("row"))
            blocks.append("\n".join(rows))
        else:
            blocks.extend(_split_lb(el))
    return [b for b in blocks if normalize(b)]


def _line(el) -> str:
    return normalize("".join(el.itertext()))


def _split_lb(el) -> list[str]:
    """Text of an element with its <lb/> line breaks and nested blocks (a <p> inside a <quote>,
    a <head> inside a <div>) made block boundaries: never glued onto the text around them."""
    parts: list[str] = []
    current = [el.text or ""]
    for child in el:
        if child.tag == "lb":
            parts.append("".join(current))
            current = []
        elif child.tag in _XML_BLOCKS:
            parts.append("".join(current))
            parts.extend(_split_lb(child))
            current = []
        else:
            current.extend(child.itertext())
        current.append(child.tail or "")
    parts.append("".join(current))
    return [normalize(p) for p in parts if normalize(p)]


_XML_BLOCKS = frozenset({"p", "head", "quote", "div", "list", "item", "table", "row", "code"})


def readings(
    body: bytes, url: str, content_type: str | None = None, sources_file: str | None = None
) -> dict[str, list[str] | None]:
    """Each extraction path's own reading of an HTML page, cleaned as :func:`extract` cleans it,
    before the agreement rule picks one (what ``sangrah check-source`` shows an operator):
    "container" (scoped to the source's container; None when no container selector matches or
    the container gives no text), "page" (the whole pruned page, as when no container matches)
    and "plain" (trafilatura's defaults on the unpruned page: the self-check's reading)."""
    spec = source_for_url(url, sources_file)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", decode_html(body, content_type)) or "<html/>"
    try:
        doc = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return {"container": None, "page": None, "plain": None}
    meta = pagemeta.read(doc, spec, url)
    headings = [meta.title, *pagemeta.select(doc, "h1")[:1]]
    plain = _clean(_trafilatura_blocks(text, {}, scoped=False), headings, spec, False)
    # Each path prunes its own copy of the page: _body_blocks changes the tree it is given.
    raw, scoped, _lead = _body_blocks(lxml.html.document_fromstring(text), spec, meta.description)
    container = _clean(raw, headings, spec, True) if scoped else None
    whole = replace(spec, extract={**spec.extract, "container": []})
    doc = lxml.html.document_fromstring(text)
    raw, _scoped, lead = _body_blocks(doc, whole, meta.description)
    page = _clean(raw, headings, spec, False)
    if lead and page and not any(normalize(b).startswith(lead) for b in page):
        page.insert(0, lead)
    return {"container": container, "page": page, "plain": plain}
