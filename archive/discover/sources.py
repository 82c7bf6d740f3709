"""Per-source specs, loaded from configuration (``sources.toml`` + an optional override file).

The defaults ship with the package; an operator fixes selectors or URLs against the live sites by
pointing ``SANGRAH_SOURCES`` (or the ``override`` argument) at a TOML file whose tables are merged
over the defaults key by key. Each named source inherits the ``[generic]`` spec: its lists of
fallback selectors, drop rules, boilerplate patterns and tracking parameters are appended after the
source's own, so a source only states what is special about it.
"""

from __future__ import annotations

import difflib
import importlib.resources
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cssselect

# Read as a package resource, not beside __file__: inside a zipped egg (scrapyd runs those) or a
# zipapp there is no directory to look in.
DEFAULTS = importlib.resources.files(__package__).joinpath("sources.toml")
ENV_VAR = "SANGRAH_SOURCES"

# Keys whose generic values make sense on every site: appended after the source's own entries.
_INHERITED_LISTS = frozenset(
    {
        "nonarticle_url", "nonarticle_og_type", "soft404_title", "soft404_text",
        "strip_params", "amp_rules", "drop", "title", "date", "author", "boilerplate",
    }
)  # fmt: skip


# Every key some code reads, per table: a key not listed is a typo or a leftover and is refused
# on load (an operator's misspelt "containr" must not silently fall back to the generic rules).
KNOWN_KEYS: dict[str, frozenset[str]] = {
    "": frozenset({"name", "domains", "article_url", "nonarticle_url", "nonarticle_og_type",
                   "soft404_title", "soft404_text", "published_from_url", "canonical", "extract",
                   "agencies", "discovery"}),
    "canonical": frozenset({"strip_params", "amp_rules", "host_aliases", "id_regex", "template"}),
    "extract": frozenset({"container", "standfirst", "drop", "require", "title", "date", "author",
                          "trafilatura", "boilerplate", "naive_dates_in_ist", "ministry",
                          "release_id", "translations", "office_regex", "section_regex"}),
    "discovery": frozenset({"feeds", "sitemaps", "listings", "listing_link_css", "listing_form_id",
                            "listing_fields", "prid_template", "request_headers",
                            "sitemap_month_template", "url_date", "agency_filter",
                            "listing_next", "listing_pages"}),
}  # fmt: skip


class SourcesError(ValueError):
    """A sources file that does not describe sources: unknown keys, wrong value types."""


def validate(tables: dict, origin: str) -> None:
    """Refuse unknown or misspelt keys (with a suggestion) and tables where a table belongs."""
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise SourcesError(f"{origin}: top-level {name!r} must be a [table] of one source")
        _check_keys(table, KNOWN_KEYS[""], f"{origin}: [{name}]")
        for section in ("canonical", "extract", "discovery", "agencies"):
            value = table.get(section, {})
            if not isinstance(value, dict):
                raise SourcesError(f"{origin}: [{name}] {section} must be a table")
            if section in KNOWN_KEYS:
                _check_keys(value, KNOWN_KEYS[section], f"{origin}: [{name}.{section}]")
            for key in _SELECTOR_KEYS.get(section, ()):
                _check_selectors(value.get(key), f"{origin}: [{name}.{section}] {key}")


# Keys holding CSS selectors (extract's may end in "@attr"): checked on load, so a typo in an
# override file is refused with its place instead of failing on the first page it meets.
_SELECTOR_KEYS = {
    "extract": ("container", "standfirst", "drop", "require", "title", "date", "author",
                "ministry", "release_id", "translations"),
    "discovery": ("listing_link_css", "listing_next"),
}  # fmt: skip


def _check_selectors(value: Any, where: str) -> None:
    for selector in [value] if isinstance(value, str) else value or []:
        css = selector.partition("@")[0] if "@" in selector.split("]")[-1] else selector
        try:
            cssselect.HTMLTranslator().css_to_xpath(css)
        except cssselect.SelectorError as exc:
            raise SourcesError(f"{where}: {selector!r} is not a CSS selector ({exc})") from None


def _check_keys(table: dict, known: frozenset[str], where: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SourcesError(f"{where}: unknown key {key!r}{hint}; known: {sorted(known)}")


@dataclass(frozen=True)
class SourceSpec:
    """Everything known about one publisher; plain data, so it pickles into worker processes."""

    name: str
    domains: tuple[str, ...] = ()
    article_url: tuple[str, ...] = ()
    nonarticle_url: tuple[str, ...] = ()
    nonarticle_og_type: tuple[str, ...] = ()
    soft404_title: tuple[str, ...] = ()
    soft404_text: tuple[str, ...] = ()
    published_from_url: str | None = None
    canonical: dict[str, Any] = field(default_factory=dict)
    extract: dict[str, Any] = field(default_factory=dict)
    agencies: dict[str, list[str]] = field(default_factory=dict)
    discovery: dict[str, Any] = field(default_factory=dict)

    def is_article_url(self, url: str) -> bool | None:
        """True/False when the URL rules decide, None when they say nothing."""
        if any(re.search(p, url) for p in self.nonarticle_url):
            return False
        if self.article_url:
            return any(re.search(p, url) for p in self.article_url)
        return None

    def hint(self, key: str, default: Any = None) -> Any:
        return self.extract.get(key, default)


def _merge(base: dict, over: dict) -> dict:
    """Deep merge of TOML tables: tables merge key by key, every other value is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _inherit(generic: dict, own: dict) -> dict:
    """A source's table with the generic spec underneath it (see _INHERITED_LISTS)."""
    out = _merge(generic, own)
    for section in (None, "canonical", "extract"):
        g = generic if section is None else generic.get(section, {})
        o = own if section is None else own.get(section, {})
        target = out if section is None else out[section]
        for key in _INHERITED_LISTS:
            if key in o and isinstance(g.get(key), list):
                target[key] = [*o[key], *(v for v in g[key] if v not in o[key])]
    return out


def _spec(table: dict) -> SourceSpec:
    tuples = ("domains", "article_url", "nonarticle_url", "nonarticle_og_type")
    tuples += ("soft404_title", "soft404_text")
    return SourceSpec(
        name=table["name"],
        **{key: tuple(table.get(key, ())) for key in tuples},
        published_from_url=table.get("published_from_url"),
        canonical=dict(table.get("canonical", {})),
        extract=dict(table.get("extract", {})),
        agencies=dict(table.get("agencies", {})),
        discovery=dict(table.get("discovery", {})),
    )


@lru_cache(maxsize=8)
def _tables(override: str | None) -> dict[str, dict]:
    """The defaults with the override merged over them, before [generic] is inherited."""
    tables = tomllib.loads(DEFAULTS.read_text(encoding="utf-8"))
    validate(tables, f"{__package__}/sources.toml")
    if override:
        with open(override, "rb") as fh:
            over = tomllib.load(fh)
        validate(over, str(override))
        tables = _merge(tables, over)
    return tables


@lru_cache(maxsize=8)
def _load(override: str | None) -> dict[str, SourceSpec]:
    tables = _tables(override)
    generic = tables["generic"]
    specs = {"generic": _spec(generic)}
    for name, table in tables.items():
        if name != "generic" and isinstance(table, dict):
            specs[name] = _spec(_inherit(generic, {"name": name, **table}))
    return specs


def load_sources(override: Path | str | None = None) -> dict[str, SourceSpec]:
    """All specs by name; ``override`` (default: $SANGRAH_SOURCES) is merged over the defaults."""
    path = override if override is not None else os.environ.get(ENV_VAR) or None
    return _load(str(path) if path else None)


def own_extract(name: str, override: Path | str | None = None) -> dict[str, Any]:
    """A source's own [<name>.extract] table (defaults + override), without what it inherits
    from [generic]: tells an operator which selectors are the source's and which the fallbacks."""
    path = override if override is not None else os.environ.get(ENV_VAR) or None
    return dict(_tables(str(path) if path else None).get(name, {}).get("extract", {}))


def source_for_url(url: str, override: Path | str | None = None) -> SourceSpec:
    """The spec whose domains cover the URL's host; the generic spec for unknown hosts."""
    specs = load_sources(override)
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    best, best_len = specs["generic"], 0
    for spec in specs.values():
        # The longest matching domain wins, so an alias never loses to a shorter parent domain.
        for domain in spec.domains:
            if (host == domain or host.endswith("." + domain)) and len(domain) > best_len:
                best, best_len = spec, len(domain)
    return best
