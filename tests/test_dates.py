"""archive.text.dates: every date form the sources print -> ISO 8601 with offset."""

from __future__ import annotations

import unicodedata

import pytest

from archive.text.dates import date_only, has_time_and_zone, parse_date

NUKTA_PH = "फ\u093cरवरी"  # फ़ decomposed
COMPOSED_PH = unicodedata.normalize("NFC", "फ़रवरी")


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Posted On:\n   31 DEC 2019 6:48PM by PIB Delhi", "2019-12-31T18:48:00+05:30"),
        ("प्रविष्टि तिथि: 27 JUL 2026 10:40PM by PIB Delhi", "2026-07-27T22:40:00+05:30"),
        ("Posted On: 05 MAY 2025 12:05AM by PIB Mumbai", "2025-05-05T00:05:00+05:30"),
        ("2023-11-02T10:14:29&#x2B;05:30", "2023-11-02T10:14:29+05:30"),
        ("2023-04-28T20:14:00+05:30", "2023-04-28T20:14:00+05:30"),
        ("2019-12-31T13:18:00Z", "2019-12-31T13:18:00+00:00"),
        ("Fri, 04 Jul 2025 16:12:00 +0530", "2025-07-04T16:12:00+05:30"),
        ("गुरुवार, 25 सितम्बर 2014 (19:57 IST)", "2014-09-25T19:57:00+05:30"),
        ("गुरुवार, 25 सितंबर 2014 (19:57 IST)", "2014-09-25T19:57:00+05:30"),
        ("Last Updated : बुधवार, 7 मई 2025 (16:05 IST)", "2025-05-07T16:05:00+05:30"),
        (f"शुक्रवार, 7 {NUKTA_PH} 2020 (09:05 IST)", "2020-02-07T09:05:00+05:30"),
        (f"शुक्रवार, 7 {COMPOSED_PH} 2020 (09:05 IST)", "2020-02-07T09:05:00+05:30"),
        ("शुक्रवार, 7 फरवरी 2020 (09:05 IST)", "2020-02-07T09:05:00+05:30"),
        ("रविवार, 3 नवम्बर 2019 (10:00 IST)", "2019-11-03T10:00:00+05:30"),
        ("रविवार, 3 नवंबर 2019 (10:00 IST)", "2019-11-03T10:00:00+05:30"),
        ("मंगलवार, 31 दिसम्बर 2019", "2019-12-31T00:00:00+05:30"),
        ("बुधवार, ७ अक्टूबर २०२० (१५:५७ IST)", "2020-10-07T15:57:00+05:30"),  # Devanagari digits
        ("बुधवार, 7 अक्\u200dटूबर 2020", "2020-10-07T00:00:00+05:30"),  # ZWJ inside the month
        ("बुधवार, 7 अक्\u200cटूबर 2020", "2020-10-07T00:00:00+05:30"),  # ZWNJ inside the month
        ("अपडेटेड: जून 01, 2023 9:47 PM IST", "2023-06-01T21:47:00+05:30"),
        ("2020-02-14 21:42:56", "2020-02-14T21:42:56+05:30"),  # Business Standard JSON-LD
        ("Aug 20, 2025 12:34 IST", "2025-08-20T12:34:00+05:30"),
        ("February 14, 2020", "2020-02-14T00:00:00+05:30"),
        ("Publish Date:Sat, 28 Nov 2020 01:34 PM (IST)", "2020-11-28T13:34:00+05:30"),
        ("20250820123412", "2025-08-20T12:34:12+05:30"),  # ianslive URL stamp
    ],
)
def test_parse_date(text, iso):
    assert parse_date(text) == iso


@pytest.mark.parametrize("text", [None, "", "garbage", "31 FOO 2019", "2019-13-45"])
def test_unparsable(text):
    assert parse_date(text) is None


def test_zone_and_day_precision():
    assert has_time_and_zone("2023-11-02T10:14:29+05:30")
    assert has_time_and_zone("Fri, 04 Jul 2025 16:12:00 +0530")
    assert not has_time_and_zone("2020-02-14 21:42:56")
    assert date_only("2020-02-14T21:42:56+05:30") == "2020-02-14T00:00:00+05:30"
