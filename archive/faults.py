"""Named kill points on the write path, for fault-injection tests (like etcd's gofail).

Random kills miss narrow windows, so every step of the write path calls :func:`point` with a
name, and a test sets ``SANGRAH_KILL_AT=<name>[:<n>]`` in a child's environment: at the n-th
(default first) time that point is reached the process SIGKILLs itself, exactly there. With the
variable unset a point costs one dict lookup. ``SANGRAH_FAIL_AT=<name>[:<n>]`` raises
``OSError(ENOSPC)`` at the point (and every later pass) instead, for the disk-full path where no
tmpfs can be had. ``SANGRAH_PAUSE_AT=<name>[:<n>]`` with ``SANGRAH_PAUSE_FILE=<path>`` creates
the file there and waits until the test deletes it: the test stops the store at exactly that
step, then lets the writer go on.

The points, in write order (see archive.session):
``warc.record`` after a record's bytes are written, ``txt.claimed`` after a TXT name is claimed
in the store, ``txt.recorded`` after its conversion + metadata records are written,
``txt.stored`` after the TXT is in the store, ``seal.indexed`` after a closing WARC's CDXJ is
written, ``seal.renamed`` after the WARC lost its ``.open``, ``publish.completed`` after the TXTs
a WARC names were checked, ``publish.warc`` after the WARC is in the store, ``publish.index``
after its CDXJ is.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
import time
from pathlib import Path

_counts: dict[str, int] = {}
_lock = threading.Lock()


def _parse(value: str) -> tuple[str, int] | None:
    if not value:
        return None
    name, _, nth = value.partition(":")
    return name, int(nth or 1)


def point(name: str) -> None:
    """Reached a named step of the write path: die or fail here if a test asked for it."""
    kill = _parse(os.environ.get("SANGRAH_KILL_AT", ""))
    fail = _parse(os.environ.get("SANGRAH_FAIL_AT", ""))
    pause = _parse(os.environ.get("SANGRAH_PAUSE_AT", ""))
    if not any(wanted and wanted[0] == name for wanted in (kill, fail, pause)):
        return
    with _lock:
        _counts[name] = count = _counts.get(name, 0) + 1
    if kill and kill == (name, count):
        os.kill(os.getpid(), signal.SIGKILL)
    if pause and pause == (name, count):
        flag = Path(os.environ["SANGRAH_PAUSE_FILE"])
        flag.write_text(name)
        while flag.exists():
            time.sleep(0.05)
    if fail and fail[0] == name and count >= fail[1]:
        raise OSError(errno.ENOSPC, f"injected at {name}", name)
