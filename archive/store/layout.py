"""Where things live, in the store and on the local disk.

Store layout (keys are the same on every backend)::

    warc/YYYY/MM/DD/<prefix>-<YYYYmmddHHMMSSffffff>-<serial>-<host>-<pid>.warc.gz   the truth
    warc/YYYY/MM/DD/<same name>.cdxj                   its index, published after the WARC
    txt/<source>/YYYY/MM/DD/NNN_<sha256(canonical URL)[:16]>.txt    seed-format article text

WARC dates are capture dates (UTC); TXT dates are publication dates (IST).
"""

from __future__ import annotations

import re
from pathlib import Path


def is_local(store_uri: str) -> bool:
    return "://" not in store_uri or store_uri.startswith("file://")


def default_spool_dir(store_uri: str) -> Path:
    """Inside a local store (same filesystem: publishing is a rename); for any other store one
    folder per store under ./spool (``s3://news/hindi`` -> ``spool/s3_news_hindi``): files
    spooled for one bucket must never go up to another."""
    if is_local(store_uri):
        return Path(store_uri.removeprefix("file://")) / ".spool"
    return Path("spool") / re.sub(r"[^A-Za-z0-9._-]+", "_", store_uri.rstrip("/")).strip("_.")
