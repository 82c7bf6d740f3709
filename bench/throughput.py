"""Throughput against its bound, `reprocess` against its bound, trafilatura's own CLI, and memory
over a long crawl: all measured in one run on this machine.

N distinct article URLs (copies of the corpus gold pages, bench.speed) are served by the replay
proxy. Measured, in this order:

- plain: CPU seconds of plain ``trafilatura.extract(page bytes)`` over the N pages, in-process;
- bare Scrapy: ``scrapy crawl fetch`` of the N URLs with no sangrah components (no WARC, no
  extraction): the CPU seconds of its process;
- fetch: the same crawl with every default component into a fresh store (WARC, extraction pool,
  TXT); every URL must end in a TXT;
- bound = (plain + bare Scrapy) / cores: the wall time of a crawl that did nothing but download
  and run trafilatura once per page, perfectly spread over the cores; fetch's figure is
  bound / its wall time (1.0 = at the bound);
- reprocess: ``sangrah reprocess`` of that store (every page extracted again from its WARC
  record; nothing changed, so nothing written); its bound = plain / cores;
- trafilatura CLI: ``trafilatura -i urls.txt -o DIR --parallel T`` through the same proxy (its
  own threaded downloads; pycurl when installed, else urllib3), SLEEP_TIME 0 like our politeness
  off; it writes no WARC. Articles/s against fetch's.

``--components`` instead runs the fetch five times, adding the default components one step at
a time (bare Scrapy, WARC capture, the extraction hand-off, the TXT pipeline, everything): the
crawl process's CPU at each step.

``--soak N`` instead runs one fetch of N pages and samples resident memory every 0.5 s, of the
whole process tree and of the crawl process alone: peak, and the trend (mean of the last third
against the middle third, and the least-squares slope in MiB per 1,000 pages over the last two
thirds).

    .venv/bin/python -m bench.throughput [--pages 1000] [--threads 16] [--json]
    .venv/bin/python -m bench.throughput --soak 20000
    .venv/bin/python -m bench.throughput --components
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trafilatura

from archive.replay.proxy import ReplayProxy, load_resources
from archive.text.extract import extract
from bench.speed import BARE, build_corpus, check_store, measure, run_child

SANGRAH = Path(sys.executable).with_name("sangrah")
# trafilatura's CLI, with two changes: it trusts the replay proxy's CA (it checks certificates
# against certifi's bundle, then retries without verification; Scrapy does not verify), and its
# output files get unique names (it names them by a hash of the text, and the copies of one gold
# page share their text, so they would overwrite each other).
_CLI = (
    "import sys, itertools, certifi, trafilatura.cli_utils as cu; ca = sys.argv.pop(1); "
    "certifi.where = lambda: ca; n = itertools.count(); "
    "cu.generate_hash_filename = lambda content: f'{next(n):06d}'; "
    "from trafilatura.cli import main; main()"
)


def cpu_over(pages: list[tuple[bytes, str]], fn) -> float:
    for body, url in pages[:10]:  # warm-up: imports, compiled selectors, caches
        fn(body, url)
    start = time.process_time()
    for body, url in pages:
        fn(body, url)
    return time.process_time() - start


def trafilatura_cli(urls: list[str], proxy: ReplayProxy, tmp: Path, threads: int) -> dict:
    (tmp / "cli-urls.txt").write_text("\n".join(urls) + "\n", "utf-8")
    config = configparser.ConfigParser()
    config.read(Path(trafilatura.__file__).with_name("settings.cfg"))
    config["DEFAULT"]["SLEEP_TIME"] = "0"
    with (tmp / "cli.cfg").open("w") as out:
        config.write(out)
    (tmp / "ca.pem").write_text(proxy.ca_pem, "ascii")
    out_dir = tmp / "cli-out"
    command = [sys.executable, "-c", _CLI, str(tmp / "ca.pem"), "-i", str(tmp / "cli-urls.txt"),
               "-o", str(out_dir), "--parallel", str(threads), "--config-file",
               str(tmp / "cli.cfg")]  # fmt: skip
    # https_proxy only: trafilatura reads http_proxy as a SOCKS proxy
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["https_proxy"] = proxy.url
    result = measure(command, env, tmp / "cli.log", ok=(0, 1))  # 1: some URLs gave nothing
    articles = len(list(out_dir.glob("*.txt")))
    log = (tmp / "cli.log").read_text("utf-8", "replace")
    failed = sorted({ln.rpartition("URL: ")[2] for ln in log.splitlines() if "No result" in ln})
    return {**result, "articles": articles, "articles_per_s": articles / result["wall_s"],
            "failed": len(failed), "failed_examples": failed[:3]}  # fmt: skip


def reprocess(store: Path, tmp: Path) -> dict:
    command = [str(SANGRAH), "reprocess", "--store", str(store)]
    result = measure(command, {**os.environ}, tmp / "reprocess.log")
    result["summary"] = (tmp / "reprocess.log").read_text("utf-8", "replace").strip()[-300:]
    return result


def throughput(args: argparse.Namespace, tmp: Path) -> dict:
    n, cores = args.pages, os.cpu_count() or 1
    urls, _gold = build_corpus(tmp / "corpus", n)
    manifest = [json.loads(line) for line in (tmp / "corpus/manifest.bench.jsonl").open()]
    pages = [((tmp / "corpus" / e["body"]).read_bytes(), e["url"]) for e in manifest
             if "clone=" in e["url"]]  # fmt: skip
    plain = cpu_over(pages, lambda body, url: trafilatura.extract(body))
    ours = cpu_over(pages, lambda body, url: extract(body, url, "text/html; charset=utf-8"))
    store, report = tmp / "store", tmp / "report.jsonl"
    with ReplayProxy(load_resources([tmp / "corpus"])) as proxy:
        bare = run_child(BARE, urls, proxy, tmp / "bare.log")
        fetch = run_child(
            {"SANGRAH_STORE": str(store), "SANGRAH_REPORT": str(report)}, urls, proxy,
            tmp / "fetch.log",
        )  # fmt: skip
        check_store(store, report, n)
        cli = trafilatura_cli(urls, proxy, tmp, args.threads)
    again = reprocess(store, tmp)
    bound = (plain + bare["cpu_crawler_s"]) / cores
    return {
        "pages": n, "cores": cores, "load_before": args.load,
        "plain_trafilatura_cpu_s": plain, "our_extract_cpu_s": ours,
        "bare": bare, "fetch": fetch, "cli": cli, "reprocess": again,
        "fetch_bound_s": bound, "fetch_of_bound": bound / fetch["wall_s"],
        "reprocess_bound_s": plain / cores, "reprocess_of_bound": plain / cores / again["wall_s"],
        "reprocess_of_own_cpu": ours / cores / again["wall_s"],
        "fetch_vs_cli": (n / fetch["wall_s"]) / cli["articles_per_s"],
    }  # fmt: skip


def soak(args: argparse.Namespace, tmp: Path) -> dict:
    n = args.soak
    urls, _gold = build_corpus(tmp / "corpus", n)
    store, report = tmp / "store", tmp / "report.jsonl"
    with ReplayProxy(load_resources([tmp / "corpus"])) as proxy:
        settings = {"SANGRAH_STORE": str(store), "SANGRAH_REPORT": str(report)}
        run = run_child(settings, urls, proxy, tmp / "soak.log", trend=True)
    check_store(store, report, n)
    series = run.pop("rss_mib")
    third = len(series) // 3
    # the slope per page: seconds -> pages at the run's mean rate
    xs = [t * n / run["wall_s"] / 1000 for t, *_ in series[third:]]

    def trend(column: int) -> dict:
        ys = [sample[column] for sample in series]
        slope = statistics.linear_regression(xs, ys[third:]).slope if len(xs) > 1 else 0.0
        return {"max_mib": max(ys), "middle_third_mean_mib": statistics.mean(ys[third:2 * third]),
                "last_third_mean_mib": statistics.mean(ys[2 * third:]),
                "slope_mib_per_1000_pages": slope}  # fmt: skip

    return {
        "pages": n, "load_before": args.load, **run, "samples": len(series),
        "tree": trend(1), "crawler": trend(2), "series": series[:: max(1, len(series) // 40)],
    }  # fmt: skip


# The crawl process's CPU as the default components are added one step at a time.
_STEPS = {
    "bare Scrapy (no sangrah component)": BARE,
    "+ WARC capture (middlewares, archiver; no item pipeline)": {"ITEM_PIPELINES": "{}"},
    "+ extraction (hand-off to the pool)": {
        "ITEM_PIPELINES": json.dumps({"pipelines.extract.ExtractPipeline": 100})
    },
    "+ TXT (claims, TXT, metadata record: the durable write path)": {
        "ITEM_PIPELINES": json.dumps(
            {"pipelines.extract.ExtractPipeline": 100, "pipelines.txt.TxtPipeline": 200}
        )
    },
    "every default component": {},
}


def components(args: argparse.Namespace, tmp: Path) -> dict:
    urls, _gold = build_corpus(tmp / "corpus", args.pages)
    rows = {}
    with ReplayProxy(load_resources([tmp / "corpus"])) as proxy:
        run_child(BARE, urls, proxy, tmp / "warm-up.log")  # the proxy's cache of compressed pages
        for i, (step, settings) in enumerate(_STEPS.items()):
            rows[step] = run_child({"SANGRAH_STORE": str(tmp / f"store-{i}"), **settings}, urls,
                                   proxy, tmp / f"step-{i}.log")  # fmt: skip
    return {"pages": args.pages, "load_before": args.load, "steps": rows}


def components_markdown(r: dict) -> str:
    rows = [
        f"{r['pages']} pages, load average before the run {r['load_before']:.2f}",
        "",
        "| crawl | wall s | CPU s: crawl process | extraction workers |",
        "|---|---|---|---|",
    ]
    rows += [f"| {step} | {x['wall_s']:.2f} | {x['cpu_crawler_s']:.1f} | {x['cpu_workers_s']:.1f} |"
             for step, x in r["steps"].items()]  # fmt: skip
    return "\n".join(rows)


def markdown(r: dict) -> str:
    n, fetch, bare, cli, again = r["pages"], r["fetch"], r["bare"], r["cli"], r["reprocess"]

    def cpu(x: dict) -> str:
        return f"{x['cpu_crawler_s']:.1f} / {x['cpu_workers_s']:.1f}"

    rows = [
        f"{n} pages, {r['cores']} cores, load average before the run {r['load_before']:.2f}",
        "",
        "| run | wall s | pages/s | CPU s (main / children) | peak RSS MiB |",
        "|---|---|---|---|---|",
        f"| plain `trafilatura.extract` in-process | - | {n / r['plain_trafilatura_cpu_s']:.1f} "
        f"(1 core) | {r['plain_trafilatura_cpu_s']:.1f} / 0 | - |",
        f"| `archive.text.extract.extract` in-process | - "
        f"| {n / r['our_extract_cpu_s']:.1f} (1 core) | {r['our_extract_cpu_s']:.1f} / 0 | - |",
        f"| bare Scrapy download | {bare['wall_s']:.2f} | {n / bare['wall_s']:.1f} | {cpu(bare)} "
        f"| {bare['peak_rss_mib']:.0f} |",
        f"| sangrah fetch (WARC + TXT) | {fetch['wall_s']:.2f} | {n / fetch['wall_s']:.1f} "
        f"| {cpu(fetch)} | {fetch['peak_rss_mib']:.0f} |",
        f"| sangrah reprocess | {again['wall_s']:.2f} | {n / again['wall_s']:.1f} | {cpu(again)} "
        f"| {again['peak_rss_mib']:.0f} |",
        f"| trafilatura CLI ({cli['articles']} articles, {cli['failed']} URLs gave nothing) "
        f"| {cli['wall_s']:.2f} "
        f"| {cli['articles_per_s']:.1f} | {cpu(cli)} | {cli['peak_rss_mib']:.0f} |",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| fetch bound: (plain {r['plain_trafilatura_cpu_s']:.1f} s + bare Scrapy "
        f"{bare['cpu_crawler_s']:.1f} s) / {r['cores']} cores | {r['fetch_bound_s']:.2f} s | |",
        f"| fetch: bound / wall | {r['fetch_of_bound']:.2f} | ≥ 0.75 |",
        f"| reprocess: (plain / cores) / wall | {r['reprocess_of_bound']:.2f} | ≥ 0.85 |",
        f"| reprocess: (our extract CPU / cores) / wall | {r['reprocess_of_own_cpu']:.2f} | |",
        f"| fetch articles/s ÷ trafilatura CLI articles/s | {r['fetch_vs_cli']:.2f} | > 1 |",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="article URLs")
    parser.add_argument("--threads", type=int, default=16, help="trafilatura CLI --parallel")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--soak", type=int, metavar="N", help="memory over a fetch of N pages")
    mode.add_argument(
        "--components", action="store_true", help="the crawl's CPU as components are added"
    )
    parser.add_argument("--json", action="store_true", help="print every measurement as JSON")
    args = parser.parse_args(argv)
    args.load = os.getloadavg()[0]  # other work on the machine skews every figure; say so
    mode = soak if args.soak else components if args.components else throughput
    with tempfile.TemporaryDirectory(prefix="sangrah-throughput-") as tmp_dir:
        result = mode(args, Path(tmp_dir))
    if args.json or args.soak:
        print(json.dumps(result, indent=1))
    else:
        print((components_markdown if args.components else markdown)(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
