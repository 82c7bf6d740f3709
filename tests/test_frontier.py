"""Several workers on one frontier, through a real redis-server: one discovers, all consume,
each article is requested and archived exactly once, TXT ordinals never collide, politeness
holds across workers, and every worker stops on its own."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from scrapy import Request
from warcio.archiveiterator import ArchiveIterator

from archive.store.local import LocalStore
from archive.store.verify import verify_store
from crawler.frontier import RedisOrdinals, SharedPolitenessMiddleware
from tests.corpus_urls import CORPUS
from tests.pipeline_runs import SANGRAH
from tests.redis_server import redis_server


@pytest.fixture
def redis_url(tmp_path: Path):
    with redis_server(tmp_path) as url:
        yield url


def crawl(store: Path, *args: str, spool: Path | None = None) -> subprocess.Popen:
    command = [SANGRAH, "crawl", "--json", "--store", str(store), "--replay", str(CORPUS), *args]
    env = {**os.environ, **({"SANGRAH_SPOOL_DIR": str(spool)} if spool else {})}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip


def summary_of(out: str) -> dict:
    return next(json.loads(line)["summary"] for line in out.splitlines() if '"summary"' in line)


def responses(store: Path) -> Counter[str]:
    seen: Counter[str] = Counter()
    for warc in store.rglob("*.warc.gz"):
        with warc.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    seen[record.rec_headers.get_header("WARC-Target-URI")] += 1
    return seen


@pytest.mark.parametrize("source", ["ndtv", "webdunia"])
def test_two_workers_archive_each_article_once(tmp_path, redis_url, source):
    alone = tmp_path / "alone"
    out, _err = crawl(alone, source).communicate(timeout=300)
    expected = summary_of(out)["archived"]
    assert expected > 0

    store = tmp_path / "shared"
    idle = ["--redis", redis_url, "--set", "SANGRAH_REDIS_IDLE_EXIT=3"]
    workers = [crawl(store, source, *idle, spool=tmp_path / f"spool{i}") for i in range(2)]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]  # each stopped on its own, successfully
    summaries = [summary_of(out) for out, _ in outputs]
    assert sorted(s["role"] for s in summaries) == ["discovery", "worker"]
    assert sum(s["archived"] for s in summaries) == expected
    txts = sorted(store.rglob("txt/**/*.txt"))
    assert len(txts) == expected
    articles = {json.loads(line)["final_url"] for out, _ in outputs for line in out.splitlines()
                if line.startswith('{"url"') and json.loads(line).get("txt")}  # fmt: skip
    counts = responses(store)
    assert all(counts[url] == 1 for url in articles), counts  # requested once across workers
    report = verify_store(LocalStore(store))
    assert report.problems == []


def test_redis_ordinals_start_past_the_store_and_never_repeat(redis_url):
    first = RedisOrdinals(redis_url, "s3://news/hindi")
    second = RedisOrdinals(redis_url, "s3://news/hindi")
    folder = "txt/ndtv/2025/05/05"
    got = [first.next(folder, lambda: 7), second.next(folder, lambda: 0)]
    got += [o.next(folder, lambda: 0) for o in (first, second, first)]
    assert got == [7, 8, 9, 10, 11]
    assert RedisOrdinals(redis_url, "s3://other").next(folder, lambda: 0) == 0


def test_politeness_holds_across_workers(redis_url):
    """Two workers' middlewares: the second request to a host waits while the first holds the
    host's slot, and goes once the slot has expired; another host is not held up."""
    a = SharedPolitenessMiddleware(redis_url, 5.0)
    b = SharedPolitenessMiddleware(redis_url, 5.0)

    async def both() -> None:
        await a.process_request(Request("https://ndtv.in/a"))
        waiting = asyncio.create_task(b.process_request(Request("https://ndtv.in/b")))
        await b.process_request(Request("https://hindi.webdunia.com/c"))  # another host: free
        await asyncio.sleep(0.2)
        assert not waiting.done()  # ndtv.in's slot is a's for 5 s
        await asyncio.wait_for(waiting, timeout=30)  # and b's once it expired
        assert await b.redis.pttl("sangrah:polite:ndtv.in") > 0  # now b holds it
        await a.close()
        await b.close()

    asyncio.run(both())
