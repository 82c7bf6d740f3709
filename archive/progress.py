"""Progress of a crawl on the terminal: the child's progress lines, rendered in place.

The Scrapy child appends JSON lines to a file (crawler/extensions/progress.py); this side reads
the newest one a few times a second and shows it with rich's ``Live``, which redraws one line in
place and removes it when the child exits (the summary is printed after). Only used when stderr
is a terminal: in logs and pipes the line would be noise.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.text import Text

FIELDS = ("discovered", "requested", "fetched", "archived", "failed")


def latest(path: Path) -> dict | None:
    """The last whole JSON line of `path` (a line being written is skipped)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def render(progress: dict | None, name: str) -> Text:
    if progress is None:
        return Text(f"{name}: starting…", style="dim")
    counts = "  ".join(f"{field} {progress.get(field, 0)}" for field in FIELDS)
    return Text(f"{progress.get('source') or name}: {counts}  ({progress['elapsed']:.0f} s)")


def show_progress(child: subprocess.Popen, path: Path, name: str, console: Console) -> None:
    """Show the crawl child's progress, read from ``path``, in place until it exits."""
    with Live(render(None, name), console=console, transient=True, refresh_per_second=4) as live:
        while child.poll() is None:
            live.update(render(latest(path), name))
            time.sleep(0.25)
