"""The ``sangrah`` command.

Crawling runs Scrapy in a child process (``python -m scrapy crawl ...``): this module, like the
rest of ``archive``, does not import Scrapy, and each run gets a fresh reactor. The child writes
one JSON line per URL to a report file, which this process reads and prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, NoReturn
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.markup import escape as rich_escape

# typer 0.29 vendors click: its exceptions, not the `click` package's, are what parsing raises.
from typer._click import exceptions as click_errors
from typer._click.globals import get_current_context

from archive.store.layout import default_spool_dir
from archive.warc.records import read_payload

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n")[0])
console = Console(stderr=True, soft_wrap=True)


def usage(message: str) -> click_errors.UsageError:
    """A bad argument or a missing resource: `main` prints it as one line and exits 2."""
    return click_errors.UsageError(message, ctx=get_current_context(silent=True))


def _version(value: bool) -> None:
    if value:
        from archive import __version__

        print(f"sangrah {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Scrapy crawler and WARC archive of Hindi news: crawl, fetch, browse, search, export."""


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


def check_replay(paths: list[Path] | None) -> None:
    for path in paths or []:
        if not path.exists():
            raise usage(f"--replay: {path} does not exist; give a corpus folder or WARC files")


@contextlib.contextmanager
def replay_proxy(paths: list[Path] | None) -> Iterator[str | None]:
    if not paths:
        yield None
        return
    from archive.replay.proxy import ReplayProxy, load_resources

    # SANGRAH_REPLAY_LATENCY: seconds before each answer, a distant site (bench/workers.py)
    latency = float(os.environ.get("SANGRAH_REPLAY_LATENCY") or 0)
    with ReplayProxy(load_resources(list(paths)), latency=latency) as proxy:
        yield proxy.url


def replay_env(proxy: str, s3_endpoint: str | None) -> dict[str, str]:
    """Route every request of the crawl through the replay proxy, and nothing else.

    Scrapy's HttpProxyMiddleware reads the proxy variables, and so does everything else in the
    child (tldextract's suffix-list download ends at the proxy, not on the internet); the store
    is exempt, or boto3 would ask the replay proxy for S3.
    """
    bypass = [".amazonaws.com"]
    if s3_endpoint:
        bypass.append(urlsplit(s3_endpoint).hostname or "")
    names = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
    return {
        **dict.fromkeys(names, proxy),
        "no_proxy": ",".join(bypass),
        "NO_PROXY": ",".join(bypass),
    }


# `scrapy crawl`, with the public suffix list that tldextract ships instead of a download:
# Scrapy's cookie middleware builds a module-level TLDExtract whose first call fetches the list
# from the internet (through the replay proxy it fails with two long tracebacks). The crawl itself
# is the only network traffic a command makes.
_SCRAPY_OFFLINE_PSL = (
    "import sys, tldextract, scrapy.downloadermiddlewares.cookies as cookies; "
    "cookies._split_domain = tldextract.TLDExtract("
    "suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True); "
    "from scrapy.cmdline import execute; sys.argv[0] = 'scrapy'; execute()"
)


_children: set[subprocess.Popen] = set()
_children_lock = threading.RLock()  # the handler runs on the main thread, which may hold it


@contextlib.contextmanager
def child_process(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """A crawl child that a SIGTERM to this process reaches (see :func:`pass_on_termination`)."""
    with subprocess.Popen(command, env=env) as child:
        with _children_lock:
            _children.add(child)
        try:
            yield child
        finally:
            with _children_lock:
                _children.discard(child)


def pass_on_termination(signum: int, _frame: object) -> None:
    """``docker stop``, a deleted pod, ``systemctl stop``: SIGTERM goes to the crawl children,
    which stop as Scrapy does on it (pages in flight finished and archived, the WARC sealed and
    published), and this process reports and exits when they have. As a container's PID 1, a
    process with no handler would not even receive the signal."""
    with _children_lock:
        children = list(_children)
    if not children:  # nothing to hand it to (browse, verify, between crawls): exit now. Not
        # by re-sending the signal with the default action: PID 1 would ignore that too.
        raise SystemExit(128 + signum)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)


def run_spider(
    spider: str,
    spider_args: dict[str, str],
    *,
    store: str,
    replay: list[Path] | None,
    settings: list[str] | None,
    verbose: bool,
    progress: bool = True,
) -> list[dict]:
    """Run one spider in a child Scrapy process; return its per-URL report lines."""
    with tempfile.TemporaryDirectory(prefix="sangrah-") as tmp, replay_proxy(replay) as proxy:
        report = Path(tmp) / "report.jsonl"
        command = [sys.executable, "-c", _SCRAPY_OFFLINE_PSL, "crawl", spider]
        for name, value in spider_args.items():
            command += ["-a", f"{name}={value}"]
        command += ["-s", f"SANGRAH_STORE={store}", "-s", f"SANGRAH_REPORT={report}"]
        if not verbose:
            command += ["-s", "LOG_LEVEL=WARNING"]
        for setting in settings or []:
            command += ["-s", setting]
        env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawler.settings"}
        if proxy:
            env.update(replay_env(proxy, env.get("AWS_ENDPOINT_URL")))
        shown = progress and console.is_terminal  # in place on a terminal, never in logs or pipes
        if shown:
            progress = Path(tmp) / "progress.jsonl"
            command += ["-s", f"SANGRAH_PROGRESS={progress}"]
        with child_process(command, env) as child:
            try:
                if shown:
                    from archive.progress import show_progress

                    show_progress(child, progress, spider, console)
                code = child.wait()
            except BaseException:  # as subprocess.call: an interrupted parent takes it along
                child.kill()
                raise
        lines = report.read_text("utf-8").splitlines() if report.exists() else []
        if code < 0:
            console.print(f"[red]the crawl process was killed (signal {-code})[/red]")
        elif code != 0 and not lines:
            console.print(f"[red]scrapy exited with status {code}[/red]")
        return [json.loads(line) for line in lines]


def print_results(results: list[dict]) -> None:
    out = Console(highlight=False, soft_wrap=True)
    for r in results:
        ok = bool(r["txt"])
        mark = "[green]archived[/green]" if ok else "[yellow]no TXT[/yellow]"
        out.print(f"{mark} {short_url(r['url'])}")
        if r.get("final_url") and r["final_url"] != r["url"]:
            out.print(f"    final   {short_url(r['final_url'])}")
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


def check_store(store: str) -> None:
    """Fail in one line, before anything is fetched, when the store cannot take files."""
    from archive.store import StoreError, open_store

    try:
        target = open_store(store)
    except ValueError as exc:
        raise usage(f"--store: {exc}") from None
    try:
        target.check()
    except StoreError as exc:
        if _is_local_file(store):
            raise usage(f"--store: {store} is not a directory; give a directory or s3://") from None
        console.print(f"[red]cannot archive into {store}: {exc}[/red]")
        raise typer.Exit(1) from None


def _is_local_file(store: str) -> bool:
    from archive.store import path_from_uri
    from archive.store.layout import is_local

    return is_local(store) and path_from_uri(store).exists() and not path_from_uri(store).is_dir()


def spool_dir(store: str) -> Path:
    return Path(os.environ.get("SANGRAH_SPOOL_DIR") or default_spool_dir(store))


def warn_spool(store: str) -> int:
    """Say what waits in the spool; returns how many files wait."""
    spool = spool_dir(store)
    waiting = [
        p
        for p in (spool.rglob("*") if spool.exists() else [])
        # dot-named files are the spool's own state (.store, a remote store's .catalog.sqlite)
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".tmp")
    ]
    if waiting:
        console.print(
            f"[red]{len(waiting)} files wait in the spool {spool}; "
            "they go up with the next run or `sangrah sync`.[/red]"
        )
    return len(waiting)


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
    check_replay(replay)
    check_store(store)
    from archive.egress import syntax_problem

    bad = {u: problem for u in urls if (problem := syntax_problem(u))}
    for url, problem in bad.items():
        console.print(f"[red]not fetched: {short_url(url)}: {problem}[/red]", highlight=False)
    good = [u for u in dict.fromkeys(urls) if u not in bad]
    results = []
    if good:
        with tempfile.TemporaryDirectory(prefix="sangrah-urls-") as tmp:
            # A file, not a comma-joined argument: URLs go to the spider exactly as given.
            listed = Path(tmp, "urls.json")
            listed.write_text(json.dumps(good), "utf-8")
            results = run_spider(
                "fetch",
                {"urls_file": str(listed)},
                store=store,
                replay=replay,
                settings=setting,
                verbose=verbose,
            )
    by_url = {r["url"]: r for r in results}
    for url in urls:
        if url not in by_url:
            by_url[url] = no_result(url, bad.get(url))
    ordered = [by_url[u] for u in urls]
    if json_output:
        for r in ordered:
            print(json.dumps(r, ensure_ascii=False))
    else:
        print_results(ordered)
    warn_spool(store)
    raise typer.Exit(0 if all(r["txt"] for r in ordered) else 1)


def no_result(url: str, reason: str | None) -> dict:
    return {
        "url": url, "final_url": None, "status": None, "txt": None, "warc": None,
        "offset": None, "length": None, "title": None, "published": None, "note": None,
        "reason": reason or "no result (the crawl stopped early; see the log)",
    }  # fmt: skip


def short_url(url: str, limit: int = 200) -> str:
    """A URL fit for one line of output (a pasted 60,000-character one is not)."""
    return url if len(url) <= limit else f"{url[:limit]}... ({len(url)} characters)"


def archive_session(store: str, command: str):
    """A session writing this command's own WARC into the store's spool; one line and exit 1
    when the store or the spool cannot be used."""
    from archive import __version__
    from archive.session import open_session
    from archive.store import StoreError, open_store
    from archive.store.spool import SpoolMismatch

    target = open_store(store)
    info = {"software": f"sangrah/{__version__} {command}", "format": "WARC File Format 1.1"}
    try:
        target.check()
        return open_session(target, spool_dir(store), info)
    except (StoreError, SpoolMismatch) as exc:
        console.print(f"[red]{command}: {exc}[/red]")
        raise typer.Exit(1) from None


@app.command()
def sync(store: StoreOption = "./archive-data") -> None:
    """Publish what runs that died or could not reach the store left in the spool."""
    session = archive_session(store, "sync")
    report = session.recover(load_captures=False)
    session.close()
    for key in report.rescued:
        console.print(f"sealed {key} (left open by a run that died)")
    for key in report.published:
        console.print(f"published {key}")
    for key in report.named:
        console.print(f"named and stored {key}")
    for key, reason in [*report.failed, *session.unpublished]:
        console.print(f"[red]still waiting: {key}: {reason}[/red]")
    raise typer.Exit(1 if report.failed or session.unpublished else 0)


@app.command()
def reprocess(
    store: StoreOption = "./archive-data",
    source: Annotated[str | None, typer.Option(help="Only this source's pages.")] = None,
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD: captured on or after.")] = None,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD: captured on or before.")] = None,
    workers: Annotated[int | None, typer.Option(help="Extraction processes (all cores).")] = None,
) -> None:
    """Extract TXTs again from the stored WARCs (no refetching): changed texts become versions."""
    from archive.catalog.db import Catalog
    from archive.reprocess import reprocess as run

    session = archive_session(store, "reprocess")
    target = session.store
    session.recover(load_captures=False)
    with Catalog.for_store(target) as catalog:
        catalog.update(target)
        counts = run(
            session, catalog, source=source, since=since, until=until, workers=workers,
            sources_file=os.environ.get("SANGRAH_SOURCES") or None,
        )  # fmt: skip
    session.close()
    console.print(", ".join(f"{name} {n}" for name, n in counts.items()))
    waiting = warn_spool(store)
    raise typer.Exit(1 if waiting or session.unstored or counts["failed"] else 0)


@app.command()
def verify(
    store: StoreOption = "./archive-data",
    repair: Annotated[
        bool, typer.Option(help="Rebuild missing indexes and TXTs from the WARCs.")
    ] = False,
) -> None:
    """Check the store's invariants: whole WARCs with their indexes, one TXT per article text."""
    from archive.store import StoreError, open_store
    from archive.store.verify import iter_lines, verify_store

    target = open_store(store)
    try:
        target.check()
        report = verify_store(target, repair=repair)
    except StoreError as exc:
        console.print(f"[red]verify: {exc}[/red]")
        raise typer.Exit(1) from None
    out = Console(highlight=False, soft_wrap=True)
    for line in iter_lines(report):
        out.print(line, markup=False)
    raise typer.Exit(0 if report.clean else 1)


@app.command()
def crawl(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Sources: pib ians ndtv webdunia generic.")
    ] = None,
    all_sources: Annotated[
        bool, typer.Option("--all", help="Every source with discovery URLs in sources.toml.")
    ] = False,
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD: skip links dated before.")] = None,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD: skip links dated after.")] = None,
    limit: Annotated[
        int | None, typer.Option(min=0, help="At most N articles per source (0: all).")
    ] = None,
    prid_range: Annotated[str | None, typer.Option(help="pib: backfill PRIDs A-B.")] = None,
    refetch: Annotated[
        bool, typer.Option(help="Request articles already archived too (default: skip them).")
    ] = False,
    redis: Annotated[
        str | None,
        typer.Option(help="redis://host:port/db: one of several workers sharing one frontier."),
    ] = None,
    revisit: Annotated[
        str | None,
        typer.Option(
            help="48h, 2d: also re-fetch archived articles that young; edits become new versions."
        ),
    ] = None,
    start_url: Annotated[list[str] | None, typer.Option(help="generic: start page.")] = None,
    feed: Annotated[list[str] | None, typer.Option(help="generic: RSS/Atom feed.")] = None,
    sitemap: Annotated[list[str] | None, typer.Option(help="generic: sitemap.")] = None,
    store: StoreOption = "./archive-data",
    replay: ReplayOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="JSON lines: URLs, summaries.")
    ] = False,
    setting: SettingOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Discover articles (feeds, sitemaps, listings) and archive them, newest first."""
    from archive.discover.sources import load_sources

    names = list(sources or [])
    if all_sources:
        found = load_sources().items()
        keys = ("feeds", "sitemaps", "listings")
        names += [n for n, s in found if n != "generic" and any(s.discovery.get(k) for k in keys)]
    if not names:
        raise usage("name at least one source (pib ians ndtv webdunia generic), or give --all")
    check_crawl_args(names, since, until, prid_range, start_url or feed or sitemap)
    check_replay(replay)
    check_store(store)
    common = {
        "since": since,
        "until": until,
        "limit": str(limit) if limit else None,
        "refetch": "1" if refetch else None,
        "revisit": revisit,
    }
    per_source = {
        "pib": {"prid_range": prid_range},
        "generic": {"start_url": ",".join(start_url or []), "feed": ",".join(feed or []),
                    "sitemap": ",".join(sitemap or [])},
    }  # fmt: skip
    # A replay needs no politeness delays; -s options still override these.
    settings = [
        *(["DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False"] if replay else []),
        *([f"SANGRAH_REDIS_URL={redis}"] if redis else []),
        *(setting or []),
    ]
    names = list(dict.fromkeys(names))

    def run_source(name: str) -> list[dict]:
        args = {k: v for k, v in {**common, **per_source.get(name, {})}.items() if v}
        return run_spider(
            name, args, store=store, replay=replay, settings=settings, verbose=verbose,
            progress=len(names) == 1,
        )  # fmt: skip

    # Sources run at once, each in its own process with its own politeness (they are different
    # sites); the archiving rules hold for concurrent writers into one store.
    with ThreadPoolExecutor(len(names)) as pool:
        runs = list(pool.map(run_source, names))
    summaries = []
    for name, lines in zip(names, runs, strict=True):
        summary = next((line["summary"] for line in lines if "summary" in line), None)
        summary = summary or {"source": name, "ok": False, "problem": "no summary (see the log)"}
        summaries.append(summary)
        if json_output:
            for line in lines:
                print(json.dumps(line, ensure_ascii=False))
            if not any("summary" in line for line in lines):
                print(json.dumps({"summary": summary}, ensure_ascii=False))
    out = Console(highlight=False, stderr=json_output, soft_wrap=True)
    for s in summaries:
        mark = "[green]ok[/green]" if s["ok"] else f"[red]FAILED: {s.get('problem')}[/red]"
        counts = ("discovered", "requested", "archived", "not_article", "failed")
        out.print(f"{mark} {s['source']}: " + ", ".join(f"{c} {s.get(c, '-')}" for c in counts))
        if skipped := s.get("skipped"):
            out.print("    skipped: " + ", ".join(f"{k} x{v}" for k, v in skipped.items()))
        if s.get("reasons"):
            out.print("    no TXT: " + ", ".join(f"{k} x{v}" for k, v in s["reasons"].items()))
        if errors := s.get("discovery_errors"):
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            out.print(f"    [yellow]feeds/sitemaps/listings failed: {errors[0]}{more}[/yellow]")
    waiting = warn_spool(store)
    raise typer.Exit(0 if all(s["ok"] for s in summaries) and not waiting else 1)


def check_crawl_args(
    names: list[str], since: str | None, until: str | None, prid_range: str | None, generic: object
) -> None:
    from archive.discover.discovery import parse_id_range
    from archive.discover.sources import load_sources

    known = list(load_sources())
    for name in names:
        if name not in known:
            raise usage(f"unknown source {name!r}: use one of {', '.join(known)}, or --all")
    for option, value in (("--since", since), ("--until", until)):
        day(value, option)
    if prid_range is not None:
        try:
            parse_id_range(prid_range)
        except ValueError:
            raise usage(
                f"--prid-range: {prid_range!r} is not a PRID range; give A-B, e.g. 2126700-2127300"
            ) from None
    if "generic" in names and not generic:
        raise usage("generic needs somewhere to start: --start-url URL (or --feed, --sitemap URL)")


JsonOption = Annotated[bool, typer.Option("--json", help="JSON: one object per line.")]
SourceOption = Annotated[str | None, typer.Option("--source", help="Only this source.")]


def open_catalog(store_uri: str):
    """The store and its catalog, brought up to date with the index files in the store."""
    from archive.catalog.db import Catalog
    from archive.store import open_store, path_from_uri
    from archive.store.layout import is_local

    if is_local(store_uri) and not path_from_uri(store_uri).is_dir():
        raise usage(no_archive(store_uri))
    try:
        store = open_store(store_uri)
    except ValueError as exc:
        raise usage(f"--store: {exc}") from None
    catalog = Catalog.for_store(store)
    try:
        catalog.update(store)
    except OSError as exc:  # an unreachable store: what the catalog knows is still worth seeing
        console.print(f"[yellow]catalog not updated, it may be out of date: {exc}[/yellow]")
    return store, catalog


def print_articles(rows: list[dict], json_output: bool) -> None:
    for row in rows:
        if json_output:
            print(json.dumps(row, ensure_ascii=False))
        else:
            date = (row["published"] or "-")[:16].replace("T", " ")
            print(f"{date:<16}  {row['source'] or '-':<8}  {row['title']}  {row['txt']}")


def no_archive(store_uri: str) -> str:
    return f"no archive at {store_uri}; give --store the directory a crawl wrote into"


def day(value: str | None, option: str = "--since/--until") -> str | None:
    from datetime import date

    try:
        if value and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return date.fromisoformat(value).isoformat() if value else None
    except ValueError:
        message = f"{option}: {value!r} is not a date; give YYYY-MM-DD, e.g. 2025-05-01"
        raise usage(message) from None


@app.command("ls")
def list_articles(
    source: SourceOption = None,
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD: published on or after.")] = None,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD: published on or before.")] = None,
    limit: Annotated[int, typer.Option(min=0, help="At most N articles (0: all).")] = 100,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed", help="URLs that got no TXT and why, newest first (dates: capture day)."
        ),
    ] = False,
    json_output: JsonOption = False,
    store: StoreOption = "./archive-data",
) -> None:
    """List archived articles, newest first: date, source, title, TXT key (--failed: the URLs
    that got no TXT, with the reason)."""
    since, until = day(since, "--since"), day(until, "--until")
    _store, catalog = open_catalog(store)
    with catalog:
        if failed:
            print_failures(catalog.failures(source, since, until, limit or None), json_output)
            return
        rows = catalog.articles(source, since, until, limit or None)
    print_articles(rows, json_output)


def print_failures(rows: list[dict], json_output: bool) -> None:
    for row in rows:
        if json_output:
            print(json.dumps(row, ensure_ascii=False))
        else:
            when = (row["date"] or "-")[:16].replace("T", " ")
            status = row["status"] or "-"
            print(
                f"{when:<16}  {row['source'] or '-':<8}  {status:<3}  {row['reason']}  {row['url']}"
            )


@app.command()
def stats(
    source: SourceOption = None,
    json_output: JsonOption = False,
    store: StoreOption = "./archive-data",
) -> None:
    """Per source and capture day (UTC): articles archived, failures by reason, last success."""
    _store, catalog = open_catalog(store)
    with catalog:
        rows = [r for r in catalog.day_stats() if not source or r["source"] == source]
    if json_output:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    print(f"{'day':<10}  {'source':<8}  {'articles':>8}  {'failed':>6}  {'last success':<16}  why")
    for r in rows:
        last = (r["last_success"] or "never")[:16].replace("T", " ")
        why = "; ".join(f"{reason} x{n}" for reason, n in r["failures"].items())
        print(
            f"{r['day'] or '-':<10}  {r['source'] or '-':<8}  {r['articles']:>8}  "
            f"{r['failed']:>6}  {last:<16}  {why}"
        )


@app.command()
def search(
    query: Annotated[
        str,
        typer.Argument(
            help='Words that must all occur; "two words" for a phrase, word* for a prefix.'
        ),
    ],
    source: SourceOption = None,
    limit: Annotated[int, typer.Option(min=0, help="At most N articles a page (0: all).")] = 20,
    page: Annotated[int, typer.Option(min=1, help="Page N of the results.")] = 1,
    json_output: JsonOption = False,
    store: StoreOption = "./archive-data",
) -> None:
    """Full-text search over article titles and texts, best match first, with the passage that
    matched (exit 1: no match). Digits match in either script: ०५ finds 05."""
    from archive.catalog.db import MARK

    _store, catalog = open_catalog(store)
    with catalog:
        total = catalog.count(query, source)
        rows = catalog.search(query, source, limit or None, offset=(page - 1) * (limit or 0))
    pages = -(-total // limit) if limit else 1
    console.print(f"{total} articles match; page {page} of {max(pages, 1)}", highlight=False)
    out = Console(highlight=False, soft_wrap=True)
    for row in rows:
        snippet = row.pop("snippet", None) or ""
        row.pop("title_marked", None)
        if json_output:
            row["snippet"] = snippet.replace(MARK[0], "«").replace(MARK[1], "»")
            print(json.dumps(row, ensure_ascii=False))
            continue
        print_articles([row], False)
        if snippet:
            text = rich_escape(snippet)
            # On a terminal the matched words are bold; piped, they are set off by « ».
            start, end = ("[bold]", "[/bold]") if out.is_terminal else ("«", "»")
            out.print("    " + text.replace(MARK[0], start).replace(MARK[1], end))
    raise typer.Exit(0 if rows else 1)


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="A URL, canonical URL or TXT key.")],
    raw: Annotated[
        bool, typer.Option("--raw", help="Print the archived HTTP payload instead.")
    ] = False,
    versions: Annotated[
        bool,
        typer.Option(
            "--versions", help="Every version of the article and what changed, word by word."
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    store: StoreOption = "./archive-data",
) -> None:
    """Show an archived article (metadata and TXT), or the latest capture of a URL and why it
    got no TXT."""
    target, catalog = open_catalog(store)
    with catalog:
        found = catalog.find(ref)
        captures = catalog.captures(found["url"]) if found else []
        history = catalog.versions(found) if versions and found and found.get("txt") else None
    if found is None:
        console.print(f"[red]not in the archive: {ref}[/red]")
        raise typer.Exit(1)
    if versions:
        if history is None:
            console.print(f"[red]{ref} is a capture without an article: no versions[/red]")
            raise typer.Exit(1)
        print_versions(target, history, json_output)
        return
    if raw:
        sys.stdout.buffer.write(
            read_payload(target, found["warc"], found["offset"], found["length"])[1]
        )
        sys.stdout.buffer.flush()
        return
    try:
        text = target.get_bytes(found["txt"]).decode("utf-8") if found.get("txt") else None
    except FileNotFoundError:
        text = None
        console.print(f"[yellow]{found['txt']} is not in the store (yet)[/yellow]")
    if json_output:
        print(json.dumps({**found, "captures": captures, "text": text}, ensure_ascii=False))
        return
    hidden = ("id", "published_utc", "capture", "is_revisit", "reason")
    if found.get("capture"):
        print(f"{'no TXT':<14}{found.get('reason') or 'no reason recorded'}")
    for name, value in found.items():
        value = json.dumps(value, ensure_ascii=False) if name == "extra" else value
        if value not in (None, "", "{}") and name not in hidden:
            print(f"{name:<14}{value}")
    for c in captures:
        why = f"  no TXT: {c['reason']}" if c.get("reason") else ""
        print(
            f"{'capture':<14}{c['date']}  {c['status']}  {c['mime']}  {c['warc']}@{c['offset']}"
            + why
        )
    if text is not None:
        print()
        print(text, end="")


def print_versions(target, history: list[dict], json_output: bool) -> None:
    """Each version, oldest first, with the words added and removed since the one before."""
    from archive.text import wordiff

    previous = None
    for number, version in enumerate(history, 1):
        try:
            text = target.get_bytes(version["txt"]).decode("utf-8")
        except FileNotFoundError:
            text = None
        changes = wordiff.diff_words(previous, text) if previous and text else None
        counts = wordiff.summary(changes) if changes else {}
        lines = wordiff.marked(changes) if changes else []
        previous = text if text is not None else previous
        if json_output:
            keep = ("txt", "url", "title", "captured", "published", "version_of", "text_sha256")
            row = {"version": number, **{k: version.get(k) for k in keep}, **counts}
            print(json.dumps({**row, "changes": lines}, ensure_ascii=False))
            continue
        when = (version["captured"] or "-")[:19].replace("T", " ")
        change = f"  +{counts['added']} -{counts['removed']} words" if counts else ""
        missing = "  (TXT not in the store)" if text is None else ""
        print(f"version {number}  {when}  {version['txt']}{change}{missing}")
        print(f"    {version['title']}")
        for line in lines:
            print(f"    {line}")


@app.command()
def export(
    wacz: Annotated[
        Path, typer.Option("--wacz", help="Write a WACZ 1.1.1 file here (ReplayWeb.page, pywb).")
    ],
    source: SourceOption = None,
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD: published on or after.")] = None,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD: published on or before.")] = None,
    store: StoreOption = "./archive-data",
) -> None:
    """Export articles as a WACZ: the WARC files that hold them (whole, as stored), their index,
    and a page list with each article's title and text (full-text search in ReplayWeb.page)."""
    from archive.warc.wacz import export_wacz

    since, until = day(since, "--since"), day(until, "--until")
    if not wacz.parent.is_dir():
        raise usage(f"--wacz: no directory {wacz.parent} to write {wacz.name} into")
    target, catalog = open_catalog(store)
    partial = wacz.with_name(wacz.name + ".part")
    with catalog, open(partial, "wb") as out:
        report = export_wacz(target, catalog, out, source, since, until)
    if not report.pages:
        partial.unlink()
        console.print("[red]no articles match: nothing exported[/red]")
        raise typer.Exit(1)
    partial.replace(wacz)  # a WACZ that exists is whole
    console.print(
        f"wrote {wacz}: {report.pages} pages, {len(report.warcs)} WARC files, "
        f"{report.index_lines} index lines, {wacz.stat().st_size} bytes",
        highlight=False,
    )


catalog_app = typer.Typer(no_args_is_help=True, help="The local catalog (derived, rebuildable).")
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("rebuild")
def catalog_rebuild(store: StoreOption = "./archive-data") -> None:
    """Delete the catalog's contents and read every index file in the store again."""
    from archive.catalog.db import Catalog
    from archive.store import open_store, path_from_uri
    from archive.store.layout import is_local

    if is_local(store) and not path_from_uri(store).is_dir():
        raise usage(no_archive(store))
    try:
        target = open_store(store)
    except ValueError as exc:
        raise usage(f"--store: {exc}") from None
    with Catalog.for_store(target) as catalog:
        catalog.rebuild(target)
        stats = catalog.stats()
    console.print(f"{catalog.path}: " + ", ".join(f"{v} {k}" for k, v in stats.items()))


@app.command()
def browse(
    store: StoreOption = "./archive-data",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    record_port: Annotated[
        int | None, typer.Option(help="Port of the archived records' origin (default: port+1).")
    ] = None,
    replay_port: Annotated[
        int | None,
        typer.Option(help="Port of the replay origin, ReplayWeb.page (default: port+2)."),
    ] = None,
) -> None:
    """Browse the archive in a web browser: articles, search, texts, captures (read-only).

    Runs werkzeug's development server, meant for a browser on this machine. Archived records
    are served from a second origin (--record-port) so that they never run on the UI's, and
    replayed faithfully by ReplayWeb.page (`make replay-ui` installs it) from a third
    (--replay-port), where archived scripts run, away from both. Bound
    beyond loopback (--host 0.0.0.0), every request needs the token in the printed URL.

    In production, put a WSGI server (gunicorn, waitress) in front of archive.web.create_app.
    """
    import ipaddress
    import secrets

    from werkzeug.serving import make_server

    from archive.web import create_app
    from archive.web.app import Guard, loopback_hosts

    record_port = record_port or port + 1
    replay_port = replay_port or port + 2
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None  # a name, e.g. localhost
    loopback = host == "localhost" or (address is not None and address.is_loopback)
    token = None if loopback else secrets.token_urlsafe(24)
    # Bound to every address, the names this machine is reached by are unknown: the token
    # guards it; otherwise only the names of the bound address are accepted.
    every = address is not None and address.is_unspecified
    ports = (port, record_port, replay_port)
    guard = Guard(None if every else loopback_hosts(host, ports), token)
    shown = "127.0.0.1" if every else (f"[{host}]" if ":" in host else host)
    from archive.web.replay import create_replay_app

    try:
        records = create_app(store, guard=guard, records_only=True)
    except FileNotFoundError:
        raise usage(no_archive(store)) from None
    except ValueError as exc:
        raise usage(f"--store: {exc}") from None
    try:
        replay = create_replay_app(store, guard=guard)
    except FileNotFoundError as exc:  # the UI works without it, only the replay links go
        console.print(f"[yellow]no replay: {exc}[/yellow]")
        replay = None
    replay_base = f":{replay_port}" if replay else None
    ui = create_app(store, guard=guard, record_base=f":{record_port}", replay_base=replay_base)
    servers = [make_server(host, port, ui, threaded=True)]
    servers.append(make_server(host, record_port, records, threaded=True))
    if replay:
        servers.append(make_server(host, replay_port, replay, threaded=True))
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    replaying = f", replay from port {replay_port}" if replay else ""
    console.print(
        f"browsing {store} at {url} (records from port {record_port}{replaying}; Ctrl-C stops)"
    )
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.server_close()


@app.command("check-source")
def check_source(
    source: Annotated[str, typer.Argument(help="The source whose spec to check: pib, ndtv, ...")],
    page: Annotated[str, typer.Argument(help="A URL, or an HTML FILE saved from the site.")],
    url: Annotated[
        str | None, typer.Option(help="FILE: the page's URL (default: its canonical link).")
    ] = None,
    live: Annotated[
        bool, typer.Option("--live", help="URL: fetch it now, over HTTP (not through Scrapy).")
    ] = False,
    sources_file: Annotated[
        Path | None,
        typer.Option("--sources", envvar="SANGRAH_SOURCES", help="Override file for sources.toml."),
    ] = None,
    store: StoreOption = "./archive-data",
    replay: ReplayOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Show what the extractor makes of one page under a source's spec: the selectors that
    match (with node counts), each extraction path's reading, the path chosen, the TXT.

    A URL is read from the store's WARCs (--store), from --replay, or live (--live); exit 0
    when the page would give a TXT.
    """
    from archive.discover import checksource, pagefetch
    from archive.discover.sources import SourcesError, load_sources, source_for_url

    override = str(sources_file) if sources_file else None
    try:
        spec = load_sources(override).get(source)
    except (SourcesError, OSError, ValueError) as exc:  # tomllib's errors are ValueErrors
        check_failed(str(exc))
    if spec is None:
        known = ", ".join(load_sources(override))
        raise typer.BadParameter(f"no source {source!r} (known: {known})")
    note = None
    try:
        if page.lower().startswith(("http://", "https://")):
            if replay:
                from archive.replay.proxy import ReplayProxy, load_resources

                with ReplayProxy(load_resources(list(replay))) as proxy:
                    got = pagefetch.fetch(page, proxy=proxy.url, ca_pem=proxy.ca_pem)
            elif live:
                allow = os.environ.get("SANGRAH_EGRESS_ALLOW", "").split(",")
                got = pagefetch.fetch(page, allow=[a for a in allow if a.strip()])
            else:
                got = pagefetch.from_store(store, page)
            page_url = got.url or page
        else:
            got = pagefetch.from_file(Path(page))
            page_url, note = url, None
            if page_url is None:
                page_url, note = checksource.url_of_file(got.body, spec, Path(page).name)
    except (pagefetch.PageError, FileNotFoundError) as exc:
        check_failed(str(exc))
    owner = source_for_url(page_url, override).name
    if owner != spec.name:
        check_failed(f"{page_url} is a {owner} URL, not {spec.name}'s (give --url for a FILE)")
    report = checksource.check(
        got.body, page_url, spec, content_type=got.content_type, origin=got.origin,
        url_note=note, sources_file=override,
    )  # fmt: skip
    if json_output:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print("\n".join(checksource.render(report)))
    raise typer.Exit(0 if report.txt is not None else 1)


def check_failed(message: str) -> NoReturn:
    typer.echo(f"check-source: {message}", err=True)
    raise typer.Exit(2)


def main() -> None:
    """The command; a bad argument or a missing resource is one line on stderr and exit 2."""
    signal.signal(signal.SIGTERM, pass_on_termination)
    try:
        code = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()
        code = exc.exit_code
    except click_errors.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "sangrah"
        message = " ".join(exc.format_message().split())
        print(f"{where}: {message} (see `{where} --help`)", file=sys.stderr)
        code = 2
    except click_errors.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except typer.Abort:
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
