"""What changed between two versions of an article text, word by word.

Words are whitespace-separated runs, so a Devanagari word stays whole with its matras, virama,
nukta, anusvara and ZWJ/ZWNJ (a character-class tokenizer such as ``\\w+`` would cut "क्षेत्र" at
the virama, and a character diff would show a changed matra as noise). Paragraph breaks are
tokens of their own, so a diff keeps the text's paragraphs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from difflib import SequenceMatcher
from typing import NamedTuple

BREAK = "\n"
_TOKEN = re.compile(r"\n|[^\s]+")
_BREAKS = re.compile(r"\s*\n\s*")


class Change(NamedTuple):
    op: str  # "=" same, "-" only in the old text, "+" only in the new one
    words: tuple[str, ...]


def tokens(text: str) -> list[str]:
    """Words and paragraph breaks (one BREAK per run of line ends)."""
    return _TOKEN.findall(_BREAKS.sub(BREAK, text.strip()))


def diff_words(old: str, new: str) -> list[Change]:
    """The new text as runs of kept, removed and added words."""
    a, b = tokens(old), tokens(new)
    changes: list[Change] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            changes.append(Change("=", tuple(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            changes.append(Change("-", tuple(a[i1:i2])))
        if op in ("insert", "replace"):
            changes.append(Change("+", tuple(b[j1:j2])))
    return changes


def summary(changes: list[Change]) -> dict[str, int]:
    """Words added and removed (paragraph breaks not counted)."""
    count = {"+": 0, "-": 0}
    for change in changes:
        if change.op in count:
            count[change.op] += sum(1 for w in change.words if w != BREAK)
    return {"added": count["+"], "removed": count["-"]}


def paragraphs(changes: list[Change]) -> Iterator[list[Change]]:
    """The changes cut at paragraph breaks: one list of runs per paragraph of either text."""
    current: list[Change] = []
    for change in changes:
        run: list[str] = []
        for word in change.words:
            if word != BREAK:
                run.append(word)
                continue
            if run:
                current.append(Change(change.op, tuple(run)))
                run = []
            yield current
            current = []
        if run:
            current.append(Change(change.op, tuple(run)))
    if current:
        yield current


def marked(changes: list[Change], only_changed: bool = True) -> list[str]:
    """Paragraphs as text with ``[-removed-]`` and ``{+added+}`` (git's word-diff style);
    `only_changed` leaves out paragraphs where nothing changed."""
    lines = []
    for paragraph in paragraphs(changes):
        if only_changed and all(c.op == "=" for c in paragraph):
            continue
        parts = []
        for change in paragraph:
            text = " ".join(change.words)
            parts.append({"=": text, "-": f"[-{text}-]", "+": f"{{+{text}+}}"}[change.op])
        if parts:
            lines.append(" ".join(parts))
    return lines
