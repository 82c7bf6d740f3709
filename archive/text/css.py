"""CSS selectors compiled once.

lxml's ``element.cssselect(css)`` translates the selector to XPath on every call; with a source's
dozens of selectors tried on every page that translation cost more than the matching itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
# [attr], [attr=v], [attr*=v], [attr^=v], [attr$=v] with an optional tag ("[hidden]",
# '[style*="display:none"]', '[id$="lblViews"]'): the elements that have one of these attributes
# come from one XPath walk testing only that the attribute is there, and the values are compared
# in Python (as cssselect's translation compares them: case-sensitive, an empty value never
# matches a substring test); four such selectors cost four walks of string tests as XPath.
_ATTRIBUTE = re.compile(
    r"""([a-z][a-z0-9-]*)?\[\s*([a-z_][\w.-]*)\s*(?:([*^$]?=)\s*(?:"([^"\\]*)"|'([^'\\]*)'|([\w-]+))\s*)?\]""",
    re.IGNORECASE,
)
_VALUE_TESTS = {
    None: lambda value, wanted: True,
    "=": lambda value, wanted: value == wanted,
    "*=": lambda value, wanted: bool(wanted) and wanted in value,
    "^=": lambda value, wanted: bool(wanted) and value.startswith(wanted),
    "$=": lambda value, wanted: bool(wanted) and value.endswith(wanted),
}


@lru_cache(maxsize=256)
def _having(names: tuple[str, ...]) -> etree.XPath:
    return etree.XPath("descendant-or-self::*[" + " or ".join(f"@{n}" for n in names) + "]")


@dataclass(frozen=True)
class _Selectors:
    """A selector list sorted by how it is matched (parsed once per list, not per page)."""

    tags: frozenset[str]
    classes: dict[str, set[str | None]]  # class name -> tags (None: any)
    ids: dict[str, set[str | None]]
    attributes: dict[str, list[tuple]]  # attribute name -> [(tag or None, test, value)]
    others: str  # the rest, as one CSS group ("" for none)

    def has_attribute(self, el) -> bool:
        return any(
            (value := el.get(name)) is not None
            and any((tag is None or el.tag == tag) and test(value, wanted)
                    for tag, test, wanted in tests)
            for name, tests in self.attributes.items()
        )  # fmt: skip


@lru_cache(maxsize=256)
def _sorted(selectors: tuple[str, ...]) -> _Selectors:
    tags: set[str] = set()
    keyed: dict[str, dict[str, set[str | None]]] = {".": {}, "#": {}}
    attributes: dict[str, list[tuple]] = {}
    others: list[str] = []
    for sel in selectors:
        if (match := _ATTRIBUTE.fullmatch(sel.strip())) is not None:
            tag, name, op, *quoted = match.groups()
            wanted = next((v for v in quoted if v is not None), "")
            attributes.setdefault(name.lower(), []).append(
                (tag and tag.lower(), _VALUE_TESTS[op], wanted)
            )
        elif not (match := _SIMPLE.fullmatch(sel.strip())) or not (match[1] or match[2]):
            others.append(sel)
        elif match[2]:
            keyed[match[2]].setdefault(match[3], set()).add(match[1] and match[1].lower())
        else:
            tags.add(match[1].lower())
    return _Selectors(frozenset(tags), keyed["."], keyed["#"], attributes, ", ".join(others))


def select_any(root, selectors: list[str]) -> list:
    """The elements any of ``selectors`` matches, each once, in document order."""
    rules = _sorted(tuple(selectors))
    found = set(css_select(root, rules.others)) if rules.others else set()
    if rules.attributes:
        found.update(el for el in _having(tuple(rules.attributes))(root) if rules.has_attribute(el))
    matched = []
    for el in root.iter(tag=etree.Element):  # the hot loop of pruning: no call per element
        if el in found or el.tag in rules.tags:
            matched.append(el)
        elif (wanted := rules.ids.get(el.get("id"))) and (None in wanted or el.tag in wanted):
            matched.append(el)
        elif rules.classes and (names := el.get("class")):
            for name in names.split():
                if (wanted := rules.classes.get(name)) and (None in wanted or el.tag in wanted):
                    matched.append(el)
                    break
    return matched
