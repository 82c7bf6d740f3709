"""Dates as the sources print them -> ISO 8601 with an offset (IST when the page gives no zone).

Forms handled (sites.md §6):
- ISO 8601, also HTML-entity-escaped inside JSON-LD (``2023-11-02T10:14:29&#x2B;05:30``);
- naive "2020-02-14 21:42:56" (Business Standard JSON-LD; IST);
- RFC 822 ("Fri, 04 Jul 2025 16:12:00 +0530"; RSS pubDate);
- PIB "Posted On: 31 DEC 2019 6:48PM by PIB Delhi" / "प्रविष्टि तिथि: 27 JUL 2026 10:40PM …";
- Webdunia "गुरुवार, 25 सितम्बर 2014 (19:57 IST)": Hindi weekday and month names in every common
  spelling (सितंबर/सितम्बर, फ़रवरी/फरवरी with composed or decomposed nukta), Devanagari digits;
- English "Aug 20, 2025 12:34 IST", "February 14, 2020", "Sat, 28 Nov 2020 01:34 PM (IST)";
- a 14-digit timestamp (ianslive URL "--20250820123412").
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

IST = timezone(timedelta(hours=5, minutes=30), "IST")

# Folded forms (see _fold): nukta, anusvara/half-nasal and vowel-sign variants collapse, so
# सितंबर = सितम्बर and फ़रवरी = फरवरी whatever the page's spelling.
_HINDI_MONTHS = {
    "जनवरी": 1, "फरवरी": 2, "फरबरी": 2, "मार्च": 3, "अप्रैल": 4, "अप्रेल": 4,
    "मई": 5, "जून": 6, "जुलाई": 7, "जुलाइ": 7, "अगस्त": 8, "सितंबर": 9, "सितमबर": 9,
    "अक्टूबर": 10, "अकटूबर": 10, "अक्तूबर": 10, "नवंबर": 11, "नवमबर": 11, "दिसंबर": 12,
    "दिसमबर": 12,
}  # fmt: skip
_EN_MONTHS = {
    m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)
}
_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")


def _fold(text: str) -> str:
    """NFC without nukta, ZWJ/ZWNJ and the virama+म/चन्द्रबिन्दु spelling variants of months."""
    text = unicodedata.normalize("NFD", html.unescape(text))
    text = re.sub("[\u093c\u200b-\u200d\u2060\ufeff]", "", text)  # nukta, zero-width chars
    text = unicodedata.normalize("NFC", text).translate(_DIGITS)
    return text.replace("म्ब", "मब").replace("म्", "ं").replace("ँ", "ं")


_MONTH_WORD = "|".join(sorted(map(_fold, _HINDI_MONTHS), key=len, reverse=True))
_HINDI_DATE = re.compile(
    rf"(\d{{1,2}})\s+({_MONTH_WORD})[,\s]+(\d{{4}})(?:\D{{0,6}}?(\d{{1,2}}):(\d{{2}})(?::(\d{{2}}))?)?"
)
_HINDI_MDY = re.compile(
    rf"({_MONTH_WORD})\s+(\d{{1,2}}),?\s+(\d{{4}})(?:[\s,]+(\d{{1,2}}):(\d{{2}})(?::(\d{{2}}))?\s*([AaPp][Mm])?)?"
)
_EN_DMY = re.compile(
    r"(\d{1,2})[\s-]+([A-Za-z]{3,9})[,\s-]+(\d{4})(?:[\s,T]+(\d{1,2})[:.](\d{2})(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?)?)?"
)
_EN_MDY = re.compile(
    r"([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})(?:[\s,]+(\d{1,2})[:.](\d{2})(?::(\d{2}))?\s*([AaPp]\.?[Mm]\.?)?)?"
)
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?"
)
_STAMP14 = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$")


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def _build(y, mo, d, h=None, mi=None, s=None, ampm=None, tz=IST) -> datetime | None:
    hour, minute, second = int(h or 0), int(mi or 0), int(s or 0)
    if ampm:
        pm = ampm.lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    try:
        return datetime(int(y), int(mo), int(d), hour, minute, second, tzinfo=tz)
    except ValueError:
        return None


def _en_month(word: str) -> int | None:
    return _EN_MONTHS.get(word[:3].lower()) if word[:3].isalpha() else None


def _parse_iso(text: str) -> datetime | None:
    m = _ISO.search(text)
    if not m:
        return None
    y, mo, d, h, mi, s, zone = m.groups()
    tz = IST
    if zone == "Z":
        tz = UTC
    elif zone:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return _build(y, mo, d, h, mi, s, tz=tz)


def parse_date(text: str | None) -> str | None:
    """ISO 8601 with offset for any date form above, or None. Zone-less times are taken as IST."""
    dt = parse_datetime(text)
    return _iso(dt) if dt else None


def parse_datetime(text: str | None) -> datetime | None:
    if not text or not text.strip():
        return None
    folded = _fold(text).strip()
    if m := _STAMP14.match(folded):
        return _build(*m.groups())
    if re.match(r"^\s*\d{4}-\d{2}-\d{2}", folded):
        return _parse_iso(folded)
    rfc822 = r"^[A-Za-z]{3},\s+\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+[\d:]+\s*([+-]\d{4}|[A-Z]{1,3})?$"
    if re.match(rfc822, folded):
        try:  # RFC 822 (RSS pubDate)
            dt = parsedate_to_datetime(folded)
            return dt if dt.tzinfo else dt.replace(tzinfo=IST)
        except (TypeError, ValueError):
            pass
    if m := _HINDI_DATE.search(folded):
        d, month, y, h, mi, s = m.groups()
        return _build(y, _HINDI_MONTHS[month], d, h, mi, s)
    if m := _HINDI_MDY.search(folded):
        month, d, y, h, mi, s, ampm = m.groups()
        return _build(y, _HINDI_MONTHS[month], d, h, mi, s, ampm)
    for regex, order in ((_EN_DMY, "dmy"), (_EN_MDY, "mdy")):
        for m in regex.finditer(folded):
            a, b, y, h, mi, s, ampm = m.groups()
            day, word = (a, b) if order == "dmy" else (b, a)
            if month := _en_month(word):
                return _build(y, month, day, h, mi, s, ampm)
    return _parse_iso(folded)


def has_time_and_zone(text: str) -> bool:
    """Whether a machine date states both a time and a UTC offset (ISO or RFC 822)."""
    folded = _fold(text)
    iso = _ISO.search(folded)
    if iso:
        return bool(iso.group(4) and iso.group(7))
    return bool(re.search(r"\d{1,2}:\d{2}(:\d{2})?\s*([+-]\d{4}|GMT|UTC|IST)\b", folded))


def date_only(iso: str) -> str:
    """Midnight IST of the same calendar day: the value of a date known to the day only."""
    return iso[:10] + "T00:00:00+05:30"
