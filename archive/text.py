"""The seed-file TXT format: names, layout and Unicode normalisation of Hindi text.

A seed file is named ``NNN_<16 hex>.txt`` (NNN: ordinal unique in its folder, at least three
digits; hex: the first 16 hex digits of SHA-256 of the canonical article URL) and holds::

    headline
    <empty line>
    paragraph
    <empty line>
    paragraph

UTF-8 without BOM, Unicode NFC, no trailing spaces, one trailing newline.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

TXT_NAME_RE = re.compile(r"^(\d{3,})_([0-9a-f]{16})\.txt$")

# Invisible characters that carry no meaning in running text. ZWJ/ZWNJ (U+200D/U+200C) are kept:
# inside Devanagari conjuncts they select the half-form and change how a word is written.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\ufeff\u00ad\u2060\u200e\u200f"), None)
_SPACES = re.compile(r"[^\S\n]+")  # every whitespace but newline, incl. NBSP and thin spaces


def url_key(canonical_url: str) -> str:
    """The 16-hex-digit part of a TXT name: SHA-256 of the canonical URL."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:16]


def txt_name(ordinal: int, canonical_url: str) -> str:
    return f"{ordinal:03d}_{url_key(canonical_url)}.txt"


def parse_txt_name(name: str) -> tuple[int, str] | None:
    """``(ordinal, url_key)`` of a seed-format file name, or None for any other name."""
    match = TXT_NAME_RE.match(name)
    return (int(match.group(1)), match.group(2)) if match else None


def normalize(text: str) -> str:
    """NFC, invisible characters removed, every whitespace run folded to one space, stripped.

    NFC leaves the nukta letters (U+0958-U+095F) decomposed (क़ -> क + ़): they are
    composition exclusions, so both spellings of a word end up identical.
    """
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE))
    return _SPACES.sub(" ", text).strip()


def to_seed_txt(title: str, blocks: Iterable[str]) -> bytes:
    """Render a headline and content blocks in the seed layout.

    A block may hold several lines (list items): each line stays on its own line. Empty blocks
    and lines vanish; a block equal to the title is a repeated title and is dropped.
    """
    title = normalize(title)
    if not title:
        raise ValueError("an article needs a headline")
    paragraphs: list[str] = []
    for block in blocks:
        lines = [normalize(line) for line in block.split("\n")]
        lines = [line for line in lines if line]
        if lines and lines != [title]:
            paragraphs.append("\n".join(lines))
    return ("\n\n".join([title, *paragraphs]) + "\n").encode("utf-8")


def from_seed_txt(data: bytes) -> tuple[str, list[str]]:
    """Inverse of :func:`to_seed_txt`: ``(title, blocks)``."""
    text = data.decode("utf-8")
    title, _, body = text.partition("\n\n")
    return title.strip(), [block for block in body.strip("\n").split("\n\n") if block]


def format_errors(data: bytes) -> list[str]:
    """Why ``data`` is not a well-formed seed file (empty when it is)."""
    errors = []
    if data.startswith(b"\xef\xbb\xbf"):
        errors.append("starts with a BOM")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [*errors, f"not UTF-8: {exc}"]
    if not text.endswith("\n") or text.endswith("\n\n"):
        errors.append("must end with exactly one newline")
    if unicodedata.normalize("NFC", text) != text:
        errors.append("not NFC")
    lines = text.split("\n")
    if len(lines) < 3 or not lines[0].strip() or lines[1] != "":
        errors.append("line 1 must be the headline and line 2 empty")
    if any(line != line.strip() for line in lines):
        errors.append("leading or trailing spaces on a line")
    if "\n\n\n" in text:
        errors.append("more than one empty line between blocks")
    return errors
