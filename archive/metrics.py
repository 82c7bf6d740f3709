"""Prometheus metrics of the crawls as a node_exporter textfile-collector file.

One file per machine (``SANGRAH_METRICS_FILE``, e.g. ``/var/lib/node_exporter/sangrah.prom``)
holds the series of every source; each run replaces only the series labelled with its own
source, under an exclusive lock, so sources crawled at the same time (one systemd unit each) do
not lose each other's lines. The file is replaced atomically (written beside it, then renamed):
node_exporter never reads half a file.

Counters (``*_total``) add up over runs: a run starts from the values the file holds for its
source. That keeps them monotonic across the short-lived crawl processes, as Prometheus's
``rate()`` and ``increase()`` expect; deleting the file resets them, which Prometheus treats as
a counter reset.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]

# name -> (type, help). Every series has a `source` label.
METRICS: dict[str, tuple[str, str]] = {
    "sangrah_articles_archived_total": ("counter", "Articles archived (a TXT written), all runs."),
    "sangrah_pages_fetched_total": ("counter", "Article pages fetched, all runs."),
    "sangrah_failures_total": ("counter", "Pages that failed, by reason class, all runs."),
    "sangrah_not_article_total": ("counter", "Fetched pages that were not articles, all runs."),
    "sangrah_runs_total": ("counter", "Finished runs, by result (ok, failed)."),
    "sangrah_run_discovered": ("gauge", "Article URLs discovered by the current or last run."),
    "sangrah_run_archived": ("gauge", "Articles archived by the current or last run."),
    "sangrah_run_failed": ("gauge", "Pages failed in the current or last run."),
    "sangrah_run_in_progress": ("gauge", "1 while a run of the source is going on."),
    "sangrah_run_ok": ("gauge", "1 if the last finished run succeeded, else 0."),
    "sangrah_run_duration_seconds": ("gauge", "Duration of the current or last run."),
    "sangrah_run_start_timestamp_seconds": ("gauge", "Start of the current or last run."),
    "sangrah_last_success_timestamp_seconds": ("gauge", "End of the last successful run."),
    "sangrah_spool_pending_files": ("gauge", "Files left in the spool by the last run."),
    "sangrah_drift": ("gauge", "1 if the last run's extraction fell far below its history."),
    "sangrah_run_container_match_ratio": (
        "gauge",
        "Share of the last run's article pages read inside the source's container selector.",
    ),
}

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def labels(**pairs: str) -> Labels:
    return tuple(sorted(pairs.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def render(samples: Samples) -> str:
    """The exposition text of `samples`, grouped by metric with HELP and TYPE lines."""
    out = []
    for name in sorted({name for name, _ in samples}):
        kind, text = METRICS.get(name, ("untyped", name))
        out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for (sample, pairs), value in sorted(samples.items()):
            if sample == name:
                body = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
                out.append(f"{name}{{{body}}} {_number(value)}")
    return "\n".join(out) + "\n" if out else ""


def parse(text: str) -> Samples:
    """The samples of a file :func:`render` wrote; other lines are ignored."""
    samples: Samples = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        name, body, value = match.groups()
        pairs = [
            (k, re.sub(r"\\[\\\"n]", lambda m: _UNESCAPE[m.group()], v))
            for k, v in _LABEL.findall(body)
        ]
        with contextlib.suppress(ValueError):
            samples[(name, tuple(sorted(pairs)))] = float(value)
    return samples


def read(path: Path) -> Samples:
    try:
        return parse(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}


def of_source(samples: Samples, source: str) -> Samples:
    return {key: v for key, v in samples.items() if ("source", source) in key[1]}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # A lock file beside the textfile (node_exporter only reads *.prom): the textfile itself is
    # replaced by rename, so a lock on it would be lost with the old inode.
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update(path: str | os.PathLike[str], source: str, samples: Mapping) -> None:
    """Replace `source`'s series in the textfile at `path` by `samples`, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        current = read(path)
        kept = {key: v for key, v in current.items() if ("source", source) not in key[1]}
        text = render({**kept, **samples})
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)  # node_exporter usually runs as another user
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
