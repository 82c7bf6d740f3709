"""Where archive files live: one small protocol, one backend per URI scheme.

``open_store("./archive-data")`` and ``open_store("file:///srv/archive")`` give a LocalStore,
``open_store("s3://bucket/prefix")`` an S3Store. Keys are relative, '/'-separated and the same on
every backend, so a file moves between backends without renaming.

Every storage failure is an OSError: a missing key is FileNotFoundError, a refused overwrite
FileExistsError, anything else StoreError.

The package holds the rest of the store side too: the spool (:mod:`.spool`, local staging of files
written incrementally, then published here), seed-format TXT names claimed in the store
(:mod:`.txtstore`), where things live in the store and on the local disk (:mod:`.layout`), and
``sangrah verify`` (:mod:`.verify`).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

__all__ = ["STORE_SCHEMES", "Store", "StoreError", "open_store", "validate_key"]


class StoreError(OSError):
    """The backend failed or a stored file does not match what was sent."""


class Store(Protocol):
    """Where archive files live; keys are '/'-separated, relative, the same on every backend."""

    uri: str

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Store a copy of `path` (replacing any existing file), then verify size and sha256."""

    def put_bytes(
        self, key: str, data: bytes, *, overwrite: bool = False, durable: bool = True
    ) -> None:
        """Store `data`; FileExistsError if the key exists and not `overwrite`. With `durable`
        false the file is visible at once but survives a power cut only after :meth:`sync`."""

    def sync(self) -> None:
        """Make every file put so far durable (nothing to do where a put is durable on return)."""

    def get_bytes(self, key: str) -> bytes: ...

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start`; short or empty past the end of the file."""

    def exists(self, key: str) -> bool: ...

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Keys that start with `prefix` (a plain string prefix), recursively, in sorted order."""

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> None:
        """Remove `key` (``sangrah verify --repair`` only); a missing key is no error."""

    def check(self) -> None:
        """Raise StoreError with a one-line reason unless the store can be written (a missing
        bucket, denied access, an unreachable endpoint, a path that is not a directory)."""


# Imported by name on first use, as Scrapy does with FILES_STORE_SCHEMES: the backends import
# this module, and boto3 is only loaded when an s3:// store is opened.
STORE_SCHEMES: dict[str, str] = {
    "": "archive.store.local.LocalStore",
    "file": "archive.store.local.LocalStore",
    "s3": "archive.store.s3.S3Store",
}


def open_store(uri: str, **s3_options: object) -> Store:
    """The store for `uri`; `s3_options` are S3Store keywords, ignored by other backends.

    Values of None in `s3_options` mean "not configured", so a caller can pass every setting.
    """
    scheme = urlsplit(uri).scheme
    try:
        path = STORE_SCHEMES[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in STORE_SCHEMES if s)
        raise ValueError(f"unsupported store URI {uri!r}: use a path or one of {known}") from None
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return cls.from_uri(uri, **s3_options)


def validate_key(key: str) -> str:
    """`key` itself if it is a valid store key, else ValueError.

    Segments may not be empty, '.', '..' or start with '.': dot names are where LocalStore keeps
    its temporary files and the spool, and refusing them everywhere keeps both backends listing
    the same keys.
    """
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise ValueError(f"invalid store key {key!r}: must be relative, '/'-separated, non-empty")
    if any(not part or part.startswith(".") for part in key.split("/")):
        raise ValueError(f"invalid store key {key!r}: empty or dot-leading path segment")
    return key


def validate_prefix(prefix: str) -> str:
    """`prefix` for iter_keys: '' or a key, optionally ending in '/', or a partial key."""
    if prefix:
        validate_key(prefix.removesuffix("/"))
    return prefix


def path_from_uri(uri: str) -> Path:
    """The directory named by a plain path or a file:// URI (file:///abs, file://./rel)."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return Path(uri).expanduser()
    host = "" if parts.netloc == "localhost" else parts.netloc
    return Path(unquote(host + parts.path))


def file_sha256(path: str | os.PathLike[str]) -> tuple[int, str]:
    """Size and hex SHA-256 of a file, read in one pass."""
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
        return f.tell(), digest
