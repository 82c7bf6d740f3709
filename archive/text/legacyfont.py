"""Pages written in a legacy (pre-Unicode) Devanagari font: Latin letters that only read as Hindi
through a font such as Kruti Dev, DevLys or Chanakya ("vklinks esa ty" for "आसमान में जल").

Their text is not Hindi to any reader but that font: such a page gets no TXT, with a clear reason.
Signals: a legacy font named in an inline ``font-family``, a ``<font face>`` or a ``<style>`` rule
that applies to the text, and the text itself being Latin letters (a Unicode Hindi page may name
a legacy font in its CSS without using it).
"""

from __future__ import annotations

import re

from archive.text.css import css_select
from archive.text.seedfile import devanagari_ratio, normalize

FONTS = re.compile(
    r"(?i)\b(kruti\s*-?\s*dev|devlys|dev\s*lys|(walkman[\s-]*)?chanakya|shusha|agra\b|aps-?dv"
    r"|akruti|shree[\s-]*dev|amar\s*ujala|bhaskar\s*font|naidunia|kundli)"
)
_STYLE_RULE = re.compile(r"([^{}]+)\{([^}]*)\}")
# Kruti Dev spellings of the commonest Hindi words (है में के की का और से को कि भी यह पर)
_WORDS = frozenset("gS esa ds dh dk vkSj ls dks fd Hkh ;g ij Fkk Fkh x;k".split())


def legacy_font(doc, text: str) -> str | None:
    """The legacy font the page's text is written for, or None. ``text``: the extracted body."""
    if not text or devanagari_ratio(text) > 0.2:
        return None
    font = _applied_font(doc, text)
    tokens = text.split()
    words = sum(1 for t in tokens if t.strip(".,;:!?|") in _WORDS)
    if font or (len(tokens) >= 20 and words >= 0.08 * len(tokens)):
        return font or "Kruti Dev"
    return None


def _applied_font(doc, text: str) -> str | None:
    """A legacy font applied to elements holding at least half of ``text``."""
    styled = [el for el in doc.iter() if isinstance(el.tag, str) and _font_of(el)]
    for style in doc.iter("style"):
        for selectors, body in _STYLE_RULE.findall(style.text or ""):
            if not FONTS.search(body):
                continue
            for sel in selectors.split(","):
                try:
                    styled.extend(css_select(doc, sel.strip()))
                except Exception:  # selectors lxml cannot read (@media, pseudo-classes)
                    continue
    covered = sum(len(normalize(el.text_content())) for el in _outermost(styled))
    if styled and covered >= 0.5 * len(text):
        found = _font_of(styled[0]) or FONTS.search(_all_styles(doc))
        return normalize(found.group(0)) if found else "legacy font"
    return None


def _font_of(el):
    return FONTS.search(el.get("face", "")) or (
        "font-family" in (style := el.get("style", "")) and FONTS.search(style)
    )


def _all_styles(doc) -> str:
    return " ".join(s.text or "" for s in doc.iter("style"))


def _outermost(elements: list) -> list:
    chosen = set(map(id, elements))
    return [
        el for el in elements
        if not any(id(a) in chosen for a in el.iterancestors())
    ]  # fmt: skip
