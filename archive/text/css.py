"""CSS selectors compiled once.

lxml's ``element.cssselect(css)`` translates the selector to XPath on every call; with a source's
dozens of selectors tried on every page that translation cost more than the matching itself.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree
from lxml.cssselect import CSSSelector


@lru_cache(maxsize=2048)
def compiled(css: str) -> CSSSelector:
    return CSSSelector(css, translator="html")


def css_select(root, css: str) -> list:
    """What ``root.cssselect(css)`` returns (cssselect's SelectorError for a malformed one)."""
    return compiled(css)(root)


# tag, .class, #id, tag.class, tag#id: matched by one walk of the tree instead of one XPath
# evaluation per selector (a source's forty drop rules took 12 ms a page as XPath, 1 ms this way)
_SIMPLE = re.compile(r"([a-z][a-z0-9-]*)?(?:([.#])(-?[_a-z][\w-]*))?", re.IGNORECASE)


def select_any(root, selectors: list[str]) -> list:
    """The elements any of ``selectors`` matches, each once, in document order."""
    tags: set[str] = set()
    classes: dict[str, set[str | None]] = {}  # class name -> tags (None: any)
    ids: dict[str, set[str | None]] = {}
    others: list[str] = []
    for sel in selectors:
        match = _SIMPLE.fullmatch(sel.strip())
        if not match or not (match[1] or match[2]):
            others.append(sel)
        elif match[2]:
            keyed = classes if match[2] == "." else ids
            keyed.setdefault(match[3], set()).add(match[1] and match[1].lower())
        else:
            tags.add(match[1].lower())
    found = set(css_select(root, ", ".join(others))) if others else set()
    matched = []
    for el in root.iter(tag=etree.Element):  # the hot loop of pruning: no call per element
        if el in found or el.tag in tags:
            matched.append(el)
            continue
        if ids and (wanted := ids.get(el.get("id"))) and (None in wanted or el.tag in wanted):
            matched.append(el)
            continue
        if classes and (names := el.get("class")):
            for name in names.split():
                if (wanted := classes.get(name)) and (None in wanted or el.tag in wanted):
                    matched.append(el)
                    break
    return matched
