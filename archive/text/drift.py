"""Drift: has a source's extraction fallen far below its own recent history?

A site that changes its template rarely breaks a crawl outright: the container selector stops
matching, the extractor falls back to the whole page, texts get shorter or lose their dates, and
the crawl goes on "succeeding" for days (Common Crawl's news crawler once stalled 1.5 days before
anyone noticed). So every run counts a few figures of its extraction (:class:`RunQuality`), the
run report keeps them (``quality``), and :func:`judge` compares this run's figures with the
median of the same source's recent runs (:func:`load_history`, from the reports in the store).

The rules (:data:`RULES`, thresholds in :class:`Rules`); a figure is judged only when this run
and at least ``min_runs`` of the last ``runs`` history runs each have ``min_count`` articles (or
pages, for the page rates), otherwise that rule gives no verdict:

- container-match rate (share of article pages read inside the source's container selector)
  more than ``rate_drop`` (30 points) below the history median;
- median text length of the article pages below ``length_ratio`` (half) of the history median;
- title or date found rate more than ``found_drop`` (20 points) below the history median;
- non-article rate (fetched pages the extractor ruled out) more than ``rate_rise`` (30 points),
  or soft-404 rate more than ``soft_404_rise`` (20 points), above the history median.

The fallback rate (page/plain paths) and the author found rate are recorded, not judged: the
first is the complement of the container-match rate, and bylines come and go with the copy.
A run that drifted (its report says ``drift.status: "drift"``) or failed otherwise (``ok: false``)
does not become history, so the alarm stays on until the source is fixed instead of fading as
broken runs fill the window.

No Scrapy here: the extension (crawler/extensions/drift.py) only feeds it.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

logger = logging.getLogger(__name__)

# The default run id: <YYYYmmddTHHMMSSZ>-<source>-<6 hex> (crawler/extensions/runreport.py).
_RUN_ID = re.compile(r"^\d{8}T\d{6}Z-(?P<source>.+)-[0-9a-f]{6}\.json$")


@dataclass(frozen=True)
class Rules:
    runs: int = 10  # history: the last N runs of the source that had enough pages
    days: int = 30  # ... looked for in at most this many days of reports, newest first
    reads: int = 50  # ... reading at most this many of the source's reports (small runs skipped)
    min_runs: int = 3  # fewer such runs: no verdict
    min_count: int = 5  # articles (pages for the page rates) a run needs to count
    rate_drop: float = 0.30  # container-match rate: points below the history median
    found_drop: float = 0.20  # title / date found rate: points below the history median
    length_ratio: float = 0.5  # median text length: share of the history median
    rate_rise: float = 0.30  # non-article rate: points above the history median
    soft_404_rise: float = 0.20  # soft-404 rate: points above the history median


@dataclass(frozen=True)
class Rule:
    figure: str  # key in the quality figures
    label: str  # how the reason names it
    base: str  # the count the rate is of: "articles" or "pages"
    kind: str  # "drop" (points below), "rise" (points above), "ratio" (share of)
    threshold: str  # attribute of Rules


RULES = (
    Rule("container_match_rate", "container-match rate", "articles", "drop", "rate_drop"),
    Rule("median_chars", "median text length", "articles", "ratio", "length_ratio"),
    Rule("title_rate", "title found rate", "articles", "drop", "found_drop"),
    Rule("date_rate", "date found rate", "articles", "drop", "found_drop"),
    Rule("non_article_rate", "non-article rate", "pages", "rise", "rate_rise"),
    Rule("soft_404_rate", "soft-404 rate", "pages", "rise", "soft_404_rise"),
)


def page_figures(result: Any) -> dict:
    """What drift needs of one page's extraction (an archive.text.extract.Extraction): small enough
    to ride on the item after the page and its text are gone."""
    return {
        "path": result.path,
        "chars": sum(len(block) for block in result.blocks),
        "title": bool(result.title),
        "date": bool(result.published),
        "author": bool(result.author),
        "reason": result.reason,
    }


@dataclass
class RunQuality:
    """A run's extraction figures, page by page (:func:`page_figures` dicts)."""

    pages: int = 0  # pages the extractor read
    articles: int = 0  # of them, taken for articles (got past the non-article rules)
    container: int = 0  # articles read inside the source's container ("container…" paths)
    fallback: int = 0  # articles read from the whole page or by plain trafilatura
    titles: int = 0
    dates: int = 0
    authors: int = 0
    non_articles: int = 0  # pages ruled out as non-articles, soft 404s included
    soft_404: int = 0
    lengths: list[int] = field(default_factory=list)

    def add(self, page: dict) -> None:
        self.pages += 1
        if page["path"] is None:  # ruled out before any text was read
            self.non_articles += 1
            self.soft_404 += (page["reason"] or "").startswith("soft 404")
            return
        self.articles += 1
        if page["path"].startswith("container"):
            self.container += 1
        else:
            self.fallback += 1
        self.titles += page["title"]
        self.dates += page["date"]
        self.authors += page["author"]
        self.lengths.append(page["chars"])

    def figures(self) -> dict:
        def share(n: int, of: int) -> float | None:
            return round(n / of, 3) if of else None

        articles, pages = self.articles, self.pages
        return {
            "pages": pages,
            "articles": articles,
            "container": self.container,
            "fallback": self.fallback,
            "titles": self.titles,
            "dates": self.dates,
            "authors": self.authors,
            "non_articles": self.non_articles,
            "soft_404": self.soft_404,
            "container_match_rate": share(self.container, articles),
            "fallback_rate": share(self.fallback, articles),
            "median_chars": statistics.median(self.lengths) if self.lengths else None,
            "title_rate": share(self.titles, articles),
            "date_rate": share(self.dates, articles),
            "author_rate": share(self.authors, articles),
            "non_article_rate": share(self.non_articles, pages),
            "soft_404_rate": share(self.soft_404, pages),
        }


@dataclass
class Verdict:
    status: str  # "drift", "ok" or "no verdict"
    reasons: list[str] = field(default_factory=list)
    baseline: dict[str, float] = field(default_factory=dict)  # figure -> history median
    history_runs: int = 0  # history runs the judged figures came from (the most of any rule)

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "reasons": list(self.reasons),
            "baseline": dict(self.baseline),
            "history_runs": self.history_runs,
        }


def judge(current: dict, history: Iterable[dict], rules: Rules = Rules()) -> Verdict:
    """This run's figures against the history's (quality dicts, newest first)."""
    history = list(history)
    verdict = Verdict("no verdict")
    for rule in RULES:
        value = current.get(rule.figure)
        if not _number(value) or _count(current, rule.base) < rules.min_count:
            continue
        past = [
            h[rule.figure]
            for h in history
            if _number(h.get(rule.figure)) and _count(h, rule.base) >= rules.min_count
        ][: rules.runs]
        if len(past) < rules.min_runs:
            continue
        median = statistics.median(past)
        verdict.baseline[rule.figure] = median
        verdict.history_runs = max(verdict.history_runs, len(past))
        verdict.status = "ok" if verdict.status == "no verdict" else verdict.status
        if _fell(rule, value, median, getattr(rules, rule.threshold)):
            verdict.reasons.append(_reason(rule, current, value, median, len(past)))
    if verdict.reasons:
        verdict.status = "drift"
    return verdict


def _number(value: Any) -> bool:
    # Reports are read back from the store, written by older or newer versions: a figure that
    # is missing or not a number is no figure, never a crash of the run that reads it.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count(figures: dict, key: str) -> int:
    value = figures.get(key, 0)
    return value if _number(value) else 0


def _fell(rule: Rule, value: float, median: float, threshold: float) -> bool:
    if rule.kind == "drop":
        return value < median - threshold
    if rule.kind == "rise":
        return value > median + threshold
    return median > 0 and value < median * threshold


def _reason(rule: Rule, current: dict, value: float, median: float, runs: int) -> str:
    was = f"median of the last {runs} runs"
    if rule.kind == "ratio":
        return f"{rule.label} {value:.0f} chars, was {median:.0f} ({was})"
    return f"{rule.label} {value:.0%} of {current[rule.base]} {rule.base}, was {median:.0%} ({was})"


# --- history from the store ------------------------------------------------------------------


class ReportStore(Protocol):
    def iter_keys(self, prefix: str = "") -> Iterator[str]: ...
    def get_bytes(self, key: str) -> bytes: ...


def load_history(
    store: ReportStore, source: str, before: datetime, rules: Rules = Rules()
) -> list[dict]:
    """The quality figures of `source`'s last ``rules.runs`` runs that had ``min_count`` pages
    and were ok (no drift, no other problem), newest first. Bounded: one listing per day, newest
    day first, for at most ``rules.days`` days, stopping once enough runs are found or
    ``rules.reads`` reports were read; only reports named for `source` are read (one named by
    ``SANGRAH_RUN_ID`` is read to see whose it is), so a source whose hourly runs are mostly
    too small still costs little."""
    found: list[dict] = []
    reads = 0
    for back in range(rules.days):
        day = before - timedelta(days=back)
        keys = sorted(store.iter_keys(f"reports/{day:%Y/%m/%d}/"), reverse=True)
        for key in keys:
            name = key.rsplit("/", 1)[-1]
            match = _RUN_ID.match(name)
            if match and match["source"] != source:
                continue
            if reads >= rules.reads:
                return found
            reads += 1
            quality = _history_run(store, key, source, before)
            if quality is not None and _count(quality, "pages") >= rules.min_count:
                found.append(quality)
                if len(found) >= rules.runs:
                    return found
    return found


def _history_run(store: ReportStore, key: str, source: str, before: datetime) -> dict | None:
    try:
        report = json.loads(store.get_bytes(key))
    except (OSError, ValueError) as exc:  # one unreadable report must not hide the others
        logger.warning("drift: cannot read the run report %s: %s", key, exc)
        return None
    if not isinstance(report, dict) or report.get("source") != source:
        return None
    drift = report.get("drift")
    if report.get("ok") is False or (isinstance(drift, dict) and drift.get("status") == "drift"):
        return None  # history is what the source gives when it works
    try:
        if datetime.fromisoformat(report["started"]) >= before:
            return None  # a run that started after this one (a clock or a concurrent run)
    except (KeyError, TypeError, ValueError):
        return None  # no start time (naive, malformed): not a report of ours
    quality = report.get("quality")
    return quality if isinstance(quality, dict) else None
