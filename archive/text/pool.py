"""The process pool that extraction runs in, for the crawl and for ``sangrah reprocess``.

trafilatura is CPU-heavy, not thread-safe and cannot be interrupted, so it runs in worker
processes. They are forked from a server process that has imported the extraction code once
(``forkserver`` with preload), not started fresh (``spawn``): a spawned worker imports the
extraction code again, 0.6 s of CPU each (measured in bench/RESULTS.md). Plain ``fork`` is not
safe: the crawl process runs an event loop and worker threads.

A worker must not outlive the process that started the pool: a crawl killed with SIGKILL would
leave its workers holding its output pipes open, so whoever waits for the crawl's output waits for
ever. A worker's parent is the server, which lives as long as any worker does, and a worker's
task queue never reaches end-of-file (it holds both ends), so each worker watches the pool's owner
(through a pidfd, or by asking every second where there is none) and exits when the owner does;
the server follows once its last worker is gone.
A crawl stops the server itself when its pool is done (:func:`stop_server`).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import select
import threading
import time
from concurrent.futures import ProcessPoolExecutor


def extraction_pool(workers: int, preload: str = "archive.text.extract") -> ProcessPoolExecutor:
    """``workers`` processes forked from a server that imported ``preload`` (a module name)."""
    context = multiprocessing.get_context("forkserver")
    # Read when the server starts, once per process; every pool here shares that server.
    context.set_forkserver_preload([preload])
    return ProcessPoolExecutor(
        workers, mp_context=context, initializer=_exit_with, initargs=(os.getpid(),)
    )


def stop_server() -> None:
    """End this process's fork server once its pools are shut down. Otherwise it lives as long
    as the process, holding the extraction code's memory (60 MB), through the crawl's end of
    run, its peak (bench/RESULTS.md, the 20,000-page soak). multiprocessing has no public call
    for this; without its private one the server is simply left running.

    It returns once every worker the server ever forked has exited (each holds the pipe whose
    closing ends the server): call it after ``shutdown()`` of every pool of this process."""
    stop = getattr(getattr(multiprocessing.forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()


def _exit_with(owner: int) -> None:
    try:
        pidfd = os.pidfd_open(owner)
    except ProcessLookupError:  # the owner died before the worker started
        os._exit(1)
    except (OSError, AttributeError):  # no pidfd: older than Linux 5.3, or refused (seccomp)
        watch, args = _poll_owner, (owner,)
    else:
        watch, args = _wait_and_exit, (pidfd,)
    threading.Thread(target=watch, args=args, name="owner", daemon=True).start()


def _wait_and_exit(pidfd: int) -> None:
    select.select([pidfd], [], [])  # readable once the process has exited
    os._exit(1)


def _poll_owner(owner: int) -> None:
    while True:
        time.sleep(1)
        try:
            os.kill(owner, 0)
        except (ProcessLookupError, PermissionError):  # gone, or the pid is another user's now
            os._exit(1)
