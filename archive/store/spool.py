"""The spool: local staging for files that are written incrementally, then published to a store.

S3 cannot append, so a WARC is written here as ``<key>.open``, sealed (indexed, then renamed to
``<key>``) when complete, and published: stored, verified, then deleted here. A file is only ever
in one of those states, so a crash at any point loses nothing. A spool belongs to one store: its
``.store`` file names it, and a spool is never published into another store.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from archive.store import Store, validate_key

OPEN_SUFFIX = ".open"
TMP_SUFFIX = ".tmp"  # a file being written in one go, renamed when complete


class SpoolMismatch(ValueError):
    """A spool directory that belongs to another store."""


class Spool:
    """Files under `directory`, laid out by their store key.

    Files whose names end in one of `index_suffixes` describe other files (a CDXJ index points
    into its WARC), so they are published after every other file, and not at all while their
    data file failed: the store never holds an index whose WARC is missing.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        store: Store,
        *,
        index_suffixes: tuple[str, ...] = (".cdxj",),
    ) -> None:
        self.directory = Path(directory)
        self.store = store
        self.index_suffixes = index_suffixes
        self._claim_directory()

    def _claim_directory(self) -> None:
        """Mark the spool as this store's, or refuse it if it is another store's."""
        marker = self.directory / ".store"
        root = getattr(self.store, "root", None)
        inside = root is not None and self.directory.resolve().is_relative_to(Path(root).resolve())
        try:
            owner = marker.read_text("utf-8").strip()
        except FileNotFoundError:
            owner = None
        # <store>/.spool moves with its store (a copied or renamed directory): it is the store's.
        if owner is None or (inside and owner != self.store.uri):
            self.directory.mkdir(parents=True, exist_ok=True)
            # One temp name per process: several runs may open one spool at once.
            tmp = marker.with_name(f".store.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(self.store.uri + "\n", "utf-8")
            os.replace(tmp, marker)
            return
        if owner != self.store.uri:
            raise SpoolMismatch(
                f"the spool {self.directory} holds files for {owner}, not {self.store.uri}: "
                f"run `sangrah sync --store {owner}`, or give this store its own SANGRAH_SPOOL_DIR"
            )

    def path_for(self, key: str) -> Path:
        """Where the closed file for `key` lives; its directory is created."""
        path = self.directory / validate_key(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def publish(self, key: str) -> None:
        """Store the closed file for `key` and delete it here; on any error it stays here."""
        path = self.directory / validate_key(key)
        if not path.is_file():
            if self.store.exists(key):
                return  # another process (a concurrent sync) published it already
            raise FileNotFoundError(errno.ENOENT, "not in the spool", str(path))
        # A LocalStore takes the file by renaming it when it can, instead of copying it.
        move_file = getattr(self.store, "move_file", None)
        try:
            if move_file is not None:
                move_file(key, path)
            else:
                self.store.put_file(key, path)
                path.unlink()
        except FileNotFoundError:
            if not self.store.exists(key):  # else: a concurrent process published it
                raise

    def pending(self) -> list[str]:
        """Keys of closed files still here: data files first, then index files, each sorted."""
        keys = sorted(self._closed_keys())
        return [k for k in keys if not self._is_index(k)] + [k for k in keys if self._is_index(k)]

    def publish_pending(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Publish every pending file: (published keys, [(key, reason)] for those left here)."""
        published: list[str] = []
        failures: list[tuple[str, str]] = []
        failed_data: list[str] = []
        for key in self.pending():
            is_index = self._is_index(key)
            if is_index and (blocker := self._data_of(key, failed_data)):
                failures.append((key, f"held back: its data file {blocker} is not stored yet"))
                continue
            try:
                self.publish(key)
            except Exception as exc:  # any error: report it, the file stays for the next run
                failures.append((key, f"{type(exc).__name__}: {exc}"))
                if not is_index:
                    failed_data.append(key)
            else:
                published.append(key)
        return published, failures

    def stale_open(self) -> list[Path]:
        """Files still being written, or left by a writer that crashed."""
        return sorted(p for p in self._files() if p.name.endswith(OPEN_SUFFIX))

    def _closed_keys(self) -> Iterator[str]:
        for path in self._files():
            if not path.name.endswith(OPEN_SUFFIX):
                yield path.relative_to(self.directory).as_posix()

    def _files(self) -> Iterator[Path]:
        """Every file but temp files: dot-named (LocalStore's, hidden directories) or '*.tmp'."""
        for root, dirs, files in os.walk(self.directory):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if not name.startswith(".") and not name.endswith(TMP_SUFFIX):
                    yield Path(root, name)

    def _is_index(self, key: str) -> bool:
        return key.endswith(self.index_suffixes)

    def _data_of(self, index: str, keys: list[str]) -> str | None:
        """The first of `keys` that `index` describes: the same name up to the suffix
        ('x.cdxj' for 'x.warc.gz'), or the data name plus the suffix ('x.warc.gz.cdxj')."""
        stem = next(index.removesuffix(s) for s in self.index_suffixes if index.endswith(s))
        return next((k for k in keys if k == stem or k.startswith(stem + ".")), None)
