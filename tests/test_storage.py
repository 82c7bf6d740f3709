"""The Store contract, run against LocalStore and against S3Store on a real SeaweedFS server."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from archive.store import Store, StoreError, open_store
from archive.store.local import LocalStore
from archive.store.s3 import PART_SIZE, S3Store, sha256_checksum
from tests.seaweed import SeaweedInfo, s3_store_for

TXT_KEY = "txt/pib/2025/05/05/000_0123456789abcdef.txt"
HINDI_KEY = "txt/दैनिक-भास्कर/2025/05/05/समाचार १.txt"
HINDI_TEXT = "प्रधानमंत्री ने आज नई दिल्ली में।\n".encode()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")


def test_put_get_exists_size(store: Store) -> None:
    assert not store.exists(TXT_KEY)
    store.put_bytes(TXT_KEY, HINDI_TEXT)
    assert store.exists(TXT_KEY)
    assert store.get_bytes(TXT_KEY) == HINDI_TEXT
    assert store.size(TXT_KEY) == len(HINDI_TEXT)


def test_devanagari_key(store: Store) -> None:
    store.put_bytes(HINDI_KEY, HINDI_TEXT)
    assert store.get_bytes(HINDI_KEY) == HINDI_TEXT
    assert list(store.iter_keys("txt/")) == [HINDI_KEY]
    assert list(store.iter_keys("txt/दैनिक")) == [HINDI_KEY]


def test_missing_key(store: Store) -> None:
    assert not store.exists("warc/none.warc.gz")
    with pytest.raises(FileNotFoundError):
        store.get_bytes("warc/none.warc.gz")
    with pytest.raises(FileNotFoundError):
        store.size("warc/none.warc.gz")
    with pytest.raises(FileNotFoundError):
        store.read_range("warc/none.warc.gz", 0, 10)


def test_put_bytes_does_not_overwrite(store: Store) -> None:
    store.put_bytes("a/b.txt", b"first")
    with pytest.raises(FileExistsError):
        store.put_bytes("a/b.txt", b"second")
    assert store.get_bytes("a/b.txt") == b"first"
    store.put_bytes("a/b.txt", b"third", overwrite=True)
    assert store.get_bytes("a/b.txt") == b"third"


# SeaweedFS makes losing conditional writers wait for a lock in 1 s steps: keep this small.
WRITERS = 6


def test_put_bytes_race_has_one_winner(store: Store) -> None:
    """Concurrent writers of one new key: exactly one succeeds, and its data is what is stored."""
    barrier = threading.Barrier(WRITERS)
    results: dict[int, str] = {}

    def write(i: int) -> None:
        barrier.wait()
        try:
            store.put_bytes("race/key.txt", f"writer {i}".encode())
            results[i] = "ok"
        except FileExistsError:
            results[i] = "exists"

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, r in results.items() if r == "ok"]
    assert len(results) == WRITERS and len(winners) == 1
    assert store.get_bytes("race/key.txt") == f"writer {winners[0]}".encode()


def test_read_range(store: Store) -> None:
    store.put_bytes("r.bin", bytes(range(100)))
    assert store.read_range("r.bin", 10, 5) == bytes(range(10, 15))
    assert store.read_range("r.bin", 0, 1) == b"\x00"
    assert store.read_range("r.bin", 95, 10) == bytes(range(95, 100))  # short at the end
    assert store.read_range("r.bin", 100, 10) == b""  # past the end
    assert store.read_range("r.bin", 500, 10) == b""
    assert store.read_range("r.bin", 10, 0) == b""
    with pytest.raises(ValueError):
        store.read_range("r.bin", -1, 5)
    with pytest.raises(ValueError):
        store.read_range("r.bin", 0, -5)


def test_iter_keys_sorted_recursive_relative(store: Store) -> None:
    # 'a.txt' < 'a/b' < 'a0' in plain string order, unlike a directory-tree walk.
    keys = ["a0", "a/c/d.txt", "a.txt", "a/b", "a-1", "b/x", "Z", "क/ख"]
    for key in keys:
        store.put_bytes(key, key.encode())
    assert list(store.iter_keys()) == sorted(keys)
    assert list(store.iter_keys("a/")) == ["a/b", "a/c/d.txt"]
    assert list(store.iter_keys("a")) == sorted(k for k in keys if k.startswith("a"))
    assert list(store.iter_keys("a/c")) == ["a/c/d.txt"]
    assert list(store.iter_keys("b/x")) == ["b/x"]
    assert list(store.iter_keys("nothing/")) == []


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs",
        "../up",
        "a/../b",
        "a/./b",
        "a//b",
        "a/",
        "a\\b",
        ".hidden",
        "a/.spool/x",
        "a\x00",
    ],
)
def test_invalid_keys(store: Store, key: str) -> None:
    with pytest.raises(ValueError):
        store.put_bytes(key, b"x")
    with pytest.raises(ValueError):
        store.get_bytes(key)
    with pytest.raises(ValueError):
        store.exists(key)


@pytest.mark.parametrize("prefix", ["/abs", "../", "a/../", "a\\b"])
def test_invalid_prefix(store: Store, prefix: str) -> None:
    with pytest.raises(ValueError):
        list(store.iter_keys(prefix))


def test_put_file(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "x.warc.gz"
    source.write_bytes(os.urandom(100_000))
    store.put_file("warc/2025/05/05/x.warc.gz", source)
    assert store.get_bytes("warc/2025/05/05/x.warc.gz") == source.read_bytes()
    assert source.exists()  # a copy: the caller decides when to delete
    # Again, as after a crash between storing and deleting from the spool: replaces.
    source.write_bytes(b"second version")
    store.put_file("warc/2025/05/05/x.warc.gz", source)
    assert store.get_bytes("warc/2025/05/05/x.warc.gz") == b"second version"
    assert list(store.iter_keys()) == ["warc/2025/05/05/x.warc.gz"]  # no temp files in sight


def test_put_file_devanagari_key(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "हिंदी.txt"
    source.write_bytes(HINDI_TEXT)
    store.put_file(HINDI_KEY, source)
    assert store.get_bytes(HINDI_KEY) == HINDI_TEXT


def test_put_file_missing_source(store: Store, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.put_file("a.txt", tmp_path / "missing")
    assert not store.exists("a.txt")


# --- LocalStore --------------------------------------------------------------------------------


def test_local_put_file_verifies_before_the_rename(tmp_path: Path) -> None:
    """A source whose size is not what could be read (like a file still being written)."""
    store = LocalStore(tmp_path / "store")
    proc_file = Path("/proc/self/status")  # st_size 0, content non-empty
    if not proc_file.exists():
        pytest.skip("needs Linux /proc")
    with pytest.raises(StoreError, match="does not match"):
        store.put_file("status.txt", proc_file)
    assert not store.exists("status.txt")
    assert not [p for p in (tmp_path / "store").rglob("*") if p.is_file()]  # temp file removed


def test_local_files_honour_umask_and_skip_hidden(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_bytes("a/b.txt", b"x")
    mode = stat.S_IMODE((tmp_path / "store/a/b.txt").stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    (tmp_path / "store/.spool/warc").mkdir(parents=True)
    (tmp_path / "store/.spool/warc/x.warc.gz").write_bytes(b"x")
    (tmp_path / "store/a/.b.txt.0123.tmp").write_bytes(b"x")
    assert list(store.iter_keys()) == ["a/b.txt"]


def test_local_move_file_renames(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    source = tmp_path / "store/.spool/x.bin"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"data")
    inode = source.stat().st_ino
    store.move_file("warc/x.bin", source)
    assert not source.exists()
    assert (tmp_path / "store/warc/x.bin").stat().st_ino == inode


def test_local_move_file_across_filesystems(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test directory")
    store = LocalStore(tmp_path / "store")
    source = shm / f"sangrah-test-{os.getpid()}-{id(store)}.bin"
    source.write_bytes(b"data" * 1000)
    try:
        store.move_file("warc/x.bin", source)  # EXDEV: falls back to a verified copy
    finally:
        source.unlink(missing_ok=True)
    assert store.get_bytes("warc/x.bin") == b"data" * 1000


# --- S3Store -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1000, 20 * 1024 * 1024])  # one part; two parts
def test_s3_put_file_checksum_is_the_servers(
    s3_store: S3Store, s3_server: SeaweedInfo, tmp_path: Path, size: int
) -> None:
    """The SHA-256 compared is the one the server computed and stored (composite for a
    multipart upload), and ours agrees with it."""
    source = tmp_path / "big.warc.gz"
    source.write_bytes(os.urandom(size))
    s3_store.put_file("warc/big.warc.gz", source)
    head = s3_server.client().head_object(
        Bucket=s3_store.bucket, Key="run1/warc/big.warc.gz", ChecksumMode="ENABLED"
    )
    assert head["ContentLength"] == size
    assert head["ChecksumSHA256"] == sha256_checksum(source)
    assert head["ChecksumSHA256"].endswith("-2") == (size > PART_SIZE)
    if size < PART_SIZE:
        digest = base64.b64encode(hashlib.sha256(source.read_bytes()).digest()).decode()
        assert head["ChecksumSHA256"] == digest
    assert s3_store.read_range("warc/big.warc.gz", 900, 4) == source.read_bytes()[900:904]


def test_s3_put_file_detects_other_bytes_of_the_same_size(
    s3_store: S3Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A size check alone would pass this: the server holds other bytes of the same length."""
    source = tmp_path / "x.warc.gz"
    source.write_bytes(b"complete content")
    real_upload = s3_store.client.upload_file

    def corrupting_upload(filename: str, *args: object, **kwargs: object) -> None:
        other = tmp_path / "other"
        other.write_bytes(b"X" + Path(filename).read_bytes()[1:])
        real_upload(str(other), *args, **kwargs)

    monkeypatch.setattr(s3_store.client, "upload_file", corrupting_upload)
    with pytest.raises(StoreError, match="sha256"):
        s3_store.put_file("warc/x.warc.gz", source)


def test_store_check_names_the_problem(s3_server: SeaweedInfo, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        s3_store_for(s3_server, "no-such-bucket-here").check()
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StoreError, match="not a directory"):
        LocalStore(tmp_path / "file").check()
    LocalStore(tmp_path / "new").check()
    assert (tmp_path / "new").is_dir()


def test_s3_put_file_detects_a_changed_object(
    s3_store: S3Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What the server holds after the upload is checked; here the bytes sent were cut short."""
    source = tmp_path / "x.warc.gz"
    source.write_bytes(b"complete content")
    real_upload = s3_store.client.upload_file

    def truncating_upload(filename: str, *args: object, **kwargs: object) -> None:
        short = tmp_path / "short"
        short.write_bytes(Path(filename).read_bytes()[:5])
        real_upload(str(short), *args, **kwargs)

    monkeypatch.setattr(s3_store.client, "upload_file", truncating_upload)
    with pytest.raises(StoreError, match="stored"):
        s3_store.put_file("warc/x.warc.gz", source)


def test_s3_missing_bucket_is_a_store_error(s3_server: SeaweedInfo, tmp_path: Path) -> None:
    store = s3_store_for(s3_server, "no-such-bucket-here")
    source = tmp_path / "x"
    source.write_bytes(b"x")
    with pytest.raises(StoreError, match="NoSuchBucket"):
        store.put_file("x", source)
    with pytest.raises(StoreError):
        store.put_bytes("x", b"x")
    with pytest.raises(StoreError):
        list(store.iter_keys())


def test_s3_prefix_isolates_runs(s3_server: SeaweedInfo, s3_bucket: str) -> None:
    run1, run2 = s3_store_for(s3_server, s3_bucket, "run1"), s3_store_for(s3_server, s3_bucket, "")
    run1.put_bytes("a.txt", b"1")
    run2.put_bytes("a.txt", b"2")
    assert list(run1.iter_keys()) == ["a.txt"]
    assert list(run2.iter_keys()) == ["a.txt", "run1/a.txt"]
    assert run2.get_bytes("run1/a.txt") == b"1"


# --- open_store --------------------------------------------------------------------------------


def test_open_store_local_uris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = open_store(str(tmp_path / "a"))
    assert isinstance(plain, LocalStore) and plain.root == tmp_path / "a"
    from_uri = open_store((tmp_path / "दस्तावेज़").as_uri(), endpoint_url=None)
    assert isinstance(from_uri, LocalStore) and from_uri.root == tmp_path / "दस्तावेज़"
    monkeypatch.chdir(tmp_path)
    relative = open_store("./archive-data")
    relative.put_bytes("x.txt", b"x")
    assert (tmp_path / "archive-data/x.txt").read_bytes() == b"x"
    assert relative.uri == (tmp_path / "archive-data").as_uri()


def test_open_store_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        open_store("ftp://host/dir")
    with pytest.raises(ValueError, match="bucket"):
        open_store("s3:///prefix")


def test_open_store_s3_options(s3_server: SeaweedInfo, s3_bucket: str) -> None:
    store = open_store(
        f"s3://{s3_bucket}/run1/",
        endpoint_url=s3_server.endpoint_url,
        region_name=s3_server.region,
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
        session_token=None,
        use_ssl=None,
        verify=None,
    )
    assert isinstance(store, S3Store) and store.uri == f"s3://{s3_bucket}/run1"
    store.put_bytes("k.txt", b"v")
    assert store.get_bytes("k.txt") == b"v"


def test_open_store_s3_from_environment(
    s3_server: SeaweedInfo, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3 reads AWS_ENDPOINT_URL and the keys from the environment itself."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    store = open_store(f"s3://{s3_bucket}/env")
    store.put_bytes("k.txt", b"v")
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="env/k.txt")["Body"].read() == b"v"
