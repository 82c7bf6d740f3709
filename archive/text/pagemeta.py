"""Article metadata from a parsed page: title, publication date, author, canonical link.

The source spec's selectors are tried first (they know where a site prints its date), then the
shared fallbacks every news page tends to carry: OpenGraph/article meta tags, JSON-LD
``NewsArticle`` (whose values NDTV HTML-escapes: ``&#x2B;05:30``), microdata, ``<h1>``.
"""

from __future__ import annotations

import html
import itertools
import json
import re
from dataclasses import dataclass, field

from archive.discover.sources import SourceSpec
from archive.text import dates
from archive.text.css import css_select
from archive.text.seedfile import normalize

ARTICLE_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting", "LiveBlogPosting",
                  "AnalysisNewsArticle", "OpinionNewsArticle"}  # fmt: skip
_BYLINE_PREFIX = re.compile(
    r"^\s*((written|edited|posted|reported|updated)\s+by|author|by|लेखक|द्वारा)\s*[:\-|]?\s*", re.I
)


_DESCRIPTION = ["meta[property='og:description']@content", "meta[name='description']@content",
                "meta[name='twitter:description']@content"]  # fmt: skip


@dataclass
class PageMeta:
    title: str | None = None
    published: str | None = None
    author: str | None = None
    canonical: str | None = None
    description: str | None = None  # og:/meta description: often the visible standfirst
    og_type: str | None = None
    title_selector: str | None = None  # the spec selector that gave the title (None: fallback)
    date_selector: str | None = None  # the spec selector that gave the date (None: fallback)
    ld_types: set[str] = field(default_factory=set)
    extra: dict = field(default_factory=dict)


def select(doc, selector: str) -> list[str]:
    """Values of a spec selector: CSS, optionally "@attr" for an attribute instead of the text."""
    css, _, attr = selector.partition("@") if "@" in selector.split("]")[-1] else (selector, "", "")
    try:
        found = css_select(doc, css)
    except Exception:  # a malformed selector from an override file must not kill extraction
        return []
    values = (el.get(attr) if attr else el.text_content() for el in found)
    return [v for v in (normalize(html.unescape(v or "")) for v in values) if v]


def first(doc, selectors: list[str]) -> str | None:
    return first_with_selector(doc, selectors)[0]


def first_with_selector(doc, selectors: list[str]) -> tuple[str | None, str | None]:
    """(first value, the selector that gave it), or (None, None)."""
    for sel in selectors:
        if values := select(doc, sel):
            return values[0], sel
    return None, None


def _json_ld(doc) -> list[dict]:
    objects: list[dict] = []
    for script in doc.xpath('//script[contains(@type, "ld+json")]'):
        raw = html.unescape(script.text or "")
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                objects.append(item)
                stack.extend(v for k, v in item.items() if k in ("@graph", "mainEntity"))
    return objects


def _types(obj: dict) -> set[str]:
    kind = obj.get("@type", [])
    return set(kind if isinstance(kind, list) else [kind])


def _ld_person(article: dict) -> str | None:
    authors = article.get("author")
    for person in authors if isinstance(authors, list) else [authors]:
        if isinstance(person, dict) and "Person" in _types(person) and person.get("name"):
            return normalize(str(person["name"]))
    return None


def _published(
    doc, spec: SourceSpec, url: str, article: dict
) -> tuple[str | None, str, str | None]:
    """(ISO date, precision, selector). Naive times are trusted only where the spec names the
    zone. The selector is the spec's date selector that gave the date ("url" for the URL rule,
    "json-ld" for the JSON-LD fallback)."""
    if (regex := spec.published_from_url) and (m := re.search(regex, url)):
        return dates.parse_date(m.group(1)), "second", "url"
    candidates = itertools.chain(  # lazily: the first selector usually gives the date
        ((v, sel) for sel in spec.hint("date", []) for v in select(doc, sel)[:1]),
        ((str(article[k]), "json-ld") for k in ("datePublished", "dateCreated") if article.get(k)),
    )
    trusted_zone = bool(spec.hint("naive_dates_in_ist"))
    for value, sel in candidates:
        if not (iso := dates.parse_date(value)):
            continue
        if trusted_zone or dates.has_time_and_zone(value):
            return iso, "minute", sel
        # A zone-less machine time on an unknown site may be UTC or server time: keep the day.
        return dates.date_only(iso), "day", sel
    return None, "none", None


def _title(doc, spec: SourceSpec, article: dict) -> tuple[str | None, str | None]:
    """(title, selector): the spec's first title; trimmed to another candidate it contains,
    which drops site-name suffixes like "… - Samastipur News" that og:title carries and the
    JSON-LD headline lacks. The selector is "json-ld" for the JSON-LD fallback."""
    headline = normalize(str(article.get("headline") or ""))
    title, selector = first_with_selector(doc, spec.hint("title", []))
    if not title and headline:
        title, selector = headline, "json-ld"
    if not title:
        return None, None
    for other in sorted({headline, *select(doc, "h1")[:1]} - {"", title}, key=len):
        if other in title and len(other) >= 0.5 * len(title):
            return other, selector
    return title, selector


def read(doc, spec: SourceSpec, url: str) -> PageMeta:
    ld = _json_ld(doc)
    article = next((o for o in ld if _types(o) & ARTICLE_TYPES), {})
    meta = PageMeta(ld_types={t for o in ld for t in _types(o) if isinstance(t, str)})
    meta.title, meta.title_selector = _title(doc, spec, article)
    meta.published, precision, meta.date_selector = _published(doc, spec, url, article)
    if precision == "day":
        meta.extra["published_precision"] = "day"
    author = first(doc, spec.hint("author", [])) or _ld_person(article)
    author = _BYLINE_PREFIX.sub("", author or "").strip(" |,")
    meta.author = author or None
    meta.canonical = first(doc, ["link[rel='canonical']@href"])
    meta.og_type = first(doc, ["meta[property='og:type']@content"])
    meta.description = first(doc, _DESCRIPTION) or None
    meta.extra.update(_source_extra(doc, spec, url))
    return meta


def _source_extra(doc, spec: SourceSpec, url: str) -> dict:
    """Source-specific extras named in the spec (PIB ministry, release id, translations...)."""
    extra: dict = {}
    if sels := spec.hint("ministry"):
        extra["ministry"] = first(doc, sels)
    if sels := spec.hint("release_id"):
        found = first(doc, sels) or ""
        if m := re.search(r"\d{5,}", found) or re.search(r"(?i)PRID=(\d+)", url):
            extra["release_id"] = m.group(m.lastindex or 0)
    if sel := spec.hint("translations"):
        extra["translations"] = [
            {"label": normalize(a.text_content()), "prid": m.group(1)}
            for a in css_select(doc, sel)
            if (m := re.search(r"(?i)PRID=(\d+)", a.get("href", "")))
        ]
    if (regex := spec.hint("office_regex")) and (dated := first(doc, spec.hint("date", []))):
        if m := re.search(regex, dated):
            extra["office"] = m.group(1)
    if (regex := spec.hint("section_regex")) and (m := re.search(regex, url)):
        extra["section"] = m.group(1)
    return extra
