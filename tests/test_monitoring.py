"""Run reports in the store, the Prometheus textfile and progress on a terminal, with real crawls
of the replica web (through the replay proxy) and the real CLI."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from archive import metrics
from archive.metrics import labels
from tests.corpus_urls import CORPUS
from tests.pipeline_runs import SANGRAH

WEBDUNIA = ("webdunia",)
# A progress line (the summary printed at the end says "discovered N, requested N, ...").
PROGRESS = re.compile(r"webdunia: discovered \d+  requested \d+  fetched \d+  archived \d+")


def crawl(store: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [SANGRAH, "crawl", "--json", "--store", str(store), "--replay", str(CORPUS), *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


def summary_of(done: subprocess.CompletedProcess) -> dict:
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return next(line["summary"] for line in lines if "summary" in line)


def reports(store: Path) -> list[dict]:
    return [json.loads(p.read_text("utf-8")) for p in sorted(store.glob("reports/*/*/*/*.json"))]


def families(path: Path) -> dict[str, dict[tuple, float]]:
    """The textfile as Prometheus reads it: {family: {labels: value}}."""
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(path.read_text("utf-8")):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


# --- the textfile format ---------------------------------------------------------------------


def test_textfile_parses_as_prometheus_exposition_format(tmp_path):
    path = tmp_path / "sangrah.prom"
    tricky = 'HTTP 404 "gone"\\ now\nand then'
    metrics.update(
        path,
        "ndtv",
        {
            ("sangrah_articles_archived_total", labels(source="ndtv")): 12,
            ("sangrah_failures_total", labels(source="ndtv", reason=tricky)): 3,
            ("sangrah_run_duration_seconds", labels(source="ndtv")): 1.25,
        },
    )
    parsed = {f.name: f for f in text_string_to_metric_families(path.read_text("utf-8"))}
    # The client strips _total from counter family names and keeps it on the samples.
    assert parsed["sangrah_articles_archived"].type == "counter"
    assert parsed["sangrah_run_duration_seconds"].type == "gauge"
    (failure,) = parsed["sangrah_failures"].samples
    assert failure.labels == {"source": "ndtv", "reason": tricky}
    assert failure.value == 3
    # Our own reader gives back exactly what was written (it is what the next run starts from).
    assert metrics.read(path)[("sangrah_failures_total", labels(source="ndtv", reason=tricky))] == 3
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_update_replaces_only_its_own_source(tmp_path):
    path = tmp_path / "sangrah.prom"
    metrics.update(path, "pib", {("sangrah_run_archived", labels(source="pib")): 5})
    metrics.update(path, "ndtv", {("sangrah_run_archived", labels(source="ndtv")): 7})
    metrics.update(path, "pib", {("sangrah_run_archived", labels(source="pib")): 6})
    values = families(path)["sangrah_run_archived"]
    assert values == {(("source", "ndtv"),): 7, (("source", "pib"),): 6}
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def _hammer(path: str, source: str, n: int) -> None:
    for i in range(n):
        metrics.update(path, source, {("sangrah_run_archived", labels(source=source)): i})


def test_concurrent_writers_keep_each_others_series(tmp_path):
    """Sources crawled at the same time (one systemd unit each) share the file under a lock."""
    path = tmp_path / "sangrah.prom"
    code = "import sys; from tests.test_monitoring import _hammer; _hammer(*sys.argv[1:3], 200)"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path), source])
        for source in ("pib", "ndtv", "ians")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert set(families(path)["sangrah_run_archived"].values()) == {199}
    assert len(families(path)["sangrah_run_archived"]) == 3


# --- real runs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """webdunia crawled twice into one store (the second run is incremental), with metrics."""
    tmp = tmp_path_factory.mktemp("runs")
    store, prom = tmp / "store", tmp / "node_exporter" / "sangrah.prom"
    env = {"SANGRAH_METRICS_FILE": str(prom)}
    first = crawl(store, *WEBDUNIA, env=env)
    after_first = prom.read_text("utf-8") if prom.exists() else ""
    second = crawl(store, *WEBDUNIA, env=env)
    return store, prom, first, after_first, second


def test_each_run_writes_a_report_to_the_store(two_runs):
    store, _prom, first, _, second = two_runs
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    one, two = reports(store)  # sorted by key: the run ids begin with the start time
    summary = summary_of(first)
    assert one["source"] == "webdunia" and one["ok"] is True and one["problem"] is None
    assert one["finish_reason"] == "finished"
    for field in ("discovered", "requested", "archived", "not_article", "failed"):
        assert one["counts"][field] == summary[field], field
    assert one["counts"]["archived"] > 0
    assert one["reasons"] == summary["reasons"]
    assert one["spool"]["pending"] == 0 and one["spool"]["txt_unstored"] == 0
    started = datetime.fromisoformat(one["started"])
    assert started <= datetime.fromisoformat(one["finished"]) <= datetime.now(UTC)
    key = f"reports/{started:%Y/%m/%d}/{one['run_id']}.json"
    assert (store / key).is_file()
    # The second run found everything archived already: it archived nothing new and says so.
    assert two["run_id"] != one["run_id"]
    assert two["counts"]["archived"] == 0
    assert two["skipped"].get("already_archived") == one["counts"]["archived"]


def test_metrics_textfile_after_runs(two_runs):
    store, prom, _, after_first, _ = two_runs
    one, two = reports(store)
    src = (("source", "webdunia"),)
    archived = one["counts"]["archived"]
    first = {f.name: f for f in text_string_to_metric_families(after_first)}
    assert first["sangrah_articles_archived"].samples[0].value == archived
    got = families(prom)
    # Counters add up over runs; the run gauges are the last run's.
    assert got["sangrah_articles_archived_total"][src] == archived + two["counts"]["archived"]
    assert got["sangrah_runs_total"][(("result", "ok"), ("source", "webdunia"))] == 2
    assert got["sangrah_run_archived"][src] == two["counts"]["archived"]
    assert got["sangrah_run_discovered"][src] == two["counts"]["discovered"]
    assert got["sangrah_run_in_progress"][src] == 0
    assert got["sangrah_run_ok"][src] == 1
    assert got["sangrah_spool_pending_files"][src] == 0
    finished = datetime.fromisoformat(two["finished"]).timestamp()
    assert got["sangrah_last_success_timestamp_seconds"][src] == pytest.approx(finished, abs=1e-3)
    assert got["sangrah_run_duration_seconds"][src] == pytest.approx(two["duration_seconds"])
    for reason, n in one["failures"].items():
        key = (("reason", reason), ("source", "webdunia"))
        assert got["sangrah_failures_total"][key] == n + two["failures"].get(reason, 0)


def test_failed_run_keeps_last_success_and_counts_a_failure(two_runs, tmp_path):
    store, prom, *_ = two_runs
    copy = tmp_path / "sangrah.prom"
    copy.write_text(prom.read_text("utf-8"), "utf-8")
    before = families(copy)
    override = tmp_path / "sources.toml"
    override.write_text(
        "[webdunia.discovery]\nfeeds = ['https://hindi.webdunia.com/rss/moved.rss']\n"
        "sitemaps = []\nlistings = []\n",
        encoding="utf-8",
    )
    done = crawl(
        store, *WEBDUNIA, env={"SANGRAH_METRICS_FILE": str(copy), "SANGRAH_SOURCES": str(override)}
    )
    assert done.returncode == 1
    got = families(copy)
    src = (("source", "webdunia"),)
    assert got["sangrah_run_ok"][src] == 0
    assert got["sangrah_runs_total"][(("result", "failed"), ("source", "webdunia"))] == 1
    assert got["sangrah_runs_total"][(("result", "ok"), ("source", "webdunia"))] == 2
    last = before["sangrah_last_success_timestamp_seconds"][src]
    assert got["sangrah_last_success_timestamp_seconds"][src] == last
    failed = [r for r in reports(store) if not r["ok"]]
    assert [r["problem"] for r in failed] == ["no article URL discovered"]


# --- progress --------------------------------------------------------------------------------


def run_on_terminal(command: list[str], timeout: float = 300) -> tuple[int, str]:
    """Run `command` with stdout and stderr on a pseudo-terminal; its status and output."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "200"}
    proc = subprocess.Popen(command, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_progress_is_shown_in_place_on_a_terminal(tmp_path):
    command = [SANGRAH, "crawl", "webdunia", "--store", str(tmp_path), "--replay", str(CORPUS)]
    code, output = run_on_terminal(command)
    assert code == 0, output[-3000:]
    assert PROGRESS.search(output), output[-3000:]
    assert "\x1b[2K" in output  # the line is erased and redrawn, not scrolled
    assert "ok webdunia: discovered" in output.replace("\x1b[32m", "").replace("\x1b[0m", "")


def test_no_progress_when_not_a_terminal(tmp_path):
    done = crawl(tmp_path, *WEBDUNIA)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "webdunia: discovered " in done.stderr  # the summary
    assert not PROGRESS.search(done.stderr + done.stdout)
    assert "\x1b[2K" not in done.stderr


class _Run:
    source = "ndtv"

    def snapshot(self) -> dict:
        return {
            "source": "ndtv", "started": "2025-05-06T10:00:00+00:00", "elapsed": 42.0,
            "discovered": 30, "requested": 20, "fetched": 12, "archived": 9,
            "not_article": 1, "failed": 2, "failures": {"HTTP 404": 2},
        }  # fmt: skip


class _Crawler:
    def get_extension(self, cls):
        return _Run()


def test_periodic_write_during_a_run_adds_to_the_counters_of_earlier_runs(tmp_path):
    from crawler.extensions.metrics import PrometheusTextfile

    path = tmp_path / "sangrah.prom"
    earlier = {
        ("sangrah_articles_archived_total", labels(source="ndtv")): 100,
        ("sangrah_failures_total", labels(source="ndtv", reason="HTTP 404")): 5,
        ("sangrah_last_success_timestamp_seconds", labels(source="ndtv")): 1746520000,
        ("sangrah_run_archived", labels(source="pib")): 3,
    }
    metrics.update(path, "ndtv", earlier)
    ext = PrometheusTextfile(str(path), crawler=_Crawler())
    ext.base = metrics.of_source(metrics.read(path), "ndtv")
    ext.write_progress()
    got = families(path)
    src = (("source", "ndtv"),)
    assert got["sangrah_run_in_progress"][src] == 1
    assert got["sangrah_articles_archived_total"][src] == 109
    assert got["sangrah_failures_total"][(("reason", "HTTP 404"), ("source", "ndtv"))] == 7
    assert got["sangrah_run_duration_seconds"][src] == 42
    assert got["sangrah_last_success_timestamp_seconds"][src] == 1746520000  # carried over
    assert got["sangrah_run_archived"][(("source", "pib"),)] == 3  # another source's series
