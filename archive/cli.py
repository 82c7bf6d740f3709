"""The ``sangrah`` command.

Crawling runs Scrapy in a child process (``python -m scrapy crawl ...``): this module, like the
rest of ``archive``, does not import Scrapy, and each run gets a fresh reactor. The child writes
one JSON line per URL to a report file, which this process reads and prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from archive.layout import default_spool_dir

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n")[0])
console = Console(stderr=True)

StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        envvar="SANGRAH_STORE",
        help="Where archives go: a directory, file://..., or s3://bucket/prefix "
        "(AWS_ENDPOINT_URL and boto3's credential chain apply).",
    ),
]
ReplayOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--replay",
        help="Answer every request from a corpus folder or WARC files instead of the network.",
    ),
]
SettingOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Scrapy setting NAME=VALUE (repeatable)."),
]


@contextlib.contextmanager
def replay_proxy(paths: list[Path] | None) -> Iterator[str | None]:
    if not paths:
        yield None
        return
    from archive.replay import ReplayProxy, load_resources

    with ReplayProxy(load_resources(list(paths))) as proxy:
        yield proxy.url


def run_spider(
    spider: str,
    spider_args: dict[str, str],
    *,
    store: str,
    replay: list[Path] | None,
    settings: list[str] | None,
    verbose: bool,
) -> list[dict]:
    """Run one spider in a child Scrapy process; return its per-URL report lines."""
    with tempfile.TemporaryDirectory(prefix="sangrah-") as tmp, replay_proxy(replay) as proxy:
        report = Path(tmp) / "report.jsonl"
        command = [sys.executable, "-m", "scrapy", "crawl", spider]
        for name, value in spider_args.items():
            command += ["-a", f"{name}={value}"]
        command += ["-s", f"SANGRAH_STORE={store}", "-s", f"SANGRAH_REPORT={report}"]
        if not verbose:
            command += ["-s", "LOG_LEVEL=WARNING"]
        for setting in settings or []:
            command += ["-s", setting]
        env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawler.settings"}
        if proxy:
            # Scrapy's HttpProxyMiddleware reads these; the replay proxy terminates TLS itself.
            env.update(http_proxy=proxy, https_proxy=proxy, HTTP_PROXY=proxy, HTTPS_PROXY=proxy)
            env.pop("no_proxy", None)
            env.pop("NO_PROXY", None)
        code = subprocess.call(command, env=env)
        lines = report.read_text("utf-8").splitlines() if report.exists() else []
        if code != 0 and not lines:
            console.print(f"[red]scrapy exited with status {code}[/red]")
        return [json.loads(line) for line in lines]


def print_results(results: list[dict]) -> None:
    out = Console(highlight=False)
    for r in results:
        ok = bool(r["txt"])
        mark = "[green]archived[/green]" if ok else "[yellow]no TXT[/yellow]"
        out.print(f"{mark} {r['url']}")
        if r.get("final_url") and r["final_url"] != r["url"]:
            out.print(f"    final   {r['final_url']}")
        if r["status"] is not None:
            out.print(f"    status  {r['status']}")
        if r["txt"]:
            out.print(f"    txt     {r['txt']}")
        if r["warc"]:
            out.print(f"    warc    {r['warc']}  offset {r['offset']}  length {r['length']}")
        if r.get("title"):
            out.print(f"    title   {r['title']}")
        if r.get("published"):
            out.print(f"    date    {r['published']}")
        if r.get("note"):
            out.print(f"    note    {r['note']}")
        if r["reason"]:
            out.print(f"    reason  {r['reason']}")


def warn_spool(store: str) -> None:
    spool = default_spool_dir(store) if not os.environ.get("SANGRAH_SPOOL_DIR") else None
    spool = spool or Path(os.environ["SANGRAH_SPOOL_DIR"])
    waiting = [p for p in spool.rglob("*") if p.is_file()] if spool.exists() else []
    if waiting:
        console.print(
            f"[red]{len(waiting)} files wait in the spool {spool} (the store was not reachable); "
            "they go up with the next run or `sangrah sync`.[/red]"
        )


@app.command()
def fetch(
    urls: Annotated[list[str], typer.Argument(help="Article URLs to archive.")],
    store: StoreOption = "./archive-data",
    replay: ReplayOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per URL.")] = False,
    setting: SettingOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Archive URLs now: WARC records for every exchange, a seed-format TXT per article."""
    results = run_spider(
        "fetch",
        {"urls": ",".join(urls)},
        store=store,
        replay=replay,
        settings=setting,
        verbose=verbose,
    )
    by_url = {r["url"]: r for r in results}
    missing = [u for u in urls if u not in by_url]
    for url in missing:
        by_url[url] = {
            "url": url, "final_url": None, "status": None, "txt": None, "warc": None,
            "offset": None, "length": None, "title": None, "published": None,
            "reason": "no result (the crawl stopped early; see the log)",
        }  # fmt: skip
    ordered = [by_url[u] for u in urls]
    if json_output:
        for r in ordered:
            print(json.dumps(r, ensure_ascii=False))
    else:
        print_results(ordered)
    warn_spool(store)
    raise typer.Exit(0 if all(r["txt"] for r in ordered) else 1)


@app.command()
def sync(store: StoreOption = "./archive-data") -> None:
    """Publish files left in the spool by runs that could not reach the store."""
    from archive.spool import Spool
    from archive.storage import open_store

    target = open_store(store)
    spool_dir = Path(os.environ.get("SANGRAH_SPOOL_DIR") or default_spool_dir(store))
    published, failed = Spool(spool_dir, target).publish_pending()
    for key in published:
        console.print(f"published {key}")
    for key, reason in failed:
        console.print(f"[red]still waiting: {key}: {reason}[/red]")
    raise typer.Exit(1 if failed else 0)


def main() -> None:
    app()
