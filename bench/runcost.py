"""Run cost against archive size: a one-URL fetch and a no-op incremental crawl on an empty
store and on a store with a million captures, in the same run.

    python -m bench.runcost [--captures 1000000] [--per-index 50] [--repeat 3]

The big store is synthetic: ``--captures`` CDXJ lines in index files of ``--per-index`` lines
(20,000 files for a million: about a year of hourly runs), one in five a metadata line naming an
article; its catalog is built once (the first update lists every index file; the time is
reported), as a long-running archive's is. Then both stores get the same work through the replay
proxy, and the wall time and peak RSS of each command (the CLI and its Scrapy child) are
compared: the target is a ratio within 1.2.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archive.catalog.db import Catalog
from archive.store.local import LocalStore
from archive.warc import cdxj
from tests.corpus_urls import CORPUS, manifest

SANGRAH = str(Path(sys.executable).with_name("sangrah"))
URL = next(e["url"] for e in manifest() if e["kind"] == "article" and e["source"] == "ndtv")


def synthetic_store(root: Path, captures: int, per_index: int) -> float:
    """Write the index files; returns the seconds the first catalog update took."""
    store = LocalStore(root)
    for n in range(captures // per_index):
        day = f"2025/{1 + n % 12:02d}/{1 + n % 28:02d}"
        warc = f"warc/{day}/sangrah-2025{n:015d}-00000-bench-1.warc.gz"
        entries = []
        for i in range(per_index):
            url = f"https://ndtv.in/india/bench-{n}-{i}"
            fields = {"mime": "text/html", "status": "200", "digest": f"sha1:{n:016d}{i:016d}",
                      "length": "5000", "offset": str(i * 5000), "filename": warc.rsplit("/")[-1],
                      "id": f"<urn:uuid:{n}-{i}>", "date": "2025-01-01T00:00:00Z"}  # fmt: skip
            entries.append(cdxj.CdxjEntry(url, "20250101000000", fields))
            if i % 5 == 0:
                meta = {"type": "metadata", "mime": "application/json", "offset": "1",
                        "length": "1", "refers_to": {"warc": warc, "offset": i * 5000},
                        "txt": f"txt/ndtv/{day}/{i:03d}_{n:016x}.txt", "title": f"t{n}",
                        "canonical_url": url, "source": "ndtv"}  # fmt: skip
                entries.append(cdxj.CdxjEntry(url, "20250101000000", meta))
        store.put_bytes(warc.removesuffix(".warc.gz") + ".cdxj", cdxj.render(entries))
    started = time.perf_counter()
    with Catalog.for_store(store) as catalog:
        catalog.update(store)
    return time.perf_counter() - started


def measured(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of the command and everything it waited for."""
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        f"code = subprocess.call({command!r}, stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL)\n"
        "print(json.dumps([time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, code]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    seconds, rss, code = json.loads(out.stdout)
    if code != 0:
        raise RuntimeError(f"{command} exited with {code}")
    return seconds, rss


def fetch(store: Path) -> list[str]:
    return [SANGRAH, "fetch", "--store", str(store), "--replay", str(CORPUS), URL]


def crawl(store: Path) -> list[str]:
    return [SANGRAH, "crawl", "webdunia", "--store", str(store), "--replay", str(CORPUS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captures", type=int, default=1_000_000)
    parser.add_argument("--per-index", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    assert resource  # measured() runs the probe in a child
    with tempfile.TemporaryDirectory() as tmp:
        empty, big = Path(tmp, "empty"), Path(tmp, "big")
        built = time.perf_counter()
        catalog_seconds = synthetic_store(big, args.captures, args.per_index)
        print(
            f"synthetic store: {args.captures} captures in "
            f"{args.captures // args.per_index} index files, written and catalogued in "
            f"{time.perf_counter() - built:.0f} s (first catalog update {catalog_seconds:.0f} s)"
        )
        for store in (empty, big):  # the articles the no-op crawl will skip
            measured(crawl(store))
        rows = []
        for name, command in (("fetch of one URL", fetch), ("no-op incremental crawl", crawl)):
            results = {}
            for label, store in (("empty", empty), ("big", big)):
                runs = [measured(command(store)) for _ in range(args.repeat)]
                results[label] = (statistics.median(r[0] for r in runs),
                                  statistics.median(r[1] for r in runs))  # fmt: skip
            (t0, m0), (t1, m1) = results["empty"], results["big"]
            rows.append(f"| {name} | {t0:.2f} s, {m0:.0f} MiB | {t1:.2f} s, {m1:.0f} MiB "
                        f"| {t1 / t0:.2f}x | {m1 / m0:.2f}x |")  # fmt: skip
    print(f"\n| work | empty store | {args.captures:,} captures | time ratio | RSS ratio |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
