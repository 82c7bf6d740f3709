"""The seed TXT format and Hindi text normalisation (pure functions)."""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from pathlib import Path

import pytest

from archive.text import boilerplate
from archive.text.seedfile import (
    TXT_NAME_RE,
    WHITESPACE,
    devanagari_ratio,
    format_errors,
    from_seed_txt,
    normalize,
    normalize_head,
    parse_txt_name,
    to_seed_txt,
    txt_name,
    url_key,
)

SEEDS = sorted((Path(__file__).parent / "seeds").glob("*.txt"))
ZWJ, ZWNJ = "\u200d", "\u200c"


def test_nukta_letters_compare_equal_in_both_spellings():
    precomposed = "\u0958ानून"  # क़ानून with the one-code-point क़ (U+0958)
    decomposed = "\u0915\u093c" + "ानून"  # क + ़
    assert (
        normalize(precomposed) == normalize(decomposed) == unicodedata.normalize("NFC", decomposed)
    )
    # U+0958 is a composition exclusion: NFC keeps it decomposed.
    assert "\u0958" not in normalize(precomposed)


def test_zwj_and_zwnj_are_kept_other_invisibles_go():
    word = f"क्{ZWJ}ष कर्{ZWNJ}म"
    assert normalize(word) == word
    assert normalize("रक्षा\u200bमंत्री\ufeff") == "रक्षामंत्री"


def test_devanagari_digits_and_danda_survive():
    text = "०५ मई २०२५ को बैठक हुई।"
    assert normalize(text) == text


def test_whitespace_is_folded():
    assert normalize("  नई\u00a0\u00a0दिल्ली:\t बैठक  ") == "नई दिल्ली: बैठक"


def test_seed_layout():
    data = to_seed_txt(
        "शीर्षक",
        ["शीर्षक", "पहला  अनुच्छेद ", "", "सूची एक\nसूची दो", "अंतिम\u200b पंक्ति।"],
    )
    assert data == "शीर्षक\n\nपहला अनुच्छेद\n\nसूची एक\nसूची दो\n\nअंतिम पंक्ति।\n".encode()
    assert format_errors(data) == []
    assert from_seed_txt(data) == ("शीर्षक", ["पहला अनुच्छेद", "सूची एक\nसूची दो", "अंतिम पंक्ति।"])


def test_a_headline_is_required():
    with pytest.raises(ValueError):
        to_seed_txt("  ", ["body"])


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("\ufeffशीर्षक\n\nपाठ\n".encode(), "BOM"),
        ("शीर्षक\n\nपाठ".encode(), "newline"),
        ("शीर्षक\n\nपाठ\n\n".encode(), "newline"),
        ("शीर्षक\nपाठ\n".encode(), "headline"),
        ("शीर्षक\n\nपाठ \n".encode(), "spaces"),
        ("शीर्षक\n\n\n\nपाठ\n".encode(), "empty line"),
        # न + nukta composes to U+0929 under NFC (unlike क़, a composition exclusion)
        ("शीर्षक\n\nतमि\u0928\u093c\n".encode(), "NFC"),
        (b"\xff\xfe\n\n", "UTF-8"),
    ],
)
def test_format_errors_name_the_problem(data, problem):
    assert any(problem in error for error in format_errors(data))


def test_names():
    url = "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127135"
    assert url_key(url) == hashlib.sha256(url.encode()).hexdigest()[:16]
    assert txt_name(7, url) == f"007_{url_key(url)}.txt"
    assert txt_name(1234, url).startswith("1234_")
    assert parse_txt_name(txt_name(42, url)) == (42, url_key(url))
    assert parse_txt_name("42_abc.txt") is None


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_seed_names_define_the_naming(seed):
    # The seeds' content is noisy (one starts with its ministry line): only names are checked.
    assert TXT_NAME_RE.match(seed.name)
    assert parse_txt_name(seed.name)[0] == SEEDS.index(seed)


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        ("हिंदी", 1.0),  # ि and ं are signs, not letters: ह, द count
        ("क़ानून abc", 3 / 6),  # a nukta letter counts once, its vowel signs not at all
        ("१२३ । ॥ 123", 0.0),  # Devanagari digits and dandas are not letters
        ("", 0.0),
        ("ab\u200dक", 1 / 3),  # ZWJ is not a letter
    ],
)
def test_devanagari_ratio_counts_letters_only(text, ratio):
    assert devanagari_ratio(text) == pytest.approx(ratio)


@pytest.mark.parametrize("size", [1, 5, 17, 100])
def test_normalize_head_is_the_head_of_normalize(size):
    text = ("  क़\u093c  \u00a0 a\u200b b\t\n" + "ह\u200dि " * 7 + "  ") * 9
    for cut in range(len(text)):
        assert normalize_head(text[:cut], size) == normalize(text[:cut])[:size]


def test_whitespace_is_every_space_but_newline():
    expected = {ch for ch in map(chr, range(sys.maxunicode + 1)) if ch.isspace() and ch != "\n"}
    assert set(WHITESPACE) == expected and len(WHITESPACE) == len(expected)


@pytest.mark.parametrize(
    "text", ["a  b", "a\u00a0b", " a \n b ", "a\t\u2009 b", "a \u200b b", "क़ \u3000\u3000 ख\n\n"]
)
def test_normalize_folds_whitespace_runs_but_not_newlines(text):
    reference = re.sub(r"[^\S\n]+", " ", unicodedata.normalize("NFC", text.replace("\u200b", "")))
    assert normalize(text) == reference.strip()


@pytest.mark.parametrize(
    "extra",
    [(), ("^देखें\\s*(Video|वीडियो)\\s*:?.*$",), ("(?i)^(written|edited)\\s+by\\b.*$",),
     ("(ab)\\1",)],
)  # fmt: skip
def test_boilerplate_alternation_matches_as_the_patterns_one_by_one(extra):
    """One alternation of all patterns (leading flags scoped, staff initials still needing a
    slash) says what trying them one by one says."""
    lines = ["ये भी पढ़ें: ख़बर", "ADVERTISEMENT", "डीएससी/एबीएम", "डीएससी", "VRRK/SH/BM", "***",
             "--आईएएनएस", "बुधवार, 7 अक्टूबर 2020 (15:57 IST)", "Written By Ram", "WRITTEN BY x",
             "देखें वीडियो: x", "abab", "सरकार ने आज नई योजना की घोषणा की।", "Tags: a, b"]  # fmt: skip
    for line in lines:
        text, patterns = normalize(line), boilerplate._patterns(extra)
        expected = any(
            pattern.fullmatch(text) and (i != boilerplate._HINDI_INITIALS or "/" in text)
            for i, pattern in enumerate(patterns)
        )
        assert boilerplate.is_boilerplate_line(line, extra) == expected, line
    verdicts = {boilerplate.is_boilerplate_line(line, extra) for line in lines}
    assert verdicts == {True, False}
    assert boilerplate.is_boilerplate_line("abab", extra) == ("(ab)\\1" in extra)
