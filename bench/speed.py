"""Speed and memory of the archiving pipeline, as ratios to plain Scrapy measured in the same run.

A synthetic corpus of N distinct article URLs (copies of the gold pages of tests/corpus, each with
its own URL, canonical link, PIB PRID and payload, so every copy is its own article and TXT) is
served by the replay proxy. The same `scrapy crawl fetch` child runs three times per repetition:

- baseline: EXTENSIONS, DOWNLOADER_MIDDLEWARES, ITEM_PIPELINES = {} - plain Scrapy download and
  discard (Scrapy's built-in middlewares, its own robots.txt one included, stay on);
- WARC capture only: the Archiver and sangrah's middlewares, no item pipelines (no extraction);
- full: the default components with a fresh store (WARC + extraction pool + TXT + report).

Peak memory is the sum of VmHWM over the child's process tree (the Scrapy process plus its
extraction pool's fork server and workers), sampled from /proc; CPU seconds are split the same
way. A micro-benchmark compares archive.text.extract.extract() with plain trafilatura.extract()
in-process.

    .venv/bin/python -m bench.speed [--pages N] [--repeat R] [--json] [--set NAME=VALUE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import trafilatura

from archive.cli import replay_env
from archive.replay.proxy import ReplayProxy, load_resources
from archive.text.extract import extract

CORPUS = Path("tests/corpus")
FAST = {"AUTOTHROTTLE_ENABLED": "False", "DOWNLOAD_DELAY": "0",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "16", "LOG_LEVEL": "WARNING"}  # fmt: skip
BARE = {"EXTENSIONS": "{}", "DOWNLOADER_MIDDLEWARES": "{}", "ITEM_PIPELINES": "{}"}
_CANONICAL = re.compile(rb"""(<link[^>]*rel=["']canonical["'][^>]*href=["'])([^"']*)""", re.I)
_PRID = re.compile(r"(?i)(PRID=)(\d+)")
_TICK = os.sysconf("SC_CLK_TCK")


# --- the synthetic corpus ---------------------------------------------------------------------
def manifest_entries(corpus: Path) -> list[dict]:
    lines = (ln for m in sorted(corpus.glob("manifest*.jsonl")) for ln in m.open(encoding="utf-8"))
    return [json.loads(ln) for ln in lines if ln.strip()]


def copy_url(url: str, j: int) -> str:
    """A URL the source's article patterns still accept, with its own canonical form."""
    url = _PRID.sub(lambda m: f"{m[1]}{m[2]}{j:05d}", url)  # PIB canonicalises by PRID
    return f"{url}{'&' if '?' in url else '?'}clone={j}"


def copy_body(body: bytes, j: int) -> bytes:
    """The page with a rel=canonical of its own and a unique payload (no revisit records)."""
    body = _CANONICAL.sub(
        lambda m: m[1] + m[2] + (b"&amp;" if b"?" in m[2] else b"?") + b"clone=%d" % j, body, 1
    )
    return body + b"\n<!-- bench copy %d -->\n" % j


def build_corpus(folder: Path, n: int) -> tuple[list[str], list[dict]]:
    """Write N article copies plus the robots.txt entries; return the URLs and the gold pages."""
    entries = manifest_entries(CORPUS)
    gold = [e for e in entries if e.get("kind") == "article" and e.get("gold")]
    (folder / "web").mkdir(parents=True)
    lines, urls = [], []
    for e in (e for e in entries if e.get("kind") == "robots"):
        lines.append({**e, "body": str((CORPUS / e["body"]).resolve())})
    for j in range(n):
        page = gold[j % len(gold)]
        body = copy_body((CORPUS / page["body"]).read_bytes(), j)
        (folder / f"web/copy_{j}.html").write_bytes(body)
        urls.append(copy_url(page["url"], j))
        lines.append({**page, "url": urls[-1], "body": f"web/copy_{j}.html"})
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    (folder / "manifest.bench.jsonl").write_text(text, encoding="utf-8")
    return urls, gold


# --- measuring a child process tree -------------------------------------------------------------
def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) from /proc/<pid>/stat, or None if the process is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _hwm_kib(pid: int) -> int:
    """Peak resident set size of the process so far (0 if it is gone)."""
    return _kib(pid, "VmHWM")


def _kib(pid: int, field: str) -> int:
    try:
        return int(re.findall(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())[0])
    except (OSError, IndexError):
        return 0


class TreeSampler(threading.Thread):
    """Polls the process tree under ``root``: last VmHWM and CPU time seen per process."""

    def __init__(self, root: int, interval: float = 0.05, trend: bool = False):
        super().__init__(daemon=True)
        self.root, self.interval, self.trend = root, interval, trend
        self.hwm: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        # with ``trend``: (seconds since start, MiB of the tree, MiB of the root process)
        self.rss: list[tuple[float, float, float]] = []
        self.started = time.perf_counter()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        stats = {pid: s for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                 if (s := _stat(pid))}  # fmt: skip
        tree, frontier = {self.root}, [self.root]
        while frontier:
            parent = frontier.pop()
            kids = [pid for pid, (ppid, _) in stats.items() if ppid == parent]
            tree.update(kids)
            frontier += kids
        for pid in tree & stats.keys():
            self.cpu[pid] = stats[pid][1]
            self.hwm[pid] = max(self.hwm.get(pid, 0), _hwm_kib(pid))
        if self.trend:
            now = sum(_kib(pid, "VmRSS") for pid in tree & stats.keys()) / 1024
            root = round(_kib(self.root, "VmRSS") / 1024, 1)
            self.rss.append((round(time.perf_counter() - self.started, 1), round(now, 1), root))


def run_child(
    settings: dict[str, str], urls: list[str], proxy: ReplayProxy, log: Path, trend: bool = False
) -> dict:
    """``scrapy crawl fetch`` of ``urls`` through the proxy; fails unless every URL was served."""
    listed = log.with_suffix(".urls.json")
    listed.write_text(json.dumps(urls), "utf-8")
    command = [sys.executable, "-m", "scrapy", "crawl", "fetch", "-a", f"urls_file={listed}"]
    for name, value in {**FAST, **settings}.items():
        command += ["-s", f"{name}={value}"]
    env = {**os.environ, **replay_env(proxy.url, None)}
    env["SCRAPY_SETTINGS_MODULE"] = "crawler.settings"
    served_before = served(proxy)
    result = measure(command, env, log, trend)
    if served(proxy) - served_before < len(urls):
        tail = log.read_text("utf-8", "replace")[-3000:]
        raise SystemExit(f"the child fetched too few pages:\n{tail}")
    return {**result, "pages_per_s": len(urls) / result["wall_s"]}


def measure(
    command: list[str], env: dict[str, str], log: Path, trend: bool = False, ok: tuple = (0,)
) -> dict:
    """Wall time, CPU and peak memory of a child's process tree; fails on an exit not in ``ok``.
    ``trend``: also resident memory over time (``rss_mib``: [seconds, MiB of the tree, MiB of the
    child itself])."""
    cpu_before, start = time.process_time(), time.perf_counter()
    with log.open("wb") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(child.pid, interval=0.5 if trend else 0.05, trend=trend)
        sampler.start()
        code = child.wait()
    wall = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    if code not in ok:
        tail = log.read_text("utf-8", "replace")[-3000:]
        raise SystemExit(f"{' '.join(command[:6])}… failed (exit {code}):\n{tail}")
    return {
        "wall_s": wall,
        "peak_rss_mib": sum(sampler.hwm.values()) / 1024,
        "cpu_crawler_s": sampler.cpu.get(child.pid, 0.0),
        "cpu_workers_s": sum(c for pid, c in sampler.cpu.items() if pid != child.pid),
        "cpu_proxy_s": time.process_time() - cpu_before,  # this process: proxy + sampler
        **({"rss_mib": sampler.rss} if trend else {}),
    }


def served(proxy: ReplayProxy) -> int:
    return sum(c for (url, status), c in proxy.hits.items() if status == 200 and "clone=" in url)


def check_store(store: Path, report: Path | None, n: int) -> None:
    """A run must have written WARC files and, with a report, one TXT per URL; else fail loudly."""
    warcs = [p for p in (store / "warc").rglob("*.warc.gz") if p.stat().st_size]
    txts = list((store / "txt").rglob("*.txt"))
    lines = [json.loads(ln) for ln in report.read_text("utf-8").splitlines()] if report else []
    missing = [r["url"] for r in lines if not r["txt"]][:3]
    if not warcs or (report and (len(txts) != n or len(lines) != n or missing)):
        raise SystemExit(
            f"{store}: {len(warcs)} WARC files, {len(txts)} TXT files, {len(lines)} report "
            f"lines for {n} URLs; first URLs without TXT: {missing}"
        )


def variants(tmp: Path, r: int, extra: dict[str, str]) -> dict[str, tuple[dict, Path | None]]:
    """Settings of each measured run (and its report file; None: no TXT expected)."""
    store, report = tmp / f"store-{r}", tmp / f"report-{r}.jsonl"
    capture = {"SANGRAH_STORE": str(tmp / f"capture-{r}"), "ITEM_PIPELINES": "{}"}
    return {
        "baseline": (BARE, None),
        "WARC capture only": ({**capture, **extra}, None),
        "full": ({"SANGRAH_STORE": str(store), "SANGRAH_REPORT": str(report), **extra}, report),
    }


# --- extraction micro-benchmark -----------------------------------------------------------------
def micro(gold: list[dict], repeat: int) -> dict:
    docs = [((CORPUS / e["body"]).read_bytes(), e["url"], e["headers"].get("Content-Type"))
            for e in gold]  # fmt: skip

    def ours(doc: tuple) -> object:
        return extract(*doc)

    def plain(doc: tuple) -> object:
        return trafilatura.extract(doc[0].decode("utf-8", "replace"))

    def rate(fn) -> float:
        start = time.perf_counter()
        for doc in docs:
            fn(doc)
        return len(docs) / (time.perf_counter() - start)

    rate(ours), rate(plain)  # warm-up: imports, compiled selectors, trafilatura's caches
    return {
        "pages": len(docs),
        "extract_pages_per_s": statistics.median(rate(ours) for _ in range(repeat)),
        "trafilatura_pages_per_s": statistics.median(rate(plain) for _ in range(repeat)),
    }


# --- report -----------------------------------------------------------------------------------
def markdown(runs: dict[str, dict], mic: dict) -> str:
    base = runs["baseline"]
    rows = [
        "| run | wall s | pages/s | speed vs baseline | peak RSS MiB | RSS vs baseline "
        "| CPU s: crawler / extract pool / proxy |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        cpu = f"{r['cpu_crawler_s']:.1f} / {r['cpu_workers_s']:.1f} / {r['cpu_proxy_s']:.1f}"
        rows.append(
            f"| {name} | {r['wall_s']:.2f} | {r['pages_per_s']:.1f} | "
            f"{r['pages_per_s'] / base['pages_per_s']:.2f} | {r['peak_rss_mib']:.0f} | "
            f"{r['peak_rss_mib'] / base['peak_rss_mib']:.2f} | {cpu} |"
        )
    ratio = mic["extract_pages_per_s"] / mic["trafilatura_pages_per_s"]
    rows += [
        "",
        f"| extraction, in-process ({mic['pages']} gold pages) | pages/s | speed vs plain |",
        "|---|---|---|",
        f"| plain `trafilatura.extract(html)` | {mic['trafilatura_pages_per_s']:.1f} | 1.00 |",
        f"| `archive.text.extract.extract()` | {mic['extract_pages_per_s']:.1f} | {ratio:.2f} |",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=300, help="article URLs per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--json", action="store_true", help="print every measurement as JSON")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE",
        help="Scrapy setting for the archiving runs (e.g. SANGRAH_EXTRACT_WORKERS=1)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    extra = dict(setting.split("=", 1) for setting in args.set)
    load = os.getloadavg()[0]  # other work on the machine skews every figure; say so
    samples: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="sangrah-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        urls, gold = build_corpus(tmp / "corpus", args.pages)
        with ReplayProxy(load_resources([tmp / "corpus"])) as proxy:
            for r in range(args.repeat):
                for name, (settings, report) in variants(tmp, r, extra).items():
                    result = run_child(settings, urls, proxy, tmp / "log.txt")
                    samples.setdefault(name, []).append(result)
                    if "SANGRAH_STORE" in settings:
                        check_store(Path(settings["SANGRAH_STORE"]), report, args.pages)
                print(f"repeat {r + 1}/{args.repeat} done", file=sys.stderr)
    runs = {
        name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
        for name, runs in samples.items()
    }
    mic = micro(gold, args.repeat)
    if args.json:
        out = {"pages": args.pages, "load": load, "samples": samples, "median": runs, "micro": mic}
        print(json.dumps(out))
    else:
        print(f"{args.pages} pages, median of {args.repeat}, {os.cpu_count()} cores, ", end="")
        print(f"load average before the run {load:.2f}\n")
        print(markdown(runs, mic))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
