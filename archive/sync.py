"""Bring the spool up to date with the store: what a crash or an unreachable store left behind.

Run at the start of every crawl and by ``sangrah sync``: WARCs a dead process left ``.open`` are
sealed and indexed, closed files are published (each WARC before its index), and TXTs the store
would not take get their names and go up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from archive.indexer import rescue_open_warc
from archive.recorder import is_abandoned
from archive.spool import Spool
from archive.txtstore import TxtStore, publish_pending

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    rescued: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def sync_spool(spool: Spool, txt: TxtStore) -> SyncReport:
    report = SyncReport()
    for path in spool.stale_open():
        if not is_abandoned(path):
            continue
        key = path.relative_to(spool.directory).as_posix().removesuffix(".open")
        try:
            if rescue_open_warc(path, key):
                report.rescued.append(key)
                logger.warning("sealed %s, left open by a run that died", key)
        except Exception as exc:
            report.failed.append((key, f"cannot rescue: {type(exc).__name__}: {exc}"))
    published, failed = spool.publish_pending()
    report.published += published
    report.failed += failed
    if not failed:  # a TXT store that refuses files refuses names too
        published, failed = publish_pending(txt, spool.directory)
        report.published += published
        report.failed += failed
    return report
