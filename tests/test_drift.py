"""Drift telemetry: the rules of archive/text/drift.py on synthetic run histories (no Scrapy), the
bounded history walk over a store's reports, and a real crawl whose container selector broke."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.store.local import LocalStore
from archive.text.drift import Rules, RunQuality, judge, load_history, page_figures
from archive.text.extract import Extraction
from tests.test_monitoring import crawl, families, reports, summary_of

NOW = datetime(2025, 5, 9, 12, 0, tzinfo=UTC)


def figures(**changes) -> dict:
    """A healthy run of 20 pages: 18 articles read in the container, 2 non-articles."""
    quality = RunQuality()
    for _ in range(18):
        quality.add(page(path="container", chars=1500))
    quality.add(page(path=None, reason="not an article: video page"))
    quality.add(page(path=None, reason="soft 404 (ndtv 'Page not found')"))
    return {**quality.figures(), **changes}


def page(path: str | None = "container", chars: int = 1500, reason=None, **found) -> dict:
    flags = {"title": True, "date": True, "author": False, **found}
    return {"path": path, "chars": chars, "reason": reason, **flags}


HISTORY = [figures() for _ in range(5)]


# --- the figures -----------------------------------------------------------------------------


def test_run_quality_counts_paths_lengths_and_found_rates():
    quality = RunQuality()
    for p in (
        page("container", 1000),
        page("container+plain", 3000, author=True),
        page("page", 200, date=False),
        page("plain-tail", 400, title=False),
        page(None, reason="soft 404 (pib 'Untitled Page')"),
        page(None, reason="non-article URL"),
    ):
        quality.add(p)
    got = quality.figures()
    assert (got["pages"], got["articles"], got["container"], got["fallback"]) == (6, 4, 2, 2)
    assert got["container_match_rate"] == got["fallback_rate"] == 0.5
    assert got["median_chars"] == 700  # of 200, 400, 1000, 3000: non-articles have no text
    assert (got["title_rate"], got["date_rate"], got["author_rate"]) == (0.75, 0.75, 0.25)
    assert got["non_article_rate"] == 0.333 and got["soft_404_rate"] == 0.167


def test_empty_run_has_no_rates():
    got = RunQuality().figures()
    assert got["pages"] == 0 and got["container_match_rate"] is None
    assert got["median_chars"] is None and got["soft_404_rate"] is None


def test_page_figures_of_an_extraction():
    result = Extraction(
        True, None, "pib", "u", "u", title="शीर्षक", blocks=("एक", "दो तीन"),
        published="2025-05-09T10:00:00+05:30", path="page-tail",
    )  # fmt: skip
    assert page_figures(result) == {
        "path": "page-tail", "chars": 8, "title": True, "date": True, "author": False,
        "reason": None,
    }  # fmt: skip


# --- the rules -------------------------------------------------------------------------------


def test_a_run_like_its_history_is_ok():
    verdict = judge(figures(), HISTORY)
    assert verdict.status == "ok" and verdict.reasons == []
    assert verdict.baseline["container_match_rate"] == 1.0
    assert verdict.history_runs == 5


def test_container_match_rate_drop():
    # 12 of 18 in the container: 33 points down, more than 30.
    verdict = judge(figures(container_match_rate=0.667), HISTORY)
    assert verdict.status == "drift"
    assert verdict.reasons == [
        "container-match rate 67% of 18 articles, was 100% (median of the last 5 runs)"
    ]
    # 13 of 18: 28 points down, within the rule.
    assert judge(figures(container_match_rate=0.722), HISTORY).status == "ok"


def test_container_rule_uses_the_median_not_one_odd_run():
    odd = [*HISTORY[:4], figures(container_match_rate=0.1)]
    assert judge(figures(container_match_rate=0.8), odd).status == "ok"
    low = [figures(container_match_rate=0.2) for _ in range(3)] + HISTORY[:2]
    # median of the history is 0.2: a run at 0.0 is only 20 points down
    assert judge(figures(container_match_rate=0.0), low).status == "ok"


def test_median_length_below_half():
    verdict = judge(figures(median_chars=700), HISTORY)
    assert verdict.reasons == ["median text length 700 chars, was 1500 (median of the last 5 runs)"]
    assert judge(figures(median_chars=760), HISTORY).status == "ok"


@pytest.mark.parametrize(("figure", "label"), [("title_rate", "title"), ("date_rate", "date")])
def test_title_or_date_found_rate_drop(figure, label):
    verdict = judge(figures(**{figure: 0.7}), HISTORY)
    assert verdict.reasons == [
        f"{label} found rate 70% of 18 articles, was 100% (median of the last 5 runs)"
    ]
    assert judge(figures(**{figure: 0.85}), HISTORY).status == "ok"


def test_author_rate_is_recorded_not_judged():
    assert judge(figures(author_rate=0.0), [figures(author_rate=1.0)] * 5).status == "ok"


def test_non_article_and_soft_404_rates_jump():
    verdict = judge(figures(non_article_rate=0.5), HISTORY)  # history: 0.1
    assert verdict.reasons == [
        "non-article rate 50% of 20 pages, was 10% (median of the last 5 runs)"
    ]
    verdict = judge(figures(soft_404_rate=0.3), HISTORY)  # history: 0.05
    assert verdict.reasons == ["soft-404 rate 30% of 20 pages, was 5% (median of the last 5 runs)"]
    assert judge(figures(non_article_rate=0.35, soft_404_rate=0.2), HISTORY).status == "ok"


def test_every_reason_is_given():
    broken = figures(container_match_rate=0.0, median_chars=300, date_rate=0.0)
    verdict = judge(broken, HISTORY)
    assert [r.split(" ", 1)[0] for r in verdict.reasons] == ["container-match", "median", "date"]


def test_too_little_history_gives_no_verdict():
    broken = figures(container_match_rate=0.0)
    assert judge(broken, HISTORY[:2]).status == "no verdict"  # 2 runs, 3 needed
    assert judge(broken, []).status == "no verdict"
    assert judge(broken, HISTORY[:2], Rules(min_runs=2)).status == "drift"


def test_history_runs_with_too_few_articles_do_not_count():
    small = [figures(articles=3, container_match_rate=0.0) for _ in range(5)]
    verdict = judge(figures(container_match_rate=0.0), [*small, *HISTORY[:2]])
    assert verdict.status == "ok" and "container_match_rate" not in verdict.baseline
    # ... and the last N runs are the newest N that had enough articles
    assert judge(figures(container_match_rate=0.0), [*small, *HISTORY[:3]]).status == "drift"


def test_history_window_is_the_newest_runs():
    older = [figures(container_match_rate=0.0) for _ in range(10)]
    # The newest 3 runs say 1.0, the 10 before them 0.0: with runs=3 only the newest count.
    verdict = judge(figures(container_match_rate=0.0), [*HISTORY[:3], *older], Rules(runs=3))
    assert verdict.status == "drift" and verdict.history_runs == 3
    assert judge(figures(container_match_rate=0.0), [*HISTORY[:3], *older]).status == "ok"


def test_history_figures_that_are_not_numbers_are_ignored():
    odd = [{**figures(), "container_match_rate": "1.0", "articles": None} for _ in range(5)]
    assert judge(figures(container_match_rate=0.0), odd + HISTORY[:2]).status == "ok"
    assert judge(figures(container_match_rate=0.0), odd + HISTORY[:3]).status == "drift"


def test_a_run_with_too_few_articles_gives_no_verdict():
    few = figures(articles=4, pages=20, container_match_rate=0.0, median_chars=10)
    verdict = judge(few, HISTORY)
    # the article rules are skipped; the page rates still count (20 pages)
    assert "container_match_rate" not in verdict.baseline
    assert verdict.status == "ok" and "non_article_rate" in verdict.baseline
    assert judge(figures(pages=4, articles=4), HISTORY).status == "no verdict"


# --- history from the store ------------------------------------------------------------------


class CountingStore(LocalStore):
    """A local store that remembers what was listed and read."""

    def __init__(self, root):
        super().__init__(root)
        self.listed: list[str] = []
        self.read: list[str] = []

    def iter_keys(self, prefix=""):
        self.listed.append(prefix)
        return super().iter_keys(prefix)

    def get_bytes(self, key):
        self.read.append(key)
        return super().get_bytes(key)


def put_report(store, source: str, started: datetime, quality: dict | None, **extra) -> str:
    run_id = extra.pop("run_id", None) or f"{started:%Y%m%dT%H%M%SZ}-{source}-{0xABC123:06x}"
    key = f"reports/{started:%Y/%m/%d}/{run_id}.json"
    report = {"run_id": run_id, "source": source, "started": started.isoformat(),
              "quality": quality, "ok": True, **extra}  # fmt: skip
    store.put_bytes(key, json.dumps(report).encode())
    return key


def test_load_history_newest_first_of_one_source(tmp_path):
    store = CountingStore(tmp_path)
    for hours in range(1, 6):
        put_report(store, "ndtv", NOW - timedelta(hours=hours), figures(median_chars=hours))
    other = put_report(store, "pib", NOW - timedelta(minutes=30), figures())
    got = load_history(store, "ndtv", NOW)
    assert [q["median_chars"] for q in got] == [1, 2, 3, 4, 5]
    assert other not in store.read  # named for another source: not even read


def test_load_history_skips_drifted_failed_small_and_later_runs(tmp_path):
    store = CountingStore(tmp_path)
    put_report(store, "ndtv", NOW - timedelta(hours=1), figures(median_chars=1),
               drift={"status": "drift", "reasons": ["…"]})  # fmt: skip
    put_report(store, "ndtv", NOW - timedelta(hours=2), figures(pages=2, median_chars=2))
    put_report(store, "ndtv", NOW - timedelta(hours=2, minutes=30), figures(median_chars=3),
               ok=False, problem="no article archived")  # fmt: skip
    put_report(store, "ndtv", NOW - timedelta(hours=3), None)  # a report without figures
    put_report(store, "ndtv", NOW + timedelta(minutes=5), figures(median_chars=9))
    put_report(store, "ndtv", NOW - timedelta(hours=4), figures(median_chars=4))
    store.put_bytes(f"reports/{NOW:%Y/%m/%d}/broken-run.json", b"{not json")
    naive = json.dumps({"source": "ndtv", "started": "2025-05-09T07:00:00", "quality": figures()})
    store.put_bytes(f"reports/{NOW:%Y/%m/%d}/naive-clock.json", naive.encode())
    assert [q["median_chars"] for q in load_history(store, "ndtv", NOW)] == [4]


def test_load_history_reads_reports_named_by_sangrah_run_id(tmp_path):
    store = CountingStore(tmp_path)
    put_report(store, "ndtv", NOW - timedelta(hours=1), figures(), run_id="nightly-42")
    put_report(store, "pib", NOW - timedelta(hours=1), figures(), run_id="nightly-43")
    assert len(load_history(store, "ndtv", NOW)) == 1


def test_load_history_is_bounded(tmp_path):
    """One listing per day, newest day first; it stops at N runs or after the days allowed."""
    store = CountingStore(tmp_path)
    for day in range(40):
        put_report(store, "ndtv", NOW - timedelta(days=day, hours=1), figures())
    got = load_history(store, "ndtv", NOW, Rules(runs=3))
    assert len(got) == 3
    assert store.listed == [f"reports/{NOW - timedelta(days=d):%Y/%m/%d}/" for d in range(3)]
    assert len(store.read) == 3

    store.listed.clear()
    assert len(load_history(store, "pib", NOW, Rules(days=7))) == 0
    assert len(store.listed) == 7


def test_load_history_reads_a_bounded_number_of_small_runs(tmp_path):
    store = CountingStore(tmp_path)
    for hours in range(1, 100):  # hourly runs that each archived too little to count
        put_report(store, "ndtv", NOW - timedelta(hours=hours), figures(pages=2))
    assert load_history(store, "ndtv", NOW, Rules(reads=20)) == []
    assert len(store.read) == 20


def test_load_history_survives_a_report_it_cannot_read(tmp_path):
    class Flaky(CountingStore):
        def get_bytes(self, key):
            if key == bad:
                raise OSError("read timed out")
            return super().get_bytes(key)

    store = Flaky(tmp_path)
    bad = put_report(store, "ndtv", NOW - timedelta(hours=1), figures(median_chars=1))
    put_report(store, "ndtv", NOW - timedelta(hours=2), figures(median_chars=2))
    assert [q["median_chars"] for q in load_history(store, "ndtv", NOW)] == [2]


# --- a real crawl whose container selector broke ---------------------------------------------

SOURCE = "webdunia"  # 6 articles in the replica web: enough for the default rules


def write_history(store: Path, report: dict, runs: int = 3) -> None:
    """Earlier runs of the source like `report`, one an hour before it, as the store keeps them."""
    started = datetime.fromisoformat(report["started"])
    for n in range(1, runs + 1):
        when = started - timedelta(hours=n)
        run_id = f"{when:%Y%m%dT%H%M%SZ}-{report['source']}-{n:06x}"
        key = store / f"reports/{when:%Y/%m/%d}/{run_id}.json"
        key.parent.mkdir(parents=True, exist_ok=True)
        earlier = {**report, "run_id": run_id, "started": when.isoformat()}
        key.write_text(json.dumps(earlier), encoding="utf-8")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """One real crawl of the source: its report is the history of the runs below."""
    store = tmp_path_factory.mktemp("history")
    done = crawl(store, SOURCE)
    assert done.returncode == 0, done.stderr[-3000:]
    (report,) = reports(store)
    return store, done, report


def store_with_history(tmp_path: Path, report: dict) -> Path:
    store = tmp_path / "store"
    write_history(store, report)
    return store


def broken_container(tmp_path: Path) -> dict:
    override = tmp_path / "sources.toml"
    override.write_text(f"[{SOURCE}.extract]\ncontainer = ['div.renamed']\n", encoding="utf-8")
    return {"SANGRAH_SOURCES": str(override)}


def test_first_run_records_its_figures_and_has_no_verdict(first_run):
    _store, done, report = first_run
    summary = summary_of(done)
    assert summary["quality"] == report["quality"]
    assert report["quality"]["articles"] == summary["archived"] == 6
    assert report["quality"]["container_match_rate"] == 1.0
    assert report["drift"]["status"] == "no verdict"


def test_crawl_like_its_history_passes(first_run, tmp_path):
    store = store_with_history(tmp_path, first_run[2])
    done = crawl(store, SOURCE)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = summary_of(done)
    assert summary["ok"] and summary["drift"]["status"] == "ok"
    assert summary["drift"]["history_runs"] == 3


def test_broken_container_selector_fails_the_crawl_with_the_reason(first_run, tmp_path):
    store = store_with_history(tmp_path, first_run[2])
    prom = tmp_path / "sangrah.prom"
    env = {**broken_container(tmp_path), "SANGRAH_METRICS_FILE": str(prom)}
    done = crawl(store, SOURCE, env=env)
    assert done.returncode == 1, done.stderr[-3000:]
    summary = summary_of(done)
    # The articles are still archived (from the whole page): only the figures tell.
    assert summary["archived"] == 6 and summary["quality"]["container_match_rate"] == 0.0
    reason = "container-match rate 0% of 6 articles, was 100% (median of the last 3 runs)"
    assert summary["ok"] is False and summary["problem"] == f"drift: {reason}"
    assert f"FAILED: drift: {reason}" in done.stderr
    assert f"WARNING: source {SOURCE} failed: drift: {reason}" in done.stderr
    (report,) = [r for r in reports(store) if r["drift"] and r["drift"]["status"] == "drift"]
    assert report["ok"] is False and report["drift"]["reasons"] == [reason]
    assert report["problem"] == f"drift: {reason}"
    got = families(prom)
    assert got["sangrah_drift"][(("source", SOURCE),)] == 1
    assert got["sangrah_run_container_match_ratio"][(("source", SOURCE),)] == 0
    print(next(line for line in done.stderr.splitlines() if "FAILED" in line))


def test_drift_can_be_switched_off(first_run, tmp_path):
    store = store_with_history(tmp_path, first_run[2])
    done = crawl(store, SOURCE, env={**broken_container(tmp_path), "SANGRAH_DRIFT": "0"})
    assert done.returncode == 0, done.stderr[-3000:]
    summary = summary_of(done)
    assert summary["drift"] is None and summary["quality"]["container_match_rate"] == 0.0


# --- the summary extension -------------------------------------------------------------------


class _Stats:
    def __init__(self, **values):
        self.values = {f"sangrah/{k}": v for k, v in values.items()}

    def get_value(self, key, default=None):
        return self.values.get(key, default)

    def set_value(self, key, value):
        self.values[key] = value

    def get_stats(self):
        return self.values


class _Spider:
    name = source = "ndtv"


def test_summary_fails_a_drifted_run_and_keeps_an_earlier_problem():
    from archive.text.drift import Verdict
    from crawler.extensions.summary import CrawlSummary

    seen = []

    def drift(quality):
        seen.append(quality)
        return Verdict("drift", ["container-match rate 0% of 1 articles, was 100% (…)"])

    item = {"status": 200, "txt": "txt/ndtv/x.txt", "extract_figures": page("page", 900)}
    ext = CrawlSummary(_Stats(discovered=1, requested=1), drift=drift)
    ext.item_scraped(item)
    summary = ext.summary(_Spider(), "finished")
    assert seen[0]["articles"] == 1 and seen[0]["fallback_rate"] == 1.0
    assert summary["ok"] is False
    assert summary["problem"] == "drift: container-match rate 0% of 1 articles, was 100% (…)"
    assert summary["drift"]["status"] == "drift" and summary["quality"] == seen[0]
    # A run that archived nothing says so: that is the first thing to fix.
    ext = CrawlSummary(_Stats(discovered=1, requested=1), drift=drift)
    ext.item_scraped({"status": 200, "reason": "no article text found",
                      "extract_figures": page("page", 0, title=False)})  # fmt: skip
    assert ext.summary(_Spider(), "finished")["problem"] == "no article archived"
    # Without a drift monitor (SANGRAH_DRIFT=0) the figures are still reported.
    ext = CrawlSummary(_Stats(discovered=1, requested=1))
    ext.item_scraped(item)
    summary = ext.summary(_Spider(), "finished")
    assert summary["ok"] and summary["drift"] is None and summary["quality"]["articles"] == 1
