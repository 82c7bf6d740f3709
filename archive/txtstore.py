"""Seed-format TXT files in the store: ``txt/<source>/<YYYY>/<MM>/<DD>/NNN_<16 hex>.txt``.

The date is the article's publication date in IST (the capture date when the page gives none),
so a folder is one source's day. NNN is unique in its folder: the first write to a folder lists
it once, later ordinals count up, and a write never replaces an existing file (a concurrent
writer taking the same ordinal makes this one move to the next).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from archive.storage import Store
from archive.text import parse_txt_name, url_key

logger = logging.getLogger(__name__)
PENDING_DIR = ".txt-pending"  # in the spool; dot-named so the spool does not publish it as is

IST = timezone(timedelta(hours=5, minutes=30))


def txt_folder(source: str, published: str | None, captured: datetime) -> str:
    when = captured.astimezone(IST)
    if published:
        try:
            parsed = datetime.fromisoformat(published)
            when = parsed.astimezone(IST) if parsed.tzinfo else parsed
        except ValueError:
            pass
    return f"txt/{source}/{when:%Y/%m/%d}"


class TxtStore:
    def __init__(self, store: Store, max_attempts: int = 1000):
        self._store = store
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()
        self._max_attempts = max_attempts

    def _allocate(self, folder: str) -> int:
        with self._lock:
            if folder not in self._next:
                ordinals = [
                    parsed[0]
                    for key in self._store.iter_keys(folder + "/")
                    if (parsed := parse_txt_name(key.rsplit("/", 1)[-1]))
                ]
                self._next[folder] = max(ordinals, default=-1) + 1
            ordinal = self._next[folder]
            self._next[folder] = ordinal + 1
            return ordinal

    def put(self, folder: str, canonical_url: str, data: bytes) -> str:
        """Store ``data`` under the next free name in ``folder``; returns its key."""
        return self._put(folder, url_key(canonical_url), data)

    def _put(self, folder: str, hex16: str, data: bytes) -> str:
        for _ in range(self._max_attempts):
            key = f"{folder}/{self._allocate(folder):03d}_{hex16}.txt"
            try:
                self._store.put_bytes(key, data, overwrite=False)
                return key
            except FileExistsError:
                continue
        raise RuntimeError(f"no free TXT name in {folder} after {self._max_attempts} tries")


def spool_pending(spool_dir: Path, folder: str, canonical_url: str, data: bytes) -> Path:
    """Keep a TXT the store would not take; its name (ordinal) is chosen when it is published."""
    path = spool_dir / PENDING_DIR / folder / f"{url_key(canonical_url)}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def publish_pending(txt: TxtStore, spool_dir: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Name and store every pending TXT: (stored keys, [(file, reason)] still pending)."""
    done: list[str] = []
    failed: list[tuple[str, str]] = []
    root = spool_dir / PENDING_DIR
    for path in sorted(root.rglob("*.txt")) if root.exists() else []:
        folder = path.parent.relative_to(root).as_posix()
        try:
            done.append(txt._put(folder, path.stem, path.read_bytes()))
        except Exception as exc:
            failed.append((str(path), f"{type(exc).__name__}: {exc}"))
        else:
            path.unlink()
    return done, failed
