"""The index log: one small key per published CDXJ, named by when it was published.

``indexlog/YYYY/MM/DD/<publish time>-<WARC day>-<CDXJ name without .cdxj>`` (UTC; not named
``*.cdxj``, so that nothing takes an entry for an index). WARC and CDXJ keys are
named by when their file was opened, and a spool synced days later publishes "old" names, so
listing ``warc/`` by date cannot find what is new; this log can. A reader that remembers a
position lists only the days since it and gets every CDXJ published since, whatever its name:
what a run reads follows what was published, not the size of the archive.

An entry (its body is the CDXJ key) is written just before its CDXJ is published (a crash in
between leaves an entry whose CDXJ appears later, which readers retry), and a reader keeps a
margin behind the clock for entries written by other machines while it was listing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from archive.store import Store

PREFIX = "indexlog/"
MARGIN = timedelta(minutes=10)
_STAMP = "%Y%m%d%H%M%S%f"


def entry_key(index_key: str, when: datetime | None = None) -> str:
    """``warc/2025/05/05/x.cdxj`` published now -> ``indexlog/<today>/<stamp>-20250505-x``."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    _warc, year, month, day, name = index_key.split("/")
    stem = name.removesuffix(".cdxj")
    return f"{PREFIX}{when:%Y/%m/%d}/{when.strftime(_STAMP)}-{year}{month}{day}-{stem}"


def index_of(entry: str) -> str:
    stamp_day_name = entry.rsplit("/", 1)[-1]
    _stamp, day, stem = stamp_day_name.split("-", 2)
    return f"warc/{day[:4]}/{day[4:6]}/{day[6:]}/{stem}.cdxj"


def position(when: datetime) -> str:
    """Where a reader that listed at ``when`` starts next time (the margin behind it)."""
    return (when.astimezone(UTC) - MARGIN).strftime(_STAMP)


def published_since(store: Store, since: str) -> Iterator[str]:
    """CDXJ keys logged at or after the position ``since``, oldest first."""
    start = datetime.strptime(since, _STAMP).replace(tzinfo=UTC)
    day = start.date()
    today = datetime.now(UTC).date()
    while day <= today:
        for key in store.iter_keys(f"{PREFIX}{day:%Y/%m/%d}/"):
            if key.rsplit("/", 1)[-1][: len("YYYYmmddHHMMSSffffff")] >= since:
                yield index_of(key)
        day += timedelta(days=1)
