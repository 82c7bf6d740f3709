"""`scrapyd-deploy` to a real scrapyd on 127.0.0.1, which then runs a spider from the egg: the
project as scrapyd runs it (zipped, settings through the egg's entry point) archives into a local
store. Every page comes from the replay proxy (scrapyd passes its environment to the crawl)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.cli import replay_env
from archive.replay.proxy import ReplayProxy, load_resources
from tests.corpus_urls import CORPUS
from tests.pipeline_runs import NDTV
from tests.test_packaging import project_copy

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, data: dict | list | None = None) -> dict:
    body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
    # No proxy for scrapyd itself, whatever the environment says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, data=body, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A scrapyd on 127.0.0.1 whose crawls go through the replay proxy into tmp_path/store."""
    home, store = tmp_path / "scrapyd", tmp_path / "store"
    home.mkdir()
    port = free_port()
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        "eggs_dir = eggs\nlogs_dir = logs\ndbs_dir = dbs\nitems_dir =\n"
        "max_proc = 1\npoll_interval = 0.5\n",
        encoding="utf-8",
    )
    with ReplayProxy(load_resources([CORPUS])) as proxy:
        env = {**os.environ, **replay_env(proxy.url, None), "SANGRAH_STORE": str(store)}
        env.pop("SCRAPY_SETTINGS_MODULE", None)  # the egg's entry point must provide it
        log = (home / "scrapyd.out").open("w")
        daemon = subprocess.Popen(
            [str(BIN / "scrapyd")], cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    assert call(url + "daemonstatus.json")["status"] == "ok"
                    break
                except OSError:
                    assert daemon.poll() is None, (home / "scrapyd.out").read_text()
                    assert time.monotonic() < deadline, "scrapyd did not start"
                    time.sleep(0.3)
            yield url, store
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
            log.close()


def test_scrapyd_deploy_then_a_scheduled_fetch_archives(scrapyd, tmp_path):
    url, store = scrapyd
    project = project_copy(tmp_path / "project")
    deploy = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "env", "--version", "r1"],  # [deploy:env] in scrapy.cfg
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SCRAPYD_URL": url, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert json.loads(deploy.stdout)["status"] == "ok", deploy.stdout
    assert json.loads(deploy.stdout)["spiders"] >= 6

    spiders = call(url + "listspiders.json?project=sangrah")["spiders"]
    assert {"fetch", "pib", "ians", "ndtv", "webdunia", "generic"} <= set(spiders)

    job = call(
        url + "schedule.json",
        [
            ("project", "sangrah"), ("spider", "fetch"), ("urls", NDTV),
            ("setting", "DOWNLOAD_DELAY=0"), ("setting", "AUTOTHROTTLE_ENABLED=False"),
        ],
    )["jobid"]  # fmt: skip
    deadline = time.monotonic() + 240
    while True:
        jobs = call(url + "listjobs.json?project=sangrah")
        if any(j["id"] == job for j in jobs["finished"]):
            break
        assert time.monotonic() < deadline, jobs
        time.sleep(1)

    (log,) = (tmp_path / "scrapyd" / "logs" / "sangrah" / "fetch").glob(f"{job}.log")
    text = log.read_text("utf-8")
    assert "'finish_reason': 'finished'" in text, text[-3000:]
    # The project's settings, found through the egg's entry point (else: bot: scrapybot).
    assert "(bot: sangrah)" in text
    assert list((tmp_path / "scrapyd" / "eggs" / "sangrah").glob("r1*.egg"))
    txts = list(store.glob("txt/ndtv/*/*/*/*.txt"))
    assert len(txts) == 1, text[-3000:]
    assert list(store.glob("warc/*/*/*/*.warc.gz")) and list(store.glob("warc/*/*/*/*.cdxj"))
    (report,) = [json.loads(p.read_text("utf-8")) for p in store.glob("reports/*/*/*/*.json")]
    assert report["spider"] == "fetch" and report["ok"] is True
    assert report["counts"]["archived"] == 1
    assert report["spool"]["pending"] == 0
