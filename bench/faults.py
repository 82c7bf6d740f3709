"""Fault trials: kill, recover, count what was lost and what was duplicated.

    python -m bench.faults [--random 5] [--points all] [--s3]

Each trial runs ``sangrah fetch`` of every article of the bundled corpus into a fresh store
through the replay proxy, with a fault: SIGKILL at a named step of the write path
(``SANGRAH_KILL_AT``), or SIGKILL of the whole crawl at a random moment, or (``--s3``) the S3
server killed at a step and restarted. Then ``sangrah sync``, a rerun of the same URLs and
``sangrah verify``. Counted after recovery:

- lost: articles without a TXT, TXTs a metadata record names that are missing, WARCs that are
  not whole, records whose digests fail;
- duplicated: TXT files beyond one per (article, text), TXTs sharing an NNN in a folder, TXTs
  named by more than one metadata record.

Prints a Markdown table (fault, trials, lost, duplicated, verify) for the closing note.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from archive.store import open_store
from archive.store.verify import verify_store
from tests.corpus_urls import CORPUS, manifest

SANGRAH = str(Path(sys.executable).with_name("sangrah"))
ARTICLES = [e["url"] for e in manifest() if e["kind"] == "article"]
ROTATE = ["--set", "SANGRAH_WARC_MAX_SIZE=150000"]
POINTS = [
    "warc.record:7", "warc.record:40", "txt.claimed:3", "txt.recorded:3", "txt.stored:3",
    "seal.indexed:1", "seal.renamed:1", "publish.completed:1", "publish.warc:1",
    "publish.index:1",
]  # fmt: skip
LOST = {"missing TXT", "damaged WARC", "digest", "revisit", "missing index", "partial index"}
TWICE = {"duplicate TXT", "shared ordinal", "named twice", "orphan TXT"}


def fetch(store: str, env: dict, *extra: str) -> subprocess.Popen:
    command = [SANGRAH, "fetch", "--json", "--store", store, "--replay", str(CORPUS), *extra]
    return subprocess.Popen(
        command + ARTICLES,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # a random kill takes the whole process group
    )


def recover(store: str, env: dict) -> tuple[int, int, str]:
    """sync, rerun, verify: (lost, duplicated, verify's last line)."""
    subprocess.run([SANGRAH, "sync", "--store", store], env={**os.environ, **env},
                   capture_output=True, timeout=300)  # fmt: skip
    rerun = fetch(store, env)
    out, _ = rerun.communicate(timeout=600)
    missing = sum('"txt": null' in line for line in out.splitlines())
    verified = subprocess.run([SANGRAH, "verify", "--store", store], env={**os.environ, **env},
                              capture_output=True, text=True, timeout=600)  # fmt: skip
    report = verify_store(open_store(store) if "://" not in store else _s3(store, env))
    kinds = Counter(p.kind for p in report.problems)
    lost = missing + sum(n for k, n in kinds.items() if k in LOST)
    twice = sum(n for k, n in kinds.items() if k in TWICE)
    return lost, twice, verified.stdout.strip().splitlines()[-1]


def _s3(uri: str, env: dict):
    from archive.store.s3 import S3Store

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return S3Store(
        bucket, prefix, endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
        access_key_id=env["AWS_ACCESS_KEY_ID"], secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip


def kill_trial(tmp: Path, point: str) -> tuple[int, int, str]:
    store = str(tmp / "store")
    fetch(store, {"SANGRAH_KILL_AT": point}, *ROTATE).communicate(timeout=600)
    return recover(store, {})


def random_trial(tmp: Path, seed: int) -> tuple[int, int, str]:
    store = str(tmp / "store")
    child = fetch(store, {}, *ROTATE)
    time.sleep(random.Random(seed).uniform(2.0, 7.0))
    with_group = child.poll() is None
    if with_group:
        os.killpg(child.pid, signal.SIGKILL)
    child.communicate(timeout=600)
    return recover(store, {})


def s3_trial(tmp: Path, point: str) -> tuple[int, int, str]:
    from tests.seaweed import SeaweedServer

    server = SeaweedServer(tmp / "seaweed")
    info = server.start()
    try:
        info.client().create_bucket(Bucket="news")
        env = {
            "AWS_ENDPOINT_URL": info.endpoint_url, "AWS_ACCESS_KEY_ID": info.access_key,
            "AWS_SECRET_ACCESS_KEY": info.secret_key, "AWS_DEFAULT_REGION": info.region,
            "AWS_MAX_ATTEMPTS": "2", "SANGRAH_SPOOL_DIR": str(tmp / "spool"),
        }  # fmt: skip
        pause = tmp / "paused"
        child = fetch("s3://news/hindi", {**env, "SANGRAH_PAUSE_AT": point,
                                          "SANGRAH_PAUSE_FILE": str(pause)}, *ROTATE)  # fmt: skip
        deadline = time.monotonic() + 120
        while not pause.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()
        pause.unlink(missing_ok=True)
        child.communicate(timeout=600)
        server.start()
        return recover("s3://news/hindi", env)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--random", type=int, default=5, help="random-moment kills")
    parser.add_argument("--repeat", type=int, default=1, help="trials per kill point")
    parser.add_argument("--s3", action="store_true", help="also S3 killed at steps")
    args = parser.parse_args()
    rows: list[tuple[str, list[tuple[int, int, str]]]] = []
    for point in POINTS:
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(kill_trial(Path(tmp), point))
        rows.append((f"SIGKILL at `{point}`", runs))
        print(rows[-1], file=sys.stderr)
    runs = []
    for seed in range(args.random):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(random_trial(Path(tmp), seed))
    rows.append(("SIGKILL of the crawl at a random moment (2-7 s)", runs))
    if args.s3:
        for point in ("txt.claimed:3", "txt.recorded:3", "publish.completed:1", "publish.index:1"):
            with tempfile.TemporaryDirectory() as tmp:
                rows.append((f"S3 killed at `{point}`, restarted", [s3_trial(Path(tmp), point)]))
            print(rows[-1], file=sys.stderr)
    print("| fault | trials | files lost | files duplicated | verify after recovery |")
    print("|---|---|---|---|---|")
    for name, runs in rows:
        verdicts = Counter(v.rsplit(":", 1)[-1].strip() for *_, v in runs)
        print(
            f"| {name} | {len(runs)} | {sum(r[0] for r in runs)} | {sum(r[1] for r in runs)} "
            f"| {', '.join(f'{v} x{n}' for v, n in verdicts.items())} |"
        )


if __name__ == "__main__":
    main()
