"""What the extractor makes of one page under a source's spec (``sangrah check-source``).

An operator fixing ``sources.toml`` through an override file (``SANGRAH_SOURCES``) needs to see,
for one live or archived page: which of the spec's selectors match and how many nodes each (a
renamed container class shows as 0), what each extraction path reads (the source's container,
the whole pruned page, plain trafilatura) and how far it agrees with plain, which path the
agreement rule chose, and the TXT that would be written. Everything is computed by the code a
crawl runs (archive.text.extract); nothing is fetched or written here.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

import lxml.html
from lxml import etree

from archive.discover.sources import SourceSpec, own_extract
from archive.text import agreement, pagemeta
from archive.text.css import css_select
from archive.text.extract import Extraction, extract, readings
from archive.text.seedfile import decode_html, no_space_script, normalize

# Selector keys of [<source>.extract], in the order a page is read.
SELECTOR_KEYS = ("container", "standfirst", "drop", "require", "title", "date", "author",
                 "ministry", "release_id", "translations")  # fmt: skip
_VALUE_KEYS = ("title", "date", "author", "ministry", "release_id")  # first match gives a value
_LEAF_BLOCKS = frozenset({"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "span",
                          "figcaption", "blockquote", "section", "article"})  # fmt: skip
PATHS = ("container", "page", "plain")
FIRST_LINES = 3


@dataclass
class SelectorCheck:
    key: str
    selector: str
    nodes: int | None  # None: not a CSS selector lxml takes
    inherited: bool = False  # from [generic], appended after the source's own
    used: bool = False  # the one whose match the extraction took
    value: str | None = None
    error: str | None = None


@dataclass
class PathReading:
    name: str
    blocks: list[str] | None  # None: the path did not apply (no container matched)
    agreement: float | None = None  # share of plain's text this reading holds

    @property
    def chars(self) -> int:
        return sum(len(b) for b in self.blocks or [])


@dataclass
class CheckReport:
    source: str
    url: str
    url_note: str | None
    origin: str
    sources_file: str | None
    result: Extraction
    selectors: list[SelectorCheck] = field(default_factory=list)
    boilerplate: list[tuple[str, int, bool]] = field(default_factory=list)
    paths: list[PathReading] = field(default_factory=list)

    @property
    def txt(self) -> str | None:
        if not self.result.is_article or not self.result.title:
            return None
        return self.result.txt_bytes().decode("utf-8")

    def to_dict(self) -> dict:
        return {
            "source": self.source, "url": self.url, "url_note": self.url_note,
            "origin": self.origin, "sources_file": self.sources_file,
            "selectors": [asdict(s) for s in self.selectors],
            "boilerplate": [{"pattern": p, "lines": n, "inherited": i}
                            for p, n, i in self.boilerplate],
            "paths": {p.name: {"chars": p.chars if p.blocks is not None else None,
                               "blocks": p.blocks, "agreement": p.agreement} for p in self.paths},
            "chosen": {"path": self.result.path, "agreement": self.result.agreement},
            "result": {k: v for k, v in self.result.to_dict().items() if k != "blocks"},
            "txt": self.txt,
        }  # fmt: skip


def check(
    body: bytes,
    url: str,
    spec: SourceSpec,
    *,
    content_type: str | None = None,
    origin: str = "",
    url_note: str | None = None,
    sources_file: str | None = None,
) -> CheckReport:
    """The report for one page; ``spec`` must be the spec extract() picks for ``url``."""
    result = extract(body, url, content_type, sources_file)
    report = CheckReport(spec.name, url, url_note, origin, sources_file, result)
    doc = _parse(body, content_type)
    if doc is None:
        return report
    own = own_extract(spec.name, sources_file)
    report.selectors = selector_checks(doc, spec, own, result)
    lines = _page_lines(doc)
    report.boilerplate = [
        (p, _matching(p, lines), p not in own.get("boilerplate", []))
        for p in spec.hint("boilerplate", [])
    ]
    if result.reason and result.reason.startswith("not HTML"):
        return report
    found = readings(body, url, content_type, sources_file)
    plain = found["plain"] or []
    prose = agreement.is_prose(plain)
    chars = no_space_script(" ".join(plain[:20]))
    for name in PATHS:
        blocks = found[name]
        agree = None
        if name != "plain" and blocks is not None and prose:
            agree = round(agreement.coverage(blocks, plain, chars), 3)
        report.paths.append(PathReading(name, blocks, agree))
    return report


def selector_checks(doc, spec: SourceSpec, own: dict, result: Extraction) -> list[SelectorCheck]:
    """Every selector of the spec's extract table with the nodes it matches on the page as
    served (before any pruning), marked where the extraction took its match."""
    used = {"container": result.container_selector, "title": result.title_selector,
            "date": result.date_selector}  # fmt: skip
    checks = []
    for key in SELECTOR_KEYS:
        selectors = spec.hint(key, [])
        selectors = [selectors] if isinstance(selectors, str) else list(selectors)
        mine = own.get(key, [])
        mine = [mine] if isinstance(mine, str) else mine
        if key in ("author", "ministry", "release_id"):
            used[key] = pagemeta.first_with_selector(doc, selectors)[1]
        for sel in selectors:
            check = SelectorCheck(key, sel, None, inherited=sel not in mine)
            css = sel.partition("@")[0] if "@" in sel.split("]")[-1] else sel
            try:
                check.nodes = len(css_select(doc, css))
            except Exception as exc:  # cssselect's SelectorError, lxml's XPath errors
                check.error = str(exc)
                checks.append(check)
                continue
            check.used = used.get(key) == sel
            if key in _VALUE_KEYS and (values := pagemeta.select(doc, sel)):
                check.value = values[0]
            checks.append(check)
    return checks


def _matching(pattern: str, lines: list[str]) -> int:
    """Lines a boilerplate pattern removes (archive.text.boilerplate: the whole line must match)."""
    try:
        regex = re.compile(pattern)
    except re.error:
        return 0
    return sum(1 for line in lines if regex.fullmatch(line))


def _parse(body: bytes, content_type: str | None):
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", decode_html(body, content_type)) or "<html/>"
    try:
        return lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None


def _page_lines(doc) -> list[str]:
    """The page's text as lines of its innermost block elements (what the boilerplate patterns
    meet once trafilatura has made blocks of them)."""
    if doc.body is None:
        return []
    lines = []
    for el in doc.body.iter(*_LEAF_BLOCKS):
        if next(el.iterdescendants(*_LEAF_BLOCKS), None) is None:
            lines += [line for line in map(normalize, el.text_content().split("\n")) if line]
    return lines


# --- plain text ----------------------------------------------------------------------------------


def render(report: CheckReport) -> list[str]:
    r = report.result
    out = [f"source      {report.source}"]
    out.append(f"sources     {report.sources_file or 'defaults (archive/discover/sources.toml)'}")
    out.append(f"page        {report.origin}")
    out.append(f"url         {report.url}" + (f"  ({report.url_note})" if report.url_note else ""))
    out += ["", "selectors (nodes on the page as served)"]
    # The [generic] fallbacks that match nothing are many and say little: counted, not listed.
    shown = [s for s in report.selectors if s.nodes or s.error or not s.inherited]
    quiet = Counter(s.key for s in report.selectors if s not in shown)
    width = max((len(s.selector) for s in shown), default=10)
    for s in shown:
        origin = " (generic)" if s.inherited else ""
        count = "invalid" if s.error else str(s.nodes)
        mark = "  <- used" if s.used else ""
        value = f'  "{_short(s.value, 60)}"' if s.value else ""
        error = f"  {s.error}" if s.error else ""
        out.append(f"  {s.key:<12} {s.selector:<{width}} {count:>5}{origin}{mark}{value}{error}")
    if quiet:
        each = ", ".join(f"{n} {key}" for key, n in quiet.items())
        out.append(f"  (and generic fallbacks matching nothing: {each})")
    if report.boilerplate:
        out += ["", "boilerplate patterns (lines of the page they remove)"]
        for pattern, count, inherited in report.boilerplate:
            out.append(f"  {count:>4}  {pattern}" + (" (generic)" if inherited else ""))
    out += ["", "extraction paths (chars, blocks, agreement: share of plain's text it holds)"]
    for p in report.paths:
        if p.blocks is None:
            why = "no container selector matched" if r.container_selector is None else "no text"
            out.append(f"  {p.name:<10} -  {why}")
            continue
        agree = "reference" if p.name == "plain" else _figure(p.agreement)
        out.append(f"  {p.name:<10} {p.chars} chars, {len(p.blocks)} blocks, {agree}")
        out += [f"               {_short(b, 90)}" for b in p.blocks[:FIRST_LINES]]
    out.append("")
    out.append(f"chosen      {r.path or '-'} (agreement {_figure(r.agreement)}): {_why(r)}")
    if r.is_article:
        out.append(f"result      article: {r.title}")
        for name in ("published", "author", "agency", "language", "canonical_url"):
            if value := getattr(r, name):
                out.append(f"            {name}: {value}")
    else:
        out.append(f"result      not an article: {r.reason}")
    if (txt := report.txt) is not None:
        out += ["", "TXT (seed format) " + "-" * 60, txt.rstrip("\n"), "-" * 78]
    return out


def _why(r: Extraction) -> str:
    path = r.path or ""
    if path.startswith("plain"):
        return "ours held too little of plain's text, plain trafilatura's reading was taken"
    base = "the source's container" if path.startswith("container") else "the whole pruned page"
    if r.container_selector is None and path.startswith("page"):
        base += " (no container selector matched)"
    if "+plain" in path:
        base += ", with body blocks of plain's reading it had lost put back"
    if "-tail" in path:
        base += ", a trailing run of page chrome cut"
    if path == "container" and r.agreement is None:
        base += " (it holds most of the page's paragraph text: no self-check in a crawl)"
    return base if path else "no extraction path ran"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _short(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def url_of_file(body: bytes, spec: SourceSpec, name: str) -> tuple[str, str]:
    """The URL a saved page names for itself (rel=canonical, og:url), else one made up on the
    source's first domain; with a note on where it came from (the URL rules judge it)."""
    doc = _parse(body, None)
    if doc is not None:
        for what, xpath in (
            ("canonical link", "//link[@rel='canonical']/@href"),
            ("og:url", "//meta[@property='og:url']/@content"),
        ):
            if (found := doc.xpath(f"string({xpath})").strip()).startswith(("http://", "https://")):
                return found, f"from the page's {what}"
    host = spec.domains[0] if spec.domains else "unknown.invalid"
    return f"https://{host}/{name}", "made up: the page names no URL; give --url"
