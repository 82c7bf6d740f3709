"""Faults with real processes: SIGKILL at each step of the write path, the S3 server killed and
restarted at each step, a full disk, two writers at once. After each: recovery (`sangrah sync`
and a rerun), then the store's invariants (`sangrah verify`) and the counts: every article has
exactly one TXT, nothing is lost, nothing is duplicated.

Kill and pause points are deterministic (archive.faults): SANGRAH_KILL_AT makes the crawl
process SIGKILL itself at the n-th pass of a named step; SANGRAH_PAUSE_AT holds it there while
the test stops the store. A small SANGRAH_WARC_MAX_SIZE makes the run seal and publish WARCs
mid-run, so every step is reached with work before and after it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.store import Store, open_store
from archive.store.verify import verify_store
from tests.corpus_urls import manifest
from tests.pipeline_runs import SANGRAH, run_fetch
from tests.seaweed import SeaweedInfo, SeaweedServer, s3_store_for

ARTICLES = [e["url"] for e in manifest() if e["kind"] == "article"]
ROTATE = ["--set", "SANGRAH_WARC_MAX_SIZE=150000"]
KILL_POINTS = [
    "warc.record:7",
    "warc.record:40",
    "txt.claimed:3",
    "txt.recorded:3",
    "txt.stored:3",
    "seal.indexed:1",
    "seal.renamed:1",
    "publish.completed:1",
    "publish.warc:1",
    "publish.index:1",
]


def sangrah(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SANGRAH, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def recover_and_check(store_uri: str, store: Store, env: dict | None = None) -> None:
    """sync, rerun every URL, verify: the invariants hold and each article has one TXT."""
    synced = sangrah("sync", "--store", store_uri, env=env)
    assert synced.returncode == 0, synced.stderr[-3000:]
    again, results = run_fetch(store_uri, ARTICLES, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert all(r["txt"] for r in results.values())
    verified = sangrah("verify", "--store", store_uri, env=env)
    assert verified.returncode == 0, verified.stdout[-3000:]
    assert verified.stdout.rstrip().endswith("clean"), verified.stdout[-3000:]
    txts = [k for k in store.iter_keys("txt/")]
    named = {r["txt"] for r in results.values()}
    assert sorted(txts) == sorted(named)  # nothing lost, nothing twice
    report = verify_store(store)
    assert report.problems == [] and report.txts == len(named)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_at_each_step(tmp_path: Path, point: str) -> None:
    store_uri = str(tmp_path / "store")
    done, _results = run_fetch(store_uri, ARTICLES, *ROTATE, env={"SANGRAH_KILL_AT": point})
    assert "was killed (signal 9)" in done.stderr, done.stderr[-3000:]
    assert done.returncode != 0
    recover_and_check(store_uri, open_store(store_uri))


@pytest.mark.parametrize("point", ["publish.completed:1", "publish.warc:1", "publish.index:1"])
def test_sigkill_during_recovery(tmp_path: Path, point: str) -> None:
    """The run dies, then the sync that recovers it dies too, at a step of its own."""
    store_uri = str(tmp_path / "store")
    run_fetch(store_uri, ARTICLES, *ROTATE, env={"SANGRAH_KILL_AT": "txt.stored:5"})
    first = sangrah("sync", "--store", store_uri, env={"SANGRAH_KILL_AT": point})
    assert first.returncode == -9, first.stderr[-2000:]
    recover_and_check(store_uri, open_store(store_uri))


@pytest.mark.parametrize("point", ["txt.claimed:3", "seal.renamed:1", "publish.warc:1"])
def test_sigkill_at_each_step_s3(s3_server: SeaweedInfo, s3_bucket: str, tmp_path, point):
    env = s3_env(s3_server, tmp_path / "spool")
    store_uri = f"s3://{s3_bucket}/run1"
    done, _results = run_fetch(store_uri, ARTICLES, *ROTATE, env={**env, "SANGRAH_KILL_AT": point})
    assert "was killed (signal 9)" in done.stderr, done.stderr[-3000:]
    recover_and_check(store_uri, s3_store_for(s3_server, s3_bucket), env)


def s3_env(server: SeaweedInfo, spool: Path) -> dict:
    return {
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": server.region,
        "AWS_MAX_ATTEMPTS": "2",
        "SANGRAH_SPOOL_DIR": str(spool),
    }


@contextlib.contextmanager
def own_seaweed(directory: Path) -> Iterator[SeaweedServer]:
    server = SeaweedServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "point", ["txt.claimed:3", "txt.recorded:3", "publish.completed:1", "publish.index:1"]
)
def test_s3_killed_and_restarted_at_each_step(tmp_path: Path, point: str) -> None:
    """The S3 server dies at a step of the write path while the crawl goes on; it comes back;
    sync and a rerun complete the archive without a twin or a gap."""
    with own_seaweed(tmp_path / "seaweed") as server:
        server.info.client().create_bucket(Bucket="news")
        env = s3_env(server.info, tmp_path / "spool")
        pause = tmp_path / "paused"
        store_uri = "s3://news/hindi"
        command = [SANGRAH, "fetch", "--json", "--store", store_uri, "--replay"]
        command += [str(Path(__file__).parent / "corpus"), *ROTATE, *ARTICLES]
        child = subprocess.Popen(
            command,
            env={
                **os.environ,
                **env,
                "SANGRAH_PAUSE_AT": point,
                "SANGRAH_PAUSE_FILE": str(pause),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while not pause.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pause.exists(), "the crawl never reached " + point
        server.kill()
        pause.unlink()
        _out, err = child.communicate(timeout=300)
        assert child.returncode != 0  # it could not store everything, and says so
        assert "sangrah sync" in err, err[-3000:]
        server.start()
        recover_and_check(store_uri, s3_store_for(server.info, "news", "hindi"), env)


def test_full_disk_stops_cleanly_then_recovers(tmp_path: Path) -> None:
    """The store's disk (a small tmpfs) fills mid-run: the crawl stops with the cause and the
    path, publishes nothing partial; after space comes back, sync and a rerun complete it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(disk)], capture_output=True
    )
    seam = {} if mounted.returncode == 0 else {"SANGRAH_FAIL_AT": "warc.record:30"}
    try:
        store_uri = str(disk / "store")
        done, results = run_fetch(store_uri, ARTICLES, env=seam)
        assert done.returncode != 0
        assert "No space left on device" in done.stderr or "injected" in done.stderr
        assert "cannot write the WARC" in done.stderr and str(disk) in done.stderr
        assert any(not r["txt"] for r in results.values())
        store = open_store(store_uri)
        for key in store.iter_keys():
            assert store.size(key) > 0, key  # nothing empty or partial was published
        if seam:
            seam = {}
        else:
            subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        recover_and_check(store_uri, store)
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_two_writers_at_once(tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> None:
    """Two fetches of the same articles into one store at the same time (each with its own
    spool, as two machines would have)."""
    if kind == "s3":
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        store_uri = f"s3://{bucket}/run1"
        store = s3_store_for(server, bucket)
        envs = [s3_env(server, tmp_path / f"spool{i}") for i in range(2)]
    else:
        store_uri = str(tmp_path / "store")
        store = open_store(store_uri)
        envs = [{"SANGRAH_SPOOL_DIR": str(tmp_path / f"spool{i}")} for i in range(2)]
    command = [SANGRAH, "fetch", "--json", "--store", store_uri, "--replay"]
    command += [str(Path(__file__).parent / "corpus"), *ROTATE]
    children = [
        subprocess.Popen(
            command + (ARTICLES if i == 0 else ARTICLES[::-1]),
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, env in enumerate(envs)
    ]
    for child in children:
        out, err = child.communicate(timeout=300)
        without = [line for line in out.splitlines() if '"txt": null' in line]
        assert child.returncode == 0, (without, err[-3000:])  # the URLs that got no TXT, why
    recover_and_check(store_uri, store, envs[0])


def test_fault_points_are_reached() -> None:
    """Every kill point named above exists in the code (a renamed step would test nothing)."""
    source = "".join(
        p.read_text() for p in Path(__file__).parents[1].joinpath("archive").rglob("*.py")
    )
    for point in {p.split(":")[0] for p in KILL_POINTS}:
        assert f'faults.point("{point}")' in source, point
    assert sys.executable
