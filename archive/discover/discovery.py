"""Where article URLs come from: feeds, sitemaps and listing pages, parsed into ``Link``s.

Pure functions of bytes/strings (no Scrapy, no network). Every parser returns links in document
order with whatever the document says about them: a publication date, a syndication agency, a
title. Quirks handled (sites.md §1.6, §2.2, §3, §4.2):
- PIB RSS: a UTF-8 BOM before ``<?xml``; items with only title and link, no date;
- NDTV FeedBurner RSS: ``pubDate`` RFC 822, ``updatedAt``/``lastBuildDate`` "June 27, 2021 01:40
  PM" (IST), and ``<source>`` holding the agency (PTI / NDTV / IANS / भाषा);
- RSS ``dc:creator``/``author`` naming an agency (newsnationtv "IANS");
- sitemap index vs urlset; Google News sitemaps (``news:publication_date``, ``news:keywords``);
  gzipped sitemaps (``.xml.gz`` served as a gzip file, not as a Content-Encoding), decompressed
  up to a size limit like Scrapy's SitemapSpider (``DOWNLOAD_MAXSIZE``);
- listing pages: links by CSS selector, or every ``<a href>`` when no selector is configured;
  the next page of a paginated listing (``rel=next``, ``.pagination a.next``, or the source's
  own selector).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from archive.text.css import css_select
from archive.text.dates import IST, parse_datetime

_BOM = b"\xef\xbb\xbf"
_XML_PARSER = dict(recover=True, resolve_entities=False, no_network=True, huge_tree=True)


@dataclass(frozen=True)
class Link:
    """One URL a feed, sitemap or listing announces, with what it says about it."""

    url: str
    date: datetime | None = None
    agency: str | None = None
    title: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def _local(tag: object) -> str:
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def _xml_root(data: bytes | str) -> lxml.etree._Element | None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    raw = raw.lstrip()
    while raw.startswith(_BOM):  # PIB; some servers send it twice
        raw = raw[len(_BOM) :].lstrip()
    if not raw:
        return None
    try:
        return lxml.etree.fromstring(raw, lxml.etree.XMLParser(**_XML_PARSER))
    except lxml.etree.XMLSyntaxError:
        return None


def _children(el: lxml.etree._Element) -> dict[str, lxml.etree._Element]:
    """First child per local tag name (namespaces ignored: news:title and title collide
    only inside <news:news>, which is read separately)."""
    out: dict[str, lxml.etree._Element] = {}
    for child in el:
        out.setdefault(_local(child.tag), child)
    return out


def _text(el: lxml.etree._Element | None) -> str | None:
    if el is None:
        return None
    text = "".join(el.itertext()).strip()
    return text or None


def _date(*candidates: str | None) -> datetime | None:
    for text in candidates:
        if text and (dt := parse_datetime(text)):
            return dt
    return None


# --- feeds ---------------------------------------------------------------------------------------


def parse_feed(data: bytes | str, base_url: str = "") -> list[Link]:
    """Items of an RSS 2.0, RSS 1.0 (RDF) or Atom feed."""
    root = _xml_root(data)
    if root is None:
        return []
    links = []
    for item in root.iter():
        name = _local(item.tag)
        if name == "item":
            link = _rss_item(item, base_url)
        elif name == "entry":
            link = _atom_entry(item, base_url)
        else:
            continue
        if link:
            links.append(link)
    return links


def _rss_item(item: lxml.etree._Element, base_url: str) -> Link | None:
    kids = _children(item)
    url = _text(kids.get("link"))
    guid = kids.get("guid")
    if not url and guid is not None and guid.get("isPermaLink", "true").lower() == "true":
        url = _text(guid)
    if not url:
        return None
    date = _date(_text(kids.get("pubdate")), _text(kids.get("date")), _text(kids.get("updatedat")))
    # NDTV's <source> is the agency; in plain RSS 2.0 <source url=...> names the origin feed,
    # which is an agency too for syndicated copy. dc:creator/author name a person or an agency.
    agency = _text(kids.get("source")) or _text(kids.get("creator")) or _text(kids.get("author"))
    extra = {"guid": _text(guid)} if guid is not None else {}
    return Link(urljoin(base_url, url), date, agency, _text(kids.get("title")), extra)


def _atom_entry(entry: lxml.etree._Element, base_url: str) -> Link | None:
    url = None
    for child in entry:
        if _local(child.tag) == "link" and child.get("rel", "alternate") == "alternate":
            url = child.get("href")
            break
    if not url:
        return None
    kids = _children(entry)
    date = _date(_text(kids.get("published")), _text(kids.get("updated")))
    author = kids.get("author")
    agency = _text(_children(author).get("name")) if author is not None else None
    return Link(urljoin(base_url, url), date, agency, _text(kids.get("title")))


# --- sitemaps ------------------------------------------------------------------------------------


SITEMAP_MAX_SIZE = 50 * 1024 * 1024  # the sitemaps.org limit for one (uncompressed) sitemap
_GZIP = b"\x1f\x8b"


class SitemapTooLarge(ValueError):
    """A gzipped sitemap that decompresses to more than the size limit."""


def gunzip(data: bytes, max_size: int = SITEMAP_MAX_SIZE) -> bytes:
    """Decompress gzip ``data`` (several members allowed), refusing more than ``max_size``
    bytes of output (a decompression bomb stops at the limit, it is never inflated whole)."""
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += inflater.decompress(data, max_size + 1 - len(out))
        if len(out) > max_size:
            raise SitemapTooLarge(f"gzipped sitemap larger than {max_size} bytes uncompressed")
        data = inflater.unused_data if inflater.eof else b""
    return bytes(out)


def parse_sitemap(
    data: bytes | str, base_url: str = "", max_size: int = SITEMAP_MAX_SIZE
) -> tuple[str, list[Link]]:
    """``("index", child sitemaps)`` or ``("urlset", pages)``; ``("", [])`` for non-sitemaps
    (PIB answers /sitemap.xml with an HTML "Untitled Page"). A gzipped body is decompressed
    first, up to ``max_size`` bytes (:class:`SitemapTooLarge` beyond; a corrupt one is no
    sitemap)."""
    if isinstance(data, bytes) and data.startswith(_GZIP):
        try:
            data = gunzip(data, max_size)
        except zlib.error:
            return "", []
    root = _xml_root(data)
    if root is None:
        return "", []
    kind = _local(root.tag)
    if kind == "sitemapindex":
        entries = [e for e in root if _local(e.tag) == "sitemap"]
        return "index", [link for e in entries if (link := _sitemap_entry(e, base_url))]
    if kind == "urlset":
        entries = [e for e in root if _local(e.tag) == "url"]
        return "urlset", [link for e in entries if (link := _url_entry(e, base_url))]
    return "", []


def _sitemap_entry(entry: lxml.etree._Element, base_url: str) -> Link | None:
    kids = _children(entry)
    url = _text(kids.get("loc"))
    return Link(urljoin(base_url, url), _date(_text(kids.get("lastmod")))) if url else None


def _url_entry(entry: lxml.etree._Element, base_url: str) -> Link | None:
    kids = _children(entry)
    url = _text(kids.get("loc"))
    if not url:
        return None
    news = kids.get("news")
    title = keywords = published = None
    if news is not None:
        n = _children(news)
        published = _text(n.get("publication_date"))
        title, keywords = _text(n.get("title")), _text(n.get("keywords"))
    date = _date(published, _text(kids.get("lastmod")))
    extra = {"keywords": keywords} if keywords else {}
    if published is None and kids.get("lastmod") is not None:
        extra["lastmod_only"] = True  # a modification date, not necessarily publication
    return Link(urljoin(base_url, url), date, None, title, extra)


def sitemaps_from_robots(text: str, base_url: str = "") -> list[str]:
    return [
        urljoin(base_url, line.partition(":")[2].strip())
        for line in text.splitlines()
        if line.strip().lower().startswith("sitemap:")
    ]


# --- listing pages -------------------------------------------------------------------------------


def parse_listing(html: str | bytes, base_url: str, css: str | None = None) -> list[Link]:
    """Links of a section/listing page: those matched by ``css`` (``a`` elements or elements
    containing them), else every ``<a href>``; absolute, fragment-free, each URL once."""
    if not html or not html.strip():
        return []
    try:
        doc = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return []
    base = doc.xpath("string(//base/@href)") or base_url
    base = urljoin(base_url, base)
    anchors: Iterable = doc.iter("a")
    if css:
        anchors = (
            a for el in css_select(doc, css) for a in ([el] if el.tag == "a" else el.iter("a"))
        )
    seen: dict[str, Link] = {}
    for a in anchors:
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        url = urljoin(base, href).split("#", 1)[0]
        if urlsplit(url).scheme in ("http", "https") and url not in seen:
            title = " ".join(a.text_content().split()) or a.get("title")
            seen[url] = Link(url, None, None, title or None)
    return list(seen.values())


def next_page(html: str | bytes, base_url: str, css: str) -> str | None:
    """The listing's next page: the first ``href`` of an element ``css`` matches (``<a>`` or
    ``<link>``, or an element holding an ``<a>``), absolute and fragment-free; None when there
    is none or it points back at this page."""
    if not html or not html.strip():
        return None
    try:
        doc = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return None
    base = urljoin(base_url, doc.xpath("string(//base/@href)") or base_url)
    for el in css_select(doc, css):
        anchor = el if el.get("href") else next(el.iter("a"), None)
        href = (anchor.get("href") or "").strip() if anchor is not None else ""
        if not href or href.startswith(("#", "javascript:")):
            continue
        url = urljoin(base, href).split("#", 1)[0]
        if urlsplit(url).scheme in ("http", "https") and url != base_url.split("#", 1)[0]:
            return url
    return None


_ARTICLE_PATH = re.compile(r"(\d{5,}|[^/]*-[^/]*-[^/]*-[^/]*)(\.\w{2,5})?/?$")


def looks_like_article(url: str) -> bool:
    """Heuristic for sites without URL rules: a long hyphenated slug or a numeric id at the end
    of the path (news CMSs), not a bare section path."""
    path = urlsplit(url).path
    return bool(path.strip("/")) and bool(_ARTICLE_PATH.search(path))


_LD_TYPE = re.compile(r'"@type"\s*:\s*(\[[^\]]*\]|"[^"]*")')
_ARTICLE_TYPE = re.compile(r'"(News|Reportage|Analysis|Opinion)?Article"|"(Live)?BlogPosting"')


def page_is_article(html: str | bytes) -> bool:
    """Whether a page given as a start URL is itself an article (og:type "article" or a JSON-LD
    Article), so that a crawl started from an article archives it and not only its links."""
    if not html or not html.strip():
        return False
    try:
        doc = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return False
    og = doc.xpath("string(//meta[@property='og:type']/@content)").strip().lower()
    if og == "article":
        return True
    scripts = doc.xpath("//script[contains(@type, 'ld+json')]/text()")
    types = (m.group(1) for text in scripts for m in _LD_TYPE.finditer(text))
    return any(_ARTICLE_TYPE.search(t) for t in types)


# --- other inputs --------------------------------------------------------------------------------


def parse_id_range(text: str) -> range:
    """``"2126700-2127300"`` (either order) -> the ids from the highest down, both ends included."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:-|\.\.)\s*(\d+)\s*", text)
    if not m:
        raise ValueError(f"not an id range (want A-B): {text!r}")
    a, b = sorted((int(m[1]), int(m[2])))
    return range(b, a - 1, -1)


def date_from_url(url: str, regex: str | None, fmt: str | None = None) -> datetime | None:
    """A date printed in the URL (ianslive ``--YYYYMMDDhhmmss``); ``fmt`` is an strptime format
    for group 1, else archive.text.dates parses it."""
    if not regex or not (m := re.search(regex, url)):
        return None
    if fmt:
        try:
            return datetime.strptime(m[1], fmt).replace(tzinfo=IST)
        except ValueError:
            return None
    return parse_datetime(m[1])


def form_fields(
    html: str | bytes, base_url: str, form_id: str
) -> tuple[str, list[tuple[str, str]]]:
    """Action URL and the fields a browser would post for form ``form_id`` (hidden inputs such as
    ASP.NET's ``__VIEWSTATE``, text inputs, checked boxes, each select's chosen option); no
    submit buttons, as for a ``__doPostBack`` from a dropdown."""
    doc = lxml.html.document_fromstring(html)
    forms = doc.xpath("//form[@id=$id]", id=form_id)
    if not forms:
        raise ValueError(f"no form with id {form_id!r} at {base_url}")
    form = forms[0]
    fields: list[tuple[str, str]] = []
    for el in form.iter("input", "select", "textarea"):
        name = el.get("name")
        if not name or el.get("disabled") is not None:
            continue
        kind = (el.get("type") or "text").lower()
        if el.tag == "select":
            options = el.findall(".//option")
            chosen = [o for o in options if o.get("selected") is not None] or options[:1]
            fields += [(name, o.get("value", o.text_content().strip())) for o in chosen]
        elif el.tag == "textarea":
            fields.append((name, el.text_content()))
        elif kind in ("checkbox", "radio"):
            if el.get("checked") is not None:
                fields.append((name, el.get("value", "on")))
        elif kind not in ("submit", "image", "button", "reset", "file"):
            fields.append((name, el.get("value", "")))
    return urljoin(base_url, form.get("action") or base_url), fields


_SECOND_LEVEL = frozenset(
    {"co", "gov", "nic", "org", "com", "ac", "net", "edu", "res", "gen", "ind"}
)


def registered_domain(host: str) -> str:
    """``www.amarujala.com`` -> ``amarujala.com``; ``www.pib.gov.in`` -> ``pib.gov.in`` (a small
    rule for the two-level suffixes of Indian sites, not the public suffix list)."""
    labels = host.lower().rstrip(".").split(".")
    n = 3 if len(labels) > 2 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-n:])
