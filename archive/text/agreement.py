"""Self-check of an extraction: our pruned result against plain trafilatura on the same page.

Our path (the source's container, or the whole pruned page) is cleaner than plain trafilatura
when both find the article, but a container selector that matches the wrong element, or a pruning
rule that removes the block holding the body, loses text silently. Plain ``trafilatura.extract``
on the unpruned page is a second, independent reading; how far the two agree decides:

- ``coverage`` = share of plain's units (whitespace tokens, or characters for scripts written
  without spaces: Japanese, Chinese, Thai, Lao, Khmer, Burmese) that our text also has (multiset
  overlap). Ours dropping plain's teasers, comments and captions lowers it a little; ours
  missing the body lowers it a lot.
- ``choose()``: with ``coverage >= AGREE`` ours is kept as it is ("ours"). With ours empty or
  ``coverage < FALLBACK`` ours read the wrong element (a container selector matching a teaser,
  a pruning rule removing the body's wrapper): plain's blocks are used ("plain"). In between,
  plain's blocks that ours lacks and that sit *between* blocks both readings share are body text
  ours lost (a pruned sub-section): they are put back in plain's order ("merged"); plain's extra
  blocks before the first or after the last shared block stay out (headers, teaser lists and
  comments are where plain goes wrong, and why it scores lower than ours on such pages).
- Either way, plain's first block goes first when it is the page's standfirst (its text is the
  og:/meta description) and ours lacks it.
- Either way, a trailing run of our blocks that plain lacks and that is not running text (teaser
  titles, time stamps, an address footer) is page chrome and is cut (``_trim_tail``).

The figures are plain numbers, recorded in the extraction result (``path``, ``agreement``).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from archive.text.seedfile import no_space_script

AGREE = 0.85  # ours holds this much of plain: the two readings agree
FALLBACK = 0.4  # ours holds less than this much of plain: ours read the wrong element
BLOCK_SHARED = 0.6  # a plain block is shared when this share of its units is in ours

_ZW = re.compile("[\u200b\u200c\u200d\ufeff]")


def units(text: str, chars: bool) -> Counter:
    """Multiset of scoring units: whitespace tokens, or non-space characters."""
    text = _ZW.sub("", unicodedata.normalize("NFC", text))
    return Counter(ch for ch in text if not ch.isspace()) if chars else Counter(text.split())


def coverage(ours: Sequence[str], plain: Sequence[str], chars: bool) -> float:
    """Share of plain's units that ours also has (1.0 when plain found nothing)."""
    plain_u = units("\n".join(plain), chars)
    if not plain_u:
        return 1.0
    return sum((units("\n".join(ours), chars) & plain_u).values()) / sum(plain_u.values())


def choose(
    ours: list[str],
    plain: list[str],
    description: str | None = None,
) -> tuple[list[str], str, float | None]:
    """(blocks, choice, coverage of plain by ours before any change); choice: "ours", "merged"
    (plain's blocks added), "trimmed" (only a chrome tail cut) or "plain".
    ``description``: the page's og:/meta description."""
    if not plain:
        return ours, "ours", None
    chars = no_space_script(" ".join(plain[:20]))
    cover = coverage(ours, plain, chars)
    if not ours or cover < FALLBACK:
        return plain, "plain", cover
    merged = ours if cover >= AGREE else _merge(ours, plain, chars)
    merged = _lead(merged, plain, description)
    trimmed = _trim_tail(merged, plain, chars)
    if merged != ours:
        return trimmed, "merged", cover
    return trimmed, ("trimmed" if trimmed != ours else "ours"), cover


def _merge(ours: list[str], plain: list[str], chars: bool) -> list[str]:
    """Ours with plain's unshared blocks that lie between two shared ones, in plain's order."""
    ours_u = units("\n".join(ours), chars)
    shared = []
    for block in plain:
        u = units(block, chars)
        total = sum(u.values())
        shared.append(bool(total) and sum((u & ours_u).values()) >= BLOCK_SHARED * total)
    if sum(shared) < 2:
        return ours
    first, last = shared.index(True), len(shared) - 1 - shared[::-1].index(True)
    lost = [not shared[i] and first < i < last for i in range(len(plain))]
    # A lost block comes back when it is a sentence, or the heading of a lost sentence; a lone
    # line without a full stop between shared blocks is a teaser ours dropped on purpose.
    back = [lost[i] and _comes_back(plain, i, lost) for i in range(len(plain))]
    out = list(ours)
    anchor = None  # index in out after which the next inserted block goes
    for i in range(first, last + 1):
        if shared[i]:
            anchor = _position(out, plain[i], chars)
        elif back[i] and anchor is not None:
            out.insert(anchor + 1, plain[i])
            anchor += 1
    return out


_SENTENCE_END = re.compile(r"[.!?\u0964\u0965\u3002\uff01\uff1f\u061f\u06d4][\"'\u201d\u2019)\]]*$")


def is_sentence(block: str) -> bool:
    """A block that ends like running text (".", "।", "。", "?" ...), possibly after a quote;
    not a trailing ellipsis ("click here for the video..." is a teaser)."""
    block = block.strip()
    return bool(_SENTENCE_END.search(block)) and not block.rstrip("\"'\u201d\u2019)]").endswith(
        ("..", "\u2026")
    )


def is_prose(blocks: Sequence[str]) -> bool:
    """Whether blocks read as running text (sentence-ending paragraphs), not a list of link
    titles: plain trafilatura's reading of a listing page must not become an article."""
    ending = [b for b in blocks if is_sentence(b)]
    return sum(len(b) for b in ending) >= 150 and len(ending) >= 0.2 * len(blocks)


def _lead(ours: list[str], plain: list[str], description: str | None) -> list[str]:
    """Plain's first block goes first when it is the page's standfirst (its text is the page
    description, which may be cut short with "...") and ours lacks it."""
    desc = _key(description or "").rstrip(".…")
    if len(desc) < 40 or not plain or not ours:
        return ours
    first = _key(plain[0])
    if first.startswith(desc) and len(first) <= 1.5 * len(desc) + 3:
        if not any(_key(b).startswith(first[: len(desc)]) for b in ours):
            return [plain[0], *ours]
    return ours


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _trim_tail(ours: list[str], plain: list[str], chars: bool) -> list[str]:
    """Ours without a trailing run of blocks that plain does not have and that is not running
    text (mostly lines without a full stop: "Other news", teaser titles, time stamps, an address
    footer): page chrome after the article that our whole-page reading kept."""
    plain_u = units("\n".join(plain), chars)
    end = len(ours)
    while end and _share(ours[end - 1], plain_u, chars) < BLOCK_SHARED:
        end -= 1
    tail = ours[end:]
    if not tail or end == 0 or sum(map(is_sentence, tail)) >= 0.5 * len(tail):
        return ours
    return ours[:end]


def _share(block: str, other: Counter, chars: bool) -> float:
    u = units(block, chars)
    total = sum(u.values())
    return sum((u & other).values()) / total if total else 1.0


def _comes_back(plain: list[str], i: int, lost: list[bool]) -> bool:
    following = i + 1 < len(plain) and lost[i + 1] and is_sentence(plain[i + 1])
    return is_sentence(plain[i]) or following


def _position(blocks: list[str], block: str, chars: bool) -> int | None:
    """Index of the block of ``blocks`` that shares the most units with ``block``."""
    u = units(block, chars)
    best, best_n = None, 0
    for i, b in enumerate(blocks):
        n = sum((units(b, chars) & u).values())
        if n > best_n:
            best, best_n = i, n
    return best
