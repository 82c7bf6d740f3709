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

import codecs
import hashlib
import re
import unicodedata
from collections.abc import Iterable

TXT_NAME_RE = re.compile(r"^(\d{3,})_([0-9a-f]{16})\.txt$")

# Invisible characters that carry no meaning in running text. ZWJ/ZWNJ (U+200D/U+200C) are kept:
# inside Devanagari conjuncts they select the half-form and change how a word is written.
# A regex, not str.translate: translate looks every character of a Devanagari text up in a dict,
# 20 times slower on a whole page.
INVISIBLE = "\u200b\ufeff\u00ad\u2060\u200e\u200f"
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
# Every whitespace character but newline (str.isspace: NBSP and thin spaces too; checked by a
# test), spelled out: a run of two or more, or a single one that is not a plain space. A lone " "
# is left where it is instead of being replaced by itself (most matches in a text), so short
# texts normalize twice as fast as with r"[^\S\n]+".
WHITESPACE = (
    "\t\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPACES = re.compile(f"[{WHITESPACE}]{{2,}}|[{WHITESPACE.replace(' ', '')}]")


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
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    return _SPACES.sub(" ", text).strip()


def normalize_head(text: str, size: int) -> str:
    """``normalize(text)[:size]`` without normalizing the rest of a long text: ever longer raw
    prefixes until the normalized one is longer than ``size``, so that the cut (a whitespace run
    or a combining mark split at it) cannot reach the characters kept."""
    raw = 2 * size
    while True:
        head = normalize(text[:raw])
        if len(head) > size + 1 or raw >= len(text):
            return head[:size]
        raw *= 2


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


# --- for archive.text.extract: decoding fetched bytes and telling Hindi from English ---------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)


_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


# The letters of the Devanagari block (its vowel signs, digits and dandas are not letters), as
# one character class: counted by the regex engine rather than a Python loop per character
# (this runs over whole pages).
_DEVANAGARI_LETTER = re.compile(
    "[" + "".join(ch for ch in map(chr, range(0x900, 0x980)) if ch.isalpha()) + "]"
)


def devanagari_ratio(text: str) -> float:
    """Share of Devanagari among the letters of ``text`` (0.0 when it has no letters)."""
    letters = sum(map(str.isalpha, text))
    return len(_DEVANAGARI_LETTER.findall(text)) / letters if letters else 0.0


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Bytes -> text via a byte-order mark, the HTTP charset, ``<meta charset>``, then UTF-8.

    A declared charset can be wrong (UTF-8 pages labelled windows-1252, or UTF-8 read as CP866
    giving "рд╡рд┐…"): when the page also decodes as strict UTF-8 and that reading holds more
    Devanagari, UTF-8 wins.
    """
    # A byte-order mark wins over every declaration (as in the HTML standard's sniffing).
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace")
    declared = []
    if content_type and (match := _HTTP_CHARSET.search(content_type)):
        declared.append(match.group(1))
    if match := _META_CHARSET.search(body[:4096]):
        declared.append(match.group(1).decode("ascii", "ignore"))
    try:
        as_utf8: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        as_utf8 = None
    for charset in declared:
        if as_utf8 is not None and _is_utf8(charset):
            return as_utf8  # decoded already
        try:
            text = body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
        if as_utf8 is not None and as_utf8 != text:
            if devanagari_ratio(as_utf8) > devanagari_ratio(text):
                return as_utf8
        return text
    return as_utf8 if as_utf8 is not None else body.decode("utf-8", errors="replace")


def _is_utf8(charset: str) -> bool:
    try:
        return codecs.lookup(charset).name == "utf-8"
    except LookupError:
        return False


# Scripts written without spaces between words (Japanese, Chinese, Thai, Lao, Burmese, Khmer):
# a whitespace token there is a whole clause, so they are compared by characters.
_NO_SPACE = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f\u0e80-\u0eff"
    r"\u1000-\u109f\u1780-\u17ff]"
)


def no_space_script(text: str) -> bool:
    """True when a fifth or more of the letters are CJK/Thai/Lao/Khmer/Burmese."""
    letters = sum(map(str.isalpha, text))
    return bool(letters) and len(_NO_SPACE.findall(text)) >= 0.2 * letters


def detect_language(text: str) -> str | None:
    """ "hi" for mostly-Devanagari text, "en" for mostly-Latin text, None for neither.

    Marathi and other Devanagari languages also read as "hi": telling them apart needs a word
    model, and every source in scope publishes Hindi in Devanagari.
    """
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    ratio = devanagari_ratio(text)
    if ratio >= 0.5:
        return "hi"
    latin = sum(1 for ch in letters if ch.isascii())
    return "en" if latin / len(letters) >= 0.5 else None
