"""The spool: closed files go to the store, indexes after their WARC, nothing lost on failure."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from archive.store import Store
from archive.store.local import LocalStore
from archive.store.spool import Spool
from tests.seaweed import SeaweedInfo, s3_store_for

WARC = "warc/2025/05/05/sangrah-20250505101010000000-00000-host-1.warc.gz"
INDEX = "warc/2025/05/05/sangrah-20250505101010000000-00000-host-1.cdxj"
WARC2 = "warc/2025/05/06/sangrah-20250506101010000000-00001-host-1.warc.gz"
INDEX2 = "warc/2025/05/06/sangrah-20250506101010000000-00001-host-1.cdxj"


def write(spool: Spool, key: str, data: bytes | None = None) -> Path:
    path = spool.path_for(key)
    path.write_bytes(key.encode() if data is None else data)
    return path


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")


def test_publish_moves_into_the_store(store: Store, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", store)
    path = write(spool, WARC, b"WARC/1.1 ...")
    assert path == tmp_path / "spool" / WARC
    spool.publish(WARC)
    assert not path.exists()
    assert store.get_bytes(WARC) == b"WARC/1.1 ..."
    assert spool.pending() == []


def test_publish_inside_a_local_store_is_a_rename(tmp_path: Path) -> None:
    """The default layout: the spool is <store>/.spool, hidden from the store's listing."""
    store = LocalStore(tmp_path / "archive-data")
    spool = Spool(tmp_path / "archive-data/.spool", store)
    path = write(spool, WARC)
    inode = path.stat().st_ino
    assert list(store.iter_keys()) == []
    spool.publish(WARC)
    assert (tmp_path / "archive-data" / WARC).stat().st_ino == inode
    assert list(store.iter_keys()) == [WARC]


def test_publish_missing_key(store: Store, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Spool(tmp_path / "spool", store).publish(WARC)


def test_pending_skips_open_and_temp_files_and_puts_indexes_last(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", LocalStore(tmp_path / "store"))
    for key in (INDEX2, WARC2, INDEX, WARC, "txt/pib/2025/05/05/000_0123456789abcdef.txt"):
        write(spool, key)
    write(spool, "warc/2025/05/07/x.warc.gz.open")  # still being written
    write(spool, "warc/2025/05/07/x.cdxj.tmp")  # an index being written in one go
    (tmp_path / "spool/warc/2025/05/05/.x.warc.gz.1234.tmp").write_bytes(b"")
    assert spool.pending() == [
        "txt/pib/2025/05/05/000_0123456789abcdef.txt",
        WARC,
        WARC2,
        INDEX,
        INDEX2,
    ]
    assert spool.stale_open() == [tmp_path / "spool/warc/2025/05/07/x.warc.gz.open"]


def test_publish_pending_publishes_in_order(store: Store, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", store)
    for key in (INDEX, WARC, INDEX2, WARC2):
        write(spool, key)
    published, failures = spool.publish_pending()
    assert (published, failures) == ([WARC, WARC2, INDEX, INDEX2], [])
    assert list(store.iter_keys("warc/")) == sorted([WARC, WARC2, INDEX, INDEX2])
    assert spool.pending() == []


def test_unreachable_bucket_keeps_everything_then_sync_succeeds(
    s3_server: SeaweedInfo, tmp_path: Path
) -> None:
    """A real failure: the bucket does not exist yet (the server does not create it on PUT)."""
    bucket = f"late-{uuid.uuid4().hex[:16]}"
    store = s3_store_for(s3_server, bucket)
    spool = Spool(tmp_path / "spool", store)
    for key in (WARC, INDEX):
        write(spool, key)

    published, failures = spool.publish_pending()
    assert published == []
    assert [key for key, _ in failures] == [WARC, INDEX]
    assert "NoSuchBucket" in failures[0][1]
    assert "held back" in failures[1][1] and WARC in failures[1][1]
    assert spool.pending() == [WARC, INDEX]  # both still in the spool
    assert (tmp_path / "spool" / WARC).read_bytes() == WARC.encode()

    s3_server.client().create_bucket(Bucket=bucket)
    published, failures = spool.publish_pending()
    assert (published, failures) == ([WARC, INDEX], [])
    assert spool.pending() == []
    assert store.get_bytes(WARC) == WARC.encode()


def test_one_failed_warc_holds_back_only_its_own_index(tmp_path: Path) -> None:
    """A real local failure: a directory sits where the WARC should be stored."""
    store = LocalStore(tmp_path / "store")
    (tmp_path / "store" / WARC).mkdir(parents=True)
    spool = Spool(tmp_path / "spool", store)
    for key in (WARC, INDEX, WARC2, INDEX2):
        write(spool, key)
    published, failures = spool.publish_pending()
    assert published == [WARC2, INDEX2]
    assert [key for key, _ in failures] == [WARC, INDEX]
    assert "held back" in failures[1][1]
    assert spool.pending() == [WARC, INDEX]


def test_failed_put_file_leaves_the_file(s3_server: SeaweedInfo, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", s3_store_for(s3_server, "never-created-bucket"))
    path = write(spool, WARC)
    with pytest.raises(OSError, match="NoSuchBucket"):
        spool.publish(WARC)
    assert path.read_bytes() == WARC.encode()


def test_local_store_on_another_filesystem(tmp_path: Path) -> None:
    """Publishing falls back from a rename to a verified copy across filesystems."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test directory")
    store = LocalStore(tmp_path / "store")
    spool_dir = shm / f"sangrah-spool-{tmp_path.name}"
    try:
        spool = Spool(spool_dir, store)
        write(spool, WARC)
        assert spool.publish_pending() == ([WARC], [])
        assert store.get_bytes(WARC) == WARC.encode()
        assert spool.pending() == []
    finally:
        shutil.rmtree(spool_dir, ignore_errors=True)
