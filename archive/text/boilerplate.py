"""Gold-policy cleaning of extracted text blocks (tests/corpus/README.md, "Gold policy").

Rules match whole blocks or whole lines, never words inside a sentence: "--आईएएनएस" alone on a
line is a sign-off, "told IANS" inside a paragraph is content. Source specs add their own patterns
(``extract.boilerplate``) on top of the shared ones here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from archive.text.seedfile import devanagari_ratio, no_space_script, normalize

_DEV = "\u0900-\u097f"

_MONTH = ("जनवरी|फ़रवरी|फरवरी|मार्च|अप्रैल|अप्रेल|मई|जून|जुलाई|अगस्त|सितंबर|सितम्बर|अक्टूबर|अक्तूबर"
          "|नवंबर|नवम्बर|दिसंबर|दिसम्बर")  # fmt: skip
_WEEKDAY = "सोमवार|मंगलवार|बुधवार|गुरुवार|बृहस्पतिवार|शुक्रवार|शनिवार|रविवार"

# Headings of boxes that are not article text as a whole: the heading and everything under it
# (a "Highlights"/"Quick Take" bullet list, a related-stories list) go together.
WIDGET_HEADING = re.compile(
    r"(?i)(highlights|key highlights|story highlights|quick take|मुख्य बातें|खास बातें|ख़ास बातें"
    r"|हाइलाइट्स|(ये|यह) भी पढ़ें|also read|read also|related (news|stories)"
    r"|(सम्बंधित|संबंधित) (जानकारी|खबरें|ख़बरें|लेख)|(जरूर|ज़रूर) पढ़ें|टॉप स्टोरीज़?)\s*[:\-\u2013]*"
)

# Each pattern must match a whole (normalized) line.
SHARED = (
    # ad labels
    r"(?i)(विज्ञापन|advertisements?|advertisments?|advertiesments?|sponsored|ads by .*)",
    # related-story headings and list labels
    r"(ये|यह|इसे|इन्हें|इन्हे) भी पढ़ें?(\s*[:\uff1a\-\u2013\u2014]+.*)?",
    r"(?i)(also read|read also|read more|related (news|stories)|latest news|most read)"
    r"(\s*[:\-\u2013]+.*)?",
    r"(सम्बंधित|संबंधित) (जानकारी|खबरें|ख़बरें|खबर|ख़बर|लेख)\s*[:\-]*",
    r"(जरूर|ज़रूर) पढ़ें\s*[:\-]*.*",
    r"(नवीनतम|सभी देखें|अगला लेख|पिछला लेख|टॉप स्टोरीज़?|ट्रेंडिंग)\s*[:\-]*",
    r"(?i)featured video of the day.*",
    r"देखें\s*(video|वीडियो)\s*[:\-]*.*",
    # disclaimers (also an agency signal, see agency_from_blocks)
    r"\(?\s*(डिस्क्लेमर|disclaimer)\s*[:ःः\-].*",
    r"\(?\s*हेडलाइन के अलावा.*",
    r"(?i)\(?\s*except for the headline, this story has not been edited.*",
    # widgets, bylines and reading aids
    r"(?i)read time\s*:?.*",
    r"(?i)(author-image|new update|show comments|notifications|select your language)",
    r"(?i)(end of (the )?(article|story)|follow us( on)?( social media| \w+( and \w+)?)?"
    r"|(लेख|खबर|ख़बर) (समाप्त|खत्म))\s*[:.!]*",
    r"(?i)this article is from .{3,30}",
    r"(टिप्पणियां|टिप्पणियाँ|कृपया टिप्पणी करने के लिए.*|ख़बर सुनें|खबर सुनें|हमें फॉलो करें.*)",
    r"(?i)(quick take|summary is ai generated.*)",
    r"(?i)(कॉपी लिंक|copy link|शेयर करें|share|share this|tweet|print|प्रिंट)\s*[:]*",
    r"(?i)(©|\(c\)|copyright)\s*.{0,80}",
    r"(?i)(keywords?|tags?|टैग्स?|टैग|विषय)\s*:.*",
    # a short line that is mostly a date: page headers, "name / city February 14, 2020" bylines
    r"(?i)(?!.*[.।?]$)[^.।]{0,60}\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
    r" \d{1,2}, \d{4}.{0,30}",
    r"(?i)(?!.*[.।?]$).{0,60}\b(updated|published|posted|publish date|अपडेटेड|प्रकाशित)\s*:?"
    r"\s*.{0,30}\d{4}.{0,25}",
    # the same in Hindi: "बुधवार, 7 अक्टूबर 2020 (15:57 IST)" (weekday or clock time required)
    rf"(?!.*[।?]$)[^।]{{0,40}}({_WEEKDAY}),?\s*\d{{1,2}}\s+({_MONTH}),?\s+\d{{4}}[^।]{{0,30}}",
    rf"(?!.*[।?]$)[^।]{{0,40}}\d{{1,2}}\s+({_MONTH}),?\s+\d{{4}},?\s*\(?\d{{1,2}}:\d{{2}}[^।]{{0,20}}",
    r"(?i)(डाउनलोड करें|download).{0,40}(app|एप|ऐप).{0,60}",
    r"(?i)\(?\s*(source|photo credit|photo|image|pic|फोटो|तस्वीर)\s*:[^()]{0,60}\)?"
    r"(\s*\([^()]{0,60}\))*",
    r"(?i)(written|edited|updated|posted|published|reported) (by|on)\b.{0,80}",
    # PIB release furniture (English and Hindi labels)
    r"(?i)(posted on|प्रविष्टि तिथि)\s*:.*",
    r"(?i)\(?\s*(release id|रिलीज़ आईडी|रिलीज आईडी)\s*:?\s*\d+\s*\)?.*",
    r"(?i)(visitor counter|आगंतुक पटल)\s*:.*",
    r"(?i)(read this release in|इस विज्ञप्ति को इन भाषाओं में पढ़ें)\s*:?.*",
    # sign-offs and desk/staff initials: "--आईएएनएस", "डीएससी/", "VRRK/SH/BM", "sk/as", "***"
    rf"[-\u2013\u2014]{{1,3}}\s*[A-Za-z{_DEV}]{{2,12}}\s*[-\u2013\u2014]?",
    rf"[{_DEV}]{{1,8}}(\s*/\s*[{_DEV}]{{1,8}})*\s*/?",
    r"[A-Za-z]{1,6}(\s*/\s*[A-Za-z]{1,6})+\s*/?",
    r"[*\-\u2013\u2014_=•·.~#]{3,}",
)
# A staff-initials block must contain a slash (otherwise a one-word Hindi line would match).
_HINDI_INITIALS = SHARED.index(rf"[{_DEV}]{{1,8}}(\s*/\s*[{_DEV}]{{1,8}})*\s*/?")
_INITIALS = re.compile(SHARED[_HINDI_INITIALS])

# A short lead ending in ":" or "।" that stands alone is a dateline ("नई दिल्ली:", "वाराणसी।"): it
# belongs to the paragraph that follows.
_DATELINE = re.compile(rf"^[{_DEV}A-Za-z][{_DEV}A-Za-z .,\-]{{1,40}}(\d{{1,2}} [^\s]+)?[:।]$")


@lru_cache(maxsize=64)
def _patterns(extra: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in (*SHARED, *extra))


_LEADING_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")


@lru_cache(maxsize=64)
def _alternation(extra: tuple[str, ...]) -> re.Pattern[str] | None:
    """The patterns but the staff initials as one alternation: one match attempt per line
    instead of forty. None when a pattern has a backreference (it would point at another
    group of the alternation): the patterns are then tried one by one."""
    patterns = [p for i, p in enumerate((*SHARED, *extra)) if i != _HINDI_INITIALS]
    if any(re.search(r"\\[1-9]|\(\?P=", p) for p in patterns):
        return None
    # A leading global flag ("(?i)...") is scoped to its own alternative: "(?i:...)".
    scoped = (
        f"(?{m[1]}:{p[m.end() :]})" if (m := _LEADING_FLAGS.match(p)) else p for p in patterns
    )
    return re.compile("|".join(f"(?:{p})" for p in scoped))


def is_boilerplate_line(line: str, extra: Sequence[str] = ()) -> bool:
    line = normalize(line)
    if not line:
        return True
    if (alternation := _alternation(tuple(extra))) is None:
        return any(
            pattern.fullmatch(line) and (i != _HINDI_INITIALS or "/" in line)
            for i, pattern in enumerate(_patterns(tuple(extra)))
        )
    return bool(alternation.fullmatch(line) or ("/" in line and _INITIALS.fullmatch(line)))


def clean_blocks(
    blocks: Iterable[str], title: str | None = None, extra: Sequence[str] = ()
) -> list[str]:
    """Drop boilerplate lines and blocks, title copies and duplicates; merge lone datelines."""
    title_key = _loose(title or "")
    out: list[str] = []
    seen: set[str] = set()
    for block in blocks:
        lines = [normalize(line) for line in block.split("\n")]
        lines = [line for line in lines if line and not is_boilerplate_line(line, extra)]
        text = "\n".join(lines)
        key = text.casefold()
        if not text or _loose(text) == title_key or key in seen:
            continue
        seen.add(key)
        out.append(text)
    return _merge_datelines(out)


def is_title_copy(block: str, title: str | None) -> bool:
    return bool(title) and _loose(block) == _loose(title or "")


def _loose(text: str) -> str:
    """Comparison key for title copies: case, spaces and punctuation ignored ("पकड़ा:दो")."""
    return re.sub(
        r"[\s:;,.!?।|'\"\u2018\u2019\u201c\u201d\-\u2013\u2014]+", "", normalize(text).casefold()
    )


def _merge_datelines(blocks: list[str]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if out and _DATELINE.match(out[-1]) and "\n" not in out[-1]:
            out[-1] = f"{out[-1]} {block}"
        else:
            out.append(block)
    if out and _DATELINE.match(out[-1]):
        out.pop()  # a dateline with nothing after it is a stray label
    return out


def trim_chrome(blocks: list[str], title: str | None = None) -> list[str]:
    """Page chrome left at either end of a whole-page extraction: one-word crumbs ("होम",
    "खबर") and, on a Hindi page, Latin-only lines (slug titles, "best viewed with…" footers)."""
    # The headline tells the page language; long English footers would outweigh the body.
    hindi = devanagari_ratio(title or " ".join(blocks)) >= 0.5

    def chrome(block: str) -> bool:
        if _DATELINE.match(block):
            return False
        # One whitespace token is a crumb, unless the script has no spaces (a Japanese sentence).
        one_word = len(block.split()) <= 1 and not (len(block) >= 8 and no_space_script(block))
        return one_word or (hindi and devanagari_ratio(block) == 0)

    start, end = 0, len(blocks)
    while start < end and chrome(blocks[start]):
        start += 1
    while end > start and chrome(blocks[end - 1]):
        end -= 1
    return blocks[start:end]


def find_agency(texts: Iterable[str], agencies: dict[str, list[str]]) -> str | None:
    """Agency named by a dateline "(आईएएनएस)", a sign-off "--IANS", a trailing "(भाषा)" or a
    disclaimer; ``texts`` are raw blocks (before cleaning) and byline values."""
    for text in texts:
        text = normalize(text)
        for name, spellings in agencies.items():
            alt = "|".join(re.escape(s) for s in spellings)
            if re.search(rf"\(\s*({alt})\s*\)\s*[।.]?", text) or re.fullmatch(
                rf"[-\u2013\u2014]{{0,3}}\s*({alt})\s*", text
            ):
                return name
            if re.match(r"\(?\s*(डिस्क्लेमर|disclaimer|हेडलाइन के अलावा)", text, re.I) and re.search(
                rf"(?<![{_DEV}\w])({alt})(?![{_DEV}\w])", text
            ):
                return name
    return None
