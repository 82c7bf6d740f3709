"""LocalStore: archive files in a directory tree, written atomically."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import os
import secrets
import stat
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from archive.store import StoreError, file_sha256, path_from_uri, validate_key, validate_prefix

_CHUNK = 1 << 20


class LocalStore:
    """Keys map to files under `root`; names starting with '.' (temp files, the spool) are not keys.

    A file appears under its final name only once complete, so a reader never sees half a
    file, and fsynced, so a crash never leaves half a file either; except a put with
    ``durable=False``, which a power cut before the next :meth:`sync` can leave empty or
    missing (archive.store.txtstore says why that is safe for TXT names).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.uri = self.root.absolute().as_uri()
        self._commits = GroupCommit(self._sync_filesystem)

    @classmethod
    def from_uri(cls, uri: str, **_s3_options: object) -> LocalStore:
        return cls(path_from_uri(uri))

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        dest = self._path(key)
        sent = hashlib.sha256()
        with open(path, "rb") as src:
            tmp = _write_temp(dest, _hashed_chunks(src, sent))
        try:
            # Checked before the rename, so a bad copy never appears under the key.
            size, digest = file_sha256(tmp)
            if size != os.path.getsize(path) or digest != sent.hexdigest():
                raise StoreError(
                    f"{key}: copy does not match {path} (size {size}, sha256 {digest})"
                )
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(dest.parent)

    def move_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Move `path` into the store: a rename on the same filesystem, else put_file + unlink."""
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, dest)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            self.put_file(key, path)
            os.unlink(path)
        else:
            fsync_dir(dest.parent)

    def put_bytes(
        self, key: str, data: bytes, *, overwrite: bool = False, durable: bool = True
    ) -> None:
        dest = self._path(key)
        tmp = _write_temp(dest, [data], durable=durable)
        try:
            if overwrite:
                os.replace(tmp, dest)
            else:
                # link() fails if the name exists, so of two concurrent writers exactly one wins,
                # and the winner's file is already complete when it appears.
                os.link(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        if durable:
            fsync_dir(dest.parent)

    def sync(self) -> None:
        self._commits.sync()

    def fill_empty(self, key: str, data: bytes) -> bool:
        """Put `data` at `key` if the file there is empty or zero-filled (created, then a power
        cut before its bytes were written out), as one writer among many: True if this call
        filled it, False if it holds something or is gone. Under the empty file's ``flock``
        the first writer swaps a whole file in (temp file, rename), so a later one finds it
        replaced."""
        path = self._path(key)
        try:
            empty = open(path, "rb")  # held open for its lock
        except FileNotFoundError:
            return False
        with empty:
            fcntl.flock(empty, fcntl.LOCK_EX)
            held = os.fstat(empty.fileno())
            try:
                current = os.stat(path)
            except FileNotFoundError:
                return False
            if empty.read().strip(b"\0") or not os.path.samestat(held, current):
                return False
            tmp = _write_temp(path, [data], durable=False)
            try:
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        return True

    def _sync_filesystem(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            syncfs(fd)
        finally:
            os.close(fd)

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def check(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"the store {self.root} is not a directory")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store {self.root}: {exc.strerror}") from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StoreError(f"the store {self.root} is not writable")

    def read_range(self, key: str, start: int, length: int) -> bytes:
        if start < 0 or length < 0:
            raise ValueError(f"invalid range start={start} length={length}")
        with open(self._path(key), "rb") as f:
            f.seek(start)
            return f.read(length)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        st = self._path(key).stat()
        if not stat.S_ISREG(st.st_mode):
            raise FileNotFoundError(errno.ENOENT, "not a file", key)
        return st.st_size

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        base = prefix.rpartition("/")[0]
        yield from _walk(self.root / base, f"{base}/" if base else "", prefix)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)


def _walk(directory: Path, key_prefix: str, prefix: str) -> Iterator[str]:
    """Keys under `directory` starting with `prefix`, in plain string order.

    A directory sorts as its name + '/', because every key inside it starts with that: so
    'a.txt' < 'a/b' < 'a0', the same order as sorted() and as an S3 listing.
    """
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    named = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        is_dir = entry.is_dir(follow_symlinks=False)
        key = key_prefix + entry.name + ("/" if is_dir else "")
        if key.startswith(prefix) or (is_dir and prefix.startswith(key)):
            named.append((key, entry, is_dir))
    for key, entry, is_dir in sorted(named, key=lambda item: item[0]):
        if is_dir:
            yield from _walk(Path(entry.path), key, prefix)
        elif entry.is_file():
            yield key


def _hashed_chunks(src: BinaryIO, digest: hashlib._Hash) -> Iterator[bytes]:
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
        yield chunk


def _write_temp(dest: Path, chunks: Iterable[bytes], *, durable: bool = True) -> Path:
    """A complete (and if `durable`, fsynced) temp file next to `dest` (same directory, so
    rename is atomic)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Dot-named so listings skip it; the name is cut so a long key still fits NAME_MAX.
    tmp = dest.parent / f".{dest.name[:64]}.{secrets.token_hex(6)}.tmp"
    try:
        with open(tmp, "xb") as f:
            for chunk in chunks:
                f.write(chunk)
            if durable:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def fsync_dir(directory: Path) -> None:
    """Make a rename or link in `directory` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class GroupCommit:
    """Many threads' "make my writes durable", served by as few filesystem syncs as possible.

    A caller's writes are durable once a sync that *started* after them has finished. The first
    caller to find no sync running runs one for everybody waiting; callers arriving meanwhile
    wait for the next. With the crawl's writer threads this turns the six fsyncs a page's TXT
    names and file took into one shared sync (bench/RESULTS.md): each fsync forces a journal
    commit, and with it the writeback of the open WARC, so it is the count that costs.
    """

    def __init__(self, sync) -> None:
        self._sync = sync
        self._changed = threading.Condition()
        self._started = 0  # syncs started so far
        self._finished = 0  # syncs finished so far (they finish in order: one runs at a time)
        self._running = False
        self._failures: dict[int, BaseException] = {}

    def sync(self) -> None:
        with self._changed:
            needed = self._started + 1  # the first sync to start from now on
            while self._finished < needed:
                if self._running:
                    self._changed.wait()
                    continue
                self._running = True
                self._started += 1
                number = self._started
                failure: BaseException | None = None
                self._changed.release()
                try:
                    self._sync()
                except OSError as exc:
                    failure = exc
                except BaseException as exc:  # the waiters must not take it for a success
                    failure = exc
                    raise
                finally:
                    self._changed.acquire()
                    self._running = False
                    self._finished = number
                    if failure is not None:  # kept for its waiters, the last 64 syncs'
                        self._failures[number] = failure
                        self._failures.pop(number - 64, None)
                    self._changed.notify_all()
            if (failure := self._failures.get(needed)) is not None:
                raise StoreError(f"cannot sync the store: {failure}") from failure


def syncfs(fd: int) -> None:
    """Write out everything cached for the filesystem holding `fd`: Linux syncfs(2), which
    reports write-back errors since Linux 5.8; elsewhere os.sync(), every filesystem, which
    reports none and may return before the data is on disk (macOS)."""
    if _LIBC is None or not hasattr(_LIBC, "syncfs"):
        os.sync()
        return
    if _LIBC.syncfs(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:
    _LIBC = None
