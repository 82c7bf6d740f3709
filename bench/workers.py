"""Two workers on one Redis frontier against one worker alone, where the site, not the CPU, is the
limit: every answer of the replay proxy waits ``--latency`` seconds.

The corpus is tests/corpus with NDTV's Google News sitemap replaced by one listing N clones of
the NDTV gold pages (each its own URL, canonical link and payload), so ``sangrah crawl ndtv``
discovers N + the corpus's own NDTV articles. Each run is a fresh store and a fresh Redis
database (a real ``redis-server`` on a free port, as in the tests):

- one worker: ``sangrah crawl ndtv --redis URL`` (the same code path: it discovers, then
  consumes the whole queue, and stops once the queue stayed empty for SANGRAH_REDIS_IDLE_EXIT);
- two workers: the same command twice at once, each with its own spool.

Reported per regime: wall time from start to the last worker's exit (minus the idle wait that
ends every worker), articles archived, the throughput ratio, and checks: every article archived
exactly once across workers (TXT files, response records per URL), and the shortest gap between
two request starts to ndtv.in across both workers' WARCs (``WARC-Date`` is the send time), which
the shared politeness keeps at DOWNLOAD_DELAY or more.

Two regimes: "latency-bound" (DOWNLOAD_DELAY small against latency / concurrency: a second
worker adds requests in flight) and "politeness-bound" (DOWNLOAD_DELAY the limit: the shared
per-host delay holds across workers, so a second worker must not go faster).

    .venv/bin/python -m bench.workers [--pages 200] [--latency 0.5] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from bench.speed import CORPUS, manifest_entries
from tests.redis_server import redis_server

SANGRAH = str(Path(sys.executable).with_name("sangrah"))
SITEMAP = "https://ndtv.in/sitemap/google-news-sitemap"
IDLE_EXIT = 3.0
_CANONICAL = re.compile(rb"""(<link[^>]*rel=["']canonical["'][^>]*href=["'])([^"']*)""", re.I)


def build_corpus(folder: Path, n: int) -> list[str]:
    """tests/corpus with the NDTV news sitemap listing N clones of the NDTV gold pages."""
    entries = manifest_entries(CORPUS)
    gold = [e for e in entries if e.get("source") == "ndtv" and e.get("gold")]
    (folder / "web").mkdir(parents=True)
    lines, urls, locs = [], [], []
    for e in entries:
        if e["url"] == SITEMAP:
            continue
        lines.append({**e, "body": str((CORPUS / e["body"]).resolve())} if e.get("body") else e)
    for j in range(n):
        page = gold[j % len(gold)]
        url = f"https://ndtv.in/india/bench-clone-of-{j % len(gold)}-{9_000_000 + j}"
        canonical = url.encode()
        body = _CANONICAL.sub(lambda m, c=canonical: m[1] + c, (CORPUS / page["body"]).read_bytes())
        (folder / f"web/clone_{j}.html").write_bytes(body + b"\n<!-- clone %d -->\n" % j)
        lines.append({**page, "url": url, "body": f"web/clone_{j}.html"})
        urls.append(url)
        locs.append(
            f"<url><loc>{url}</loc><news:news><news:publication_date>2025-05-05T10:{j % 60:02d}:00"
            f"+05:30</news:publication_date></news:news></url>"
        )
    sitemap = ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
               'schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
               + "\n".join(locs) + "</urlset>\n")  # fmt: skip
    (folder / "web/sitemap.xml").write_text(sitemap, "utf-8")
    lines.append({"url": SITEMAP, "status": 200, "body": "web/sitemap.xml", "kind": "sitemap",
                  "headers": {"Content-Type": "application/xml; charset=utf-8"}})  # fmt: skip
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    (folder / "manifest.bench.jsonl").write_text(text, "utf-8")
    return urls


def run_workers(count: int, corpus: Path, tmp: Path, redis_url: str, settings: dict) -> dict:
    store = tmp / "store"
    command = [SANGRAH, "crawl", "ndtv", "--json", "--store", str(store), "--replay", str(corpus),
               "--redis", redis_url, "--set", f"SANGRAH_REDIS_IDLE_EXIT={IDLE_EXIT}"]  # fmt: skip
    for name, value in settings.items():
        command += ["--set", f"{name}={value}"]
    start = time.perf_counter()
    workers = []
    for i in range(count):
        env = {**os.environ, "SANGRAH_SPOOL_DIR": str(tmp / f"spool{i}")}
        workers.append(subprocess.Popen(command, env=env, text=True, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE))  # fmt: skip
    outputs = [w.communicate(timeout=3600) for w in workers]
    wall = time.perf_counter() - start - IDLE_EXIT
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        if worker.returncode != 0:
            raise SystemExit(f"a worker failed (exit {worker.returncode}):\n{err[-3000:]}")
    summaries = [_summary(out) for out, _ in outputs]
    archived = sum(s["archived"] for s in summaries)
    txts = len(list(store.rglob("txt/**/*.txt")))
    responses, starts = _requests(store)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # robots.txt aside: each worker reads it for itself
    twice = sorted(u for u, n in responses.items() if n > 1 and not u.endswith("/robots.txt"))
    return {
        "workers": count, "wall_s": wall, "archived": archived, "txt_files": txts,
        "articles_per_s": archived / wall,
        "urls_fetched_twice": twice,
        "ndtv_requests": len(starts), "min_start_gap_s": min(gaps) if gaps else None,
        "roles": sorted(s.get("role", "?") for s in summaries),
    }  # fmt: skip


def _summary(out: str) -> dict:
    return next(json.loads(line)["summary"] for line in out.splitlines() if '"summary"' in line)


def _requests(store: Path) -> tuple[Counter, list[float]]:
    """Response records per URL, and the send times of every request to ndtv.in, sorted."""
    responses: Counter[str] = Counter()
    starts = []
    for warc in store.rglob("*.warc.gz"):
        with warc.open("rb") as f:
            for record in ArchiveIterator(f):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "response":
                    responses[uri] += 1
                elif record.rec_type == "request" and uri.startswith("https://ndtv.in/"):
                    date = record.rec_headers.get_header("WARC-Date").replace("Z", "+00:00")
                    starts.append(datetime.fromisoformat(date).timestamp())
    return responses, sorted(starts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200, help="NDTV clones in the sitemap")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds before each answer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    per_domain = 4  # crawler/settings.py CONCURRENT_REQUESTS_PER_DOMAIN
    regimes = {
        # latency / concurrency = 0.125 s a request at most for one worker: the delay is smaller
        "latency-bound": {"DOWNLOAD_DELAY": str(args.latency / per_domain / 4)},
        # one request start per 0.25 s per host across all workers, whatever the workers
        "politeness-bound": {"DOWNLOAD_DELAY": str(args.latency / 2)},
    }
    base = {"AUTOTHROTTLE_ENABLED": "False", "RANDOMIZE_DOWNLOAD_DELAY": "False",
            "CONCURRENT_REQUESTS_PER_DOMAIN": str(per_domain)}  # fmt: skip
    os.environ["SANGRAH_REPLAY_LATENCY"] = str(args.latency)
    results = {}
    with tempfile.TemporaryDirectory(prefix="sangrah-workers-") as tmp_dir:
        tmp = Path(tmp_dir)
        build_corpus(tmp / "corpus", args.pages)
        for regime, settings in regimes.items():
            for count in (1, 2):
                run_dir = tmp / f"{regime}-{count}"
                run_dir.mkdir()
                with redis_server(run_dir) as redis_url:
                    result = run_workers(count, tmp / "corpus", run_dir, redis_url,
                                         {**base, **settings})  # fmt: skip
                results[(regime, count)] = {**result, "delay_s": float(settings["DOWNLOAD_DELAY"])}
                print(f"{regime}, {count} worker(s): {result}", file=sys.stderr)
    if args.json:
        print(json.dumps({f"{r} x{c}": v for (r, c), v in results.items()}, indent=1))
        return 0
    print(f"{args.pages} NDTV clones + the corpus's NDTV articles, latency {args.latency} s per "
          f"answer, {os.cpu_count()} cores\n")  # fmt: skip
    print(
        "| regime | DOWNLOAD_DELAY s | workers | wall s | archived | TXT files | articles/s "
        "| ratio 2/1 | URLs fetched twice (robots.txt aside) "
        "| shortest gap between ndtv.in request starts s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (regime, count), r in results.items():
        ratio = r["articles_per_s"] / results[(regime, 1)]["articles_per_s"]
        print(f"| {regime} | {r['delay_s']:.3f} | {count} | {r['wall_s']:.1f} | {r['archived']} "
              f"| {r['txt_files']} | {r['articles_per_s']:.2f} | {ratio:.2f} "
              f"| {len(r['urls_fetched_twice'])} | {r['min_start_gap_s']:.3f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
