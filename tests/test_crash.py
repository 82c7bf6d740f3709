"""A crawl killed mid-run loses nothing that was written: the next run seals and publishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.replay.proxy import ReplayProxy, load_resources
from archive.text.pool import extraction_pool, stop_server
from archive.warc import cdxj
from archive.warc.recorder import INDEX_SPILL
from tests.corpus_urls import CORPUS, manifest
from tests.pipeline_runs import SANGRAH

ARTICLES = [e["url"] for e in manifest() if e["kind"] == "article"]


def descendants(pid: int, living: set[int] | None = None) -> set[int]:
    """Processes below ``pid`` (or, with ``living``, those of them still alive, whoever is their
    parent now), from /proc; zombies count as gone."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    if living is not None:
        return living & parents.keys()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def forked(pids: set[int]) -> set[int]:
    """The fork server and the workers it forked (they share its command line) among ``pids``."""
    found = set()
    for pid in pids:
        try:
            if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except OSError:  # exited meanwhile
            continue
    return found


def test_killed_crawl_is_rescued_by_the_next_run(tmp_path):
    store = tmp_path / "store"
    spool = store / ".spool"
    with ReplayProxy(load_resources([CORPUS])) as proxy:
        env = {**os.environ, **proxy.proxy_env(), "SCRAPY_SETTINGS_MODULE": "crawler.settings"}
        settings = [f"SANGRAH_STORE={store}", "LOG_LEVEL=WARNING", "DOWNLOAD_DELAY=1"]
        command = [sys.executable, "-m", "scrapy", "crawl", "fetch"]
        command += ["-a", "urls=" + ",".join(ARTICLES)]
        command += [arg for setting in settings for arg in ("-s", setting)]
        child = subprocess.Popen(
            command,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        open_files: list[Path] = []
        while time.monotonic() < deadline:  # wait until some records are on disk
            open_files = list(spool.rglob("*.warc.gz.open"))
            if open_files and open_files[0].stat().st_size > 100_000:
                break
            time.sleep(0.1)
        helpers = descendants(child.pid)  # the extraction pool, multiprocessing's tracker
        pool = forked(helpers)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        deadline = time.monotonic() + 10
        while helpers & descendants(1, living=helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert open_files, "the crawl wrote nothing before the deadline"
    assert len(pool) >= 2, helpers  # the fork server and at least one worker were running
    assert not descendants(1, living=helpers), "extraction processes outlived the crawl"
    written = open_files[0].stat().st_size
    assert not list(store.glob("warc/**/*.warc.gz"))  # nothing was sealed before the kill

    synced = subprocess.run(
        [SANGRAH, "sync", "--store", str(store)], capture_output=True, text=True, timeout=120
    )
    assert synced.returncode == 0, synced.stderr
    assert "sealed" in synced.stderr
    assert not list(spool.rglob("*.open"))
    warcs = list(store.joinpath("warc").rglob("*.warc.gz"))
    assert len(warcs) == 1
    assert 0 < warcs[0].stat().st_size <= written
    warcio = str(Path(sys.executable).with_name("warcio"))
    subprocess.run([warcio, "check", str(warcs[0])], check=True)
    with warcs[0].open("rb") as f:
        kinds = [r.rec_type for r in ArchiveIterator(f)]
    assert kinds[0] == "warcinfo" and "response" in kinds
    index = cdxj.parse(warcs[0].with_name(warcs[0].name.replace(".warc.gz", ".cdxj")).read_bytes())
    assert any(e.fields.get("status") == "200" for e in index)


def test_sigterm_ends_the_crawl_as_scrapy_does(tmp_path):
    """`docker stop`, a deleted pod, `systemctl stop`: SIGTERM to `sangrah` reaches its crawl
    child, which finishes the pages it holds, seals and publishes its WARC; then `sangrah`
    reports and exits. Without the hand-over it died at once and left the child running."""
    store = tmp_path / "store"
    env = {**os.environ, "SANGRAH_REPLAY_LATENCY": "0.2", "SANGRAH_SPOOL_DIR": str(tmp_path / "s")}
    command = [SANGRAH, "fetch", "--json", "--store", str(store), "--replay", str(CORPUS),
               *ARTICLES, "--set", "DOWNLOAD_DELAY=0.5"]  # fmt: skip
    parent = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _responses_recorded(tmp_path / "s"):
        time.sleep(0.1)  # until a page is in flight: its response is in the open WARC's index
    parent.send_signal(signal.SIGTERM)
    out, err = parent.communicate(timeout=120)
    assert parent.returncode >= 0, err.decode()[-2000:]  # it exited; SIGTERM did not kill it
    assert not list((tmp_path / "s").rglob("*.open"))  # sealed and published, not left open
    assert list(store.rglob("*.warc.gz")) and list(store.rglob("*.cdxj"))
    archived = [line for line in out.decode().splitlines() if '"txt": "txt/' in line]
    assert 0 < len(archived) < len(ARTICLES)  # stopped early, with what it had archived
    verify = subprocess.run([SANGRAH, "verify", "--store", str(store)], capture_output=True)
    assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()


def _responses_recorded(spool: Path) -> bool:
    """Whether an open WARC's index lines (its spill file) hold a 200 response yet."""
    return any('"status": "200"' in spill.read_text("utf-8", "replace")
               for spill in spool.rglob("*.open" + INDEX_SPILL))  # fmt: skip


def test_sigterm_with_no_crawl_child_exits_at_once():
    """browse, verify, between crawls: nothing to hand SIGTERM to, so the process exits (with
    128 + 15, as a shell reports it), even as a container's PID 1, which ignores a signal whose
    action is the default."""
    from archive import cli

    with pytest.raises(SystemExit) as stopped:
        cli.pass_on_termination(signal.SIGTERM, None)
    assert stopped.value.code == 128 + signal.SIGTERM


def test_the_extraction_server_ends_with_its_pool():
    """A crawl's fork server would hold the extraction code's memory until the crawl exits,
    through its end-of-run peak; the crawl stops it once the pool is shut down."""

    pool = extraction_pool(1)
    assert pool.submit(os.getpid).result(timeout=60) != os.getpid()
    assert forked(descendants(os.getpid()))
    pool.shutdown()
    stop_server()
    assert not forked(descendants(os.getpid()))
