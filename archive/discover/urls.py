"""Canonical article URLs: the dedup key of the archive and the input of the TXT name hash.

Pure functions of strings. The per-source rules (PRID template, AMP twins, host aliases, tracking
parameters) come from the source spec; without a spec the generic rules apply.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

from archive.discover.sources import SourceSpec, source_for_url

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _strip_params(query: str, patterns: list[str]) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [
        (k, v) for k, v in pairs if not any(fnmatchcase(k.lower(), p.lower()) for p in patterns)
    ]
    return urlencode(kept, quote_via=quote, safe="/:,@")


def _normalize(url: str, spec: SourceSpec) -> str:
    """Lowercase scheme and host, default port, no fragment, no tracking parameters."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "https").lower()
    host = (parts.hostname or "").lower().rstrip(".")
    host = spec.canonical.get("host_aliases", {}).get(host, host)
    netloc = (
        host
        if parts.port is None or str(parts.port) == _DEFAULT_PORTS.get(scheme)
        else (f"{host}:{parts.port}")
    )
    # Percent-encoding is made uniform (%E0%A4... upper case) so encoded and raw Devanagari agree;
    # the double slash of some sites (BS Hindi "//storypage.php") is part of their real path.
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~%") or "/"
    query = _strip_params(parts.query, spec.canonical.get("strip_params", []))
    return urlunsplit((scheme, netloc, path, query, ""))


def _from_id_template(url: str, spec: SourceSpec) -> str | None:
    regex, template = spec.canonical.get("id_regex"), spec.canonical.get("template")
    if regex and template and (match := re.search(regex, url)):
        return template.format(id=match.group(1))
    return None


def _amp_to_canonical(url: str, spec: SourceSpec) -> str:
    for pattern, replacement in spec.canonical.get("amp_rules", []):
        new = re.sub(pattern, replacement, url)
        if new != url:
            return new
    return url


def canonical_url(
    url: str, spec: SourceSpec | None = None, html_canonical: str | None = None
) -> str:
    """The one URL an article is known by.

    Order: a source id template (PIB PRID) wins; then the page's own rel=canonical when it stays
    on the same site (Wayback and syndication canonicals pointing elsewhere are ignored); then the
    source's AMP rules applied to the fetched URL.
    """
    spec = spec or source_for_url(url)
    if templated := _from_id_template(url, spec):
        return _normalize(templated, spec)
    if html_canonical and (resolved := _usable_canonical(url, html_canonical.strip(), spec)):
        return _normalize(resolved, spec)
    return _normalize(_amp_to_canonical(_normalize(url, spec), spec), spec)


def _site(host: str) -> str:
    """Registrable-ish part of a host (last two labels, three for *.co.in-style suffixes)."""
    labels = host.lower().split(".")
    n = 3 if len(labels) > 2 and labels[-2] in {"co", "gov", "nic", "org", "com", "ac"} else 2
    return ".".join(labels[-n:])


def _usable_canonical(url: str, canonical: str, spec: SourceSpec) -> str | None:
    resolved = urljoin(url, canonical)
    got, want = urlsplit(resolved), urlsplit(url)
    if got.scheme not in ("http", "https") or not got.hostname:
        return None
    if _site(got.hostname) != _site(want.hostname or ""):
        return None
    if spec.is_article_url(resolved) is False:
        return None  # a canonical pointing at a section or home page is a template bug
    return resolved
