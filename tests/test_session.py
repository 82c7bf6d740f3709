"""The archiving rules of ArchiveSession, without Scrapy: naming, dedup, faults, recovery.

Faults come from seams: a store that fails from its Nth call on, a named point of the write path
that raises ENOSPC (archive.faults), two sessions racing on one store. After each, the store's
invariants are checked with ``verify_store``.
"""

from __future__ import annotations

import errno
import io
import json
import threading
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.session import ArchiveSession, ArticleText, open_session
from archive.store import Store, StoreError
from archive.store.layout import default_spool_dir
from archive.store.local import GroupCommit, LocalStore
from archive.store.spool import Spool, SpoolMismatch
from archive.store.txtstore import TxtNames, text_claim_key
from archive.store.verify import verify_store
from archive.warc import cdxj
from archive.warc.indexer import whole_records_length
from archive.warc.recorder import ArchiveWriteError, WarcRecorder, is_abandoned
from archive.warc.records import Exchange

INFO = {"software": "sangrah-test"}
DAY = "2025-05-05T10:00:00+05:30"


def exchange(n: int, body: bytes | None = None) -> Exchange:
    return Exchange(
        url=f"https://ndtv.in/india/story-{n}",
        method="GET",
        request_headers=[("User-Agent", "sangrah-test")],
        status=200,
        response_headers=[("Content-Type", "text/html; charset=utf-8")],
        body=body if body is not None else f"<html><p>खबर {n}</p></html>".encode(),
    )


def article(n: int, text: str | None = None) -> ArticleText:
    body = text if text is not None else f"शीर्षक {n}\n\nसमाचार का पाठ {n}।\n"
    return ArticleText(f"https://ndtv.in/india/story-{n}", "ndtv", DAY, body.encode())


def archive_one(session: ArchiveSession, n: int, text: str | None = None):
    ref, _ = session.record_exchange(exchange(n))
    return session.record_page(ref_url(n), ref, {"title": f"t{n}"}, article(n, text))


def ref_url(n: int) -> str:
    return f"https://ndtv.in/india/story-{n}"


def new_session(store: Store, spool: Path, **kwargs) -> ArchiveSession:
    session = open_session(store, spool, INFO, **kwargs)
    session.recover()
    return session


def txts(store: Store) -> list[str]:
    return [k for k in store.iter_keys("txt/")]


def assert_clean(store: Store) -> None:
    report = verify_store(store)
    assert report.problems == [], [p.line() for p in report.problems]


class FailingStore:
    """A LocalStore whose calls on keys starting with `only` fail while it is `down`, or from
    its `fail_from`-th such call on, until healed."""

    def __init__(self, inner: LocalStore, fail_from: int = 10**9, only: str = "", methods=None):
        self.inner, self.fail_from, self.only, self.calls = inner, fail_from, only, 0
        self.methods = methods
        self.uri, self.root = inner.uri, inner.root
        self.down = False

    def heal(self) -> None:
        self.fail_from, self.down = 10**9, False

    def __getattr__(self, name: str):
        method = getattr(self.inner, name)

        def call(*args, **kwargs):
            key = str(args[0]) if args else ""
            if key.startswith(self.only) and (self.methods is None or name in self.methods):
                self.calls += 1
                if self.down or self.calls >= self.fail_from:
                    raise StoreError(f"injected failure of {name}")
            return method(*args, **kwargs)

        return call


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")


def test_article_is_named_recorded_then_stored(store: Store, tmp_path: Path) -> None:
    session = new_session(store, tmp_path / "spool")
    result = archive_one(session, 1)
    session.close()
    assert result.txt == txts(store)[0]
    assert result.txt.startswith("txt/ndtv/2025/05/05/000_")
    assert store.get_bytes(result.txt) == article(1).data
    (warc,) = [k for k in store.iter_keys("warc/") if k.endswith(".warc.gz")]
    kinds = [r.rec_type for r in ArchiveIterator(io.BytesIO(store.get_bytes(warc)))]
    assert kinds == ["warcinfo", "response", "request", "conversion", "metadata"]
    (meta,) = [e for e in cdxj.parse(store.get_bytes(warc[:-8] + ".cdxj")) if e.fields.get("txt")]
    assert meta.fields["text_record"]["warc"] == warc
    assert_clean(store)


def test_same_text_is_one_txt_named_once(store: Store, tmp_path: Path) -> None:
    first = new_session(store, tmp_path / "spool")
    a = archive_one(first, 1)
    b = archive_one(first, 1)  # the same page again in the same run
    first.close()
    second = new_session(store, tmp_path / "spool2")
    c = archive_one(second, 1)  # and in a later run, with another spool
    second.close()
    assert a.txt == b.txt == c.txt and len(txts(store)) == 1
    assert b.note and c.note
    assert_clean(store)


def test_changed_text_gets_a_new_ordinal(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    session = new_session(store, tmp_path / "spool")
    a = archive_one(session, 1)
    b = archive_one(session, 1, text="शीर्षक\n\nबदला हुआ पाठ।\n")
    session.close()
    assert a.txt.rsplit("/", 1)[1][:3] == "000" and b.txt.rsplit("/", 1)[1][:3] == "001"
    assert_clean(store)


def test_concurrent_writers_never_share_an_ordinal(store: Store, tmp_path: Path) -> None:
    """Two sessions (two processes' worth of state) archive overlapping articles at once."""
    sessions = [new_session(store, tmp_path / f"spool{i}") for i in range(2)]
    errors: list[BaseException] = []

    def work(session: ArchiveSession, numbers: range) -> None:
        try:
            for n in numbers:
                archive_one(session, n)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(sessions[0], range(0, 30))),
        threading.Thread(target=work, args=(sessions[1], range(10, 40))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for session in sessions:
        session.close()
    assert errors == []
    names = txts(store)
    assert len(names) == 40  # one per article text, whoever met it first
    assert len({n.rsplit("/", 1)[1][:3] for n in names}) == 40
    assert_clean(store)


def test_store_down_at_naming_defers_then_recovery_names(tmp_path: Path) -> None:
    inner = LocalStore(tmp_path / "store")
    flaky = FailingStore(inner, only="claims/")
    session = new_session(flaky, tmp_path / "spool")
    results = [archive_one(session, n) for n in range(2)]
    flaky.down = True
    results += [archive_one(session, n) for n in range(2, 4)]
    assert [bool(r.txt) for r in results] == [True, True, False, False]
    assert all("could not be reached" in r.pending for r in results[2:])
    session.close()
    assert len(txts(inner)) == 2
    assert len(list((tmp_path / "spool" / ".pending-txt").glob("*.json"))) == 2

    flaky.heal()
    later = new_session(flaky, tmp_path / "spool")  # recovery names the pending texts
    later.close()
    assert len(txts(inner)) == 4
    assert not list((tmp_path / "spool" / ".pending-txt").glob("*.json"))
    again = new_session(flaky, tmp_path / "spool")
    assert archive_one(again, 3).note  # a rerun finds the name recovery gave it
    again.close()
    assert len(txts(inner)) == 4
    assert_clean(inner)


def test_txt_put_failure_is_completed_from_the_warc(tmp_path: Path) -> None:
    inner = LocalStore(tmp_path / "store")
    flaky = FailingStore(inner, fail_from=1, only="txt/", methods={"put_bytes"})
    session = new_session(flaky, tmp_path / "spool")
    result = archive_one(session, 1)
    assert result.txt is None and "sangrah sync" in result.pending
    assert session.unstored
    session.close()  # publishing completes the TXT first, which fails again: all stays
    assert session.unpublished and txts(inner) == []
    flaky.heal()
    new_session(flaky, tmp_path / "spool").close()
    assert len(txts(inner)) == 1
    assert_clean(inner)


def test_disk_full_keeps_whole_records_and_stops(tmp_path: Path, monkeypatch) -> None:
    store = LocalStore(tmp_path / "store")
    session = new_session(store, tmp_path / "spool")
    archive_one(session, 1)
    monkeypatch.setenv("SANGRAH_FAIL_AT", "warc.record:2")
    with pytest.raises(ArchiveWriteError, match=r"cannot write the WARC .*spool"):
        archive_one(session, 2)
    with pytest.raises(ArchiveWriteError):  # stopped for good: nothing partial follows
        session.record_exchange(exchange(3))
    monkeypatch.delenv("SANGRAH_FAIL_AT")
    session.close()
    new_session(store, tmp_path / "spool").close()
    for key in store.iter_keys("warc/"):
        if key.endswith(".warc.gz"):
            data = store.get_bytes(key)
            assert whole_records_length(io.BytesIO(data)) == len(data)
    assert_clean(store)


def test_claim_without_record_is_taken_over(tmp_path: Path, monkeypatch) -> None:
    """A writer that died between claiming a name and recording it leaves a bare claim; the
    next writer to meet the text takes the name over once the claimed WARC shows no record."""
    store = LocalStore(tmp_path / "store")
    first = new_session(store, tmp_path / "spool")
    monkeypatch.setenv("SANGRAH_FAIL_AT", "txt.claimed")
    with pytest.raises(OSError):
        archive_one(first, 1)
    monkeypatch.delenv("SANGRAH_FAIL_AT")
    first.close()
    claim = json.loads(store.get_bytes(text_claim_key(ref_url(1), _sha(article(1).data))))
    assert txts(store) == []
    second = new_session(store, tmp_path / "spool")
    result = archive_one(second, 1)
    second.close()
    assert result.txt == claim["txt"] and result.note is None
    assert_clean(store)


def test_stale_claim_of_a_vanished_writer_is_taken_over(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    names = TxtNames(store, stale_after=timedelta(0))
    key = text_claim_key(ref_url(1), _sha(article(1).data))
    names.decide("txt/ndtv/2025/05/05", ref_url(1), _sha(article(1).data), "warc/x.warc.gz", "r1")
    decision = TxtNames(store, stale_after=timedelta(0)).decide(
        "txt/ndtv/2025/05/05", ref_url(1), _sha(article(1).data), "warc/y.warc.gz", "r2"
    )
    assert decision.names and decision.store
    assert json.loads(store.get_bytes(key))["record"] == "r2"
    fresh = TxtNames(store).decide(
        "txt/ndtv/2025/05/05", ref_url(1), _sha(article(1).data), "warc/z.warc.gz", "r3"
    )
    assert not fresh.names and not fresh.store  # r2's writer may still be at work


def test_seal_writes_the_index_before_the_name(tmp_path: Path, monkeypatch) -> None:
    """Killed between the two steps of sealing: the next recovery seals and publishes both."""
    store = LocalStore(tmp_path / "store")
    session = new_session(store, tmp_path / "spool")
    archive_one(session, 1)
    monkeypatch.setenv("SANGRAH_FAIL_AT", "seal.indexed")
    with pytest.raises(OSError):
        session.recorder.close()
    monkeypatch.delenv("SANGRAH_FAIL_AT")
    spool = tmp_path / "spool"
    assert list(spool.rglob("*.cdxj")) and list(spool.rglob("*.warc.gz.open"))
    die(session)
    new_session(store, tmp_path / "spool").close()
    assert not list(spool.rglob("*.open"))
    assert_clean(store)


def test_rescue_cuts_at_every_possible_crash_point(tmp_path: Path) -> None:
    """A WARC cut at any byte keeps exactly the records that are whole before the cut."""
    session = new_session(LocalStore(tmp_path / "store"), tmp_path / "spool")
    refs = [session.record_exchange(exchange(n))[0] for n in range(3)]
    key = session.recorder.current_key
    data = (tmp_path / "spool" / (key + ".open")).read_bytes()
    session.close()
    ends = sorted({0, *(r.offset for r in refs), len(data)})
    members = _member_ends(data)
    for cut in range(refs[1].offset - 40, len(data) + 1, 7):
        expected = max(end for end in [0, *members] if end <= cut)
        assert whole_records_length(io.BytesIO(data[:cut])) == expected
    assert set(ends) <= {0, *members}


def test_live_writer_is_not_abandoned(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    recorder = WarcRecorder(Spool(tmp_path / "spool", store).path_for, INFO)
    recorder.record_exchange(exchange(1))
    (open_file,) = (tmp_path / "spool").rglob("*.open")
    assert not is_abandoned(open_file)
    recorder._file.close()  # what the kernel does when the writer dies
    recorder._index.file.close()
    assert is_abandoned(open_file)


def test_a_spool_belongs_to_one_store(tmp_path: Path, s3_server, s3_bucket) -> None:
    from tests.seaweed import s3_store_for

    Spool(tmp_path / "spool", s3_store_for(s3_server, s3_bucket, "a"))
    with pytest.raises(SpoolMismatch, match="sangrah sync --store s3://"):
        Spool(tmp_path / "spool", s3_store_for(s3_server, s3_bucket, "b"))
    assert default_spool_dir("s3://news/hindi") != default_spool_dir("s3://other/hindi")
    assert default_spool_dir("s3://news/hindi") == Path("spool/s3_news_hindi")


def test_enospc_seam_is_an_os_error(monkeypatch) -> None:
    from archive import faults

    monkeypatch.setenv("SANGRAH_FAIL_AT", "x.y:2")
    faults.point("x.y")
    with pytest.raises(OSError) as caught:
        faults.point("x.y")
    assert caught.value.errno == errno.ENOSPC


def die(session: ArchiveSession) -> None:
    """What the kernel does for a writer that dies: its open files close, its locks go."""
    if session.recorder._file is not None:
        session.recorder._file.close()
        session.recorder._index.file.close()
    for key in session.recorder.sealed_keys:
        session.recorder.release(key)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _member_ends(data: bytes) -> list[int]:
    """Where each gzip member of `data` ends."""
    ends, pos = [], 0
    while pos < len(data):
        inflater = zlib.decompressobj(wbits=31)
        inflater.decompress(data[pos:])
        pos = len(data) - len(inflater.unused_data)
        ends.append(pos)
    return ends


def test_a_changed_text_is_a_new_version_of_the_last(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    session = new_session(store, tmp_path / "spool")
    first = archive_one(session, 1)
    second = archive_one(session, 1, text="शीर्षक\n\nसंपादित पाठ।\n")
    third = archive_one(session, 1, text="शीर्षक\n\nफिर संपादित पाठ।\n")
    again = archive_one(session, 1, text="शीर्षक\n\nसंपादित पाठ।\n")  # back to version 2
    session.close()
    assert second.note == f"a new version of {first.txt}" and second.new
    assert third.note == f"a new version of {second.txt}"
    assert again.txt == second.txt and not again.new
    (index,) = [k for k in store.iter_keys("warc/") if k.endswith(".cdxj")]
    links = {
        e.fields["txt"]: e.fields.get("version_of")
        for e in cdxj.parse(store.get_bytes(index))
        if e.fields.get("txt")
    }
    assert links == {first.txt: None, second.txt: first.txt, third.txt: second.txt}
    assert_clean(store)


def test_claim_in_a_warc_that_held_nothing_is_taken_over(tmp_path: Path, monkeypatch) -> None:
    """The writer died right after claiming, in a WARC it had just opened: recovery drops that
    WARC (a warcinfo record alone) and marks it, so the claim is not waited on for a day."""
    store = LocalStore(tmp_path / "store")
    first = new_session(store, tmp_path / "spool")
    ref, _ = first.record_exchange(exchange(1))
    first.recorder.close()  # the next claim opens a fresh file
    monkeypatch.setenv("SANGRAH_FAIL_AT", "txt.claimed")
    with pytest.raises(OSError):
        first.record_page(ref_url(1), ref, {}, article(1))
    monkeypatch.delenv("SANGRAH_FAIL_AT")
    die(first)
    second = new_session(store, tmp_path / "spool")
    assert list(store.iter_keys("claims/abandoned/"))
    result = archive_one(second, 1)
    second.close()
    assert result.txt and result.new
    assert_clean(store)


def test_a_text_another_writer_is_storing_is_pending_not_claimed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    names = TxtNames(store)
    names.decide("txt/ndtv/2025/05/05", ref_url(1), _sha(article(1).data), "warc/x.warc.gz", "r1")
    session = new_session(store, tmp_path / "spool")
    result = archive_one(session, 1)
    session.close()
    assert result.txt is None and "another writer" in result.pending


def test_a_text_another_writer_is_storing_is_waited_for(tmp_path: Path, monkeypatch) -> None:
    """Two fetches of one article at once: the second finds the first's claim before the TXT is
    in the store, waits for it, and reports it; a namer that died leaves it pending."""
    import archive.session

    store = LocalStore(tmp_path / "store")
    namer, other = new_session(store, tmp_path / "a"), new_session(store, tmp_path / "b")
    claimed, release = threading.Event(), threading.Event()
    store_txt = namer.names.store_txt

    def slow_store_txt(key: str, data: bytes) -> None:
        claimed.set()  # claimed and recorded; the TXT is not in the store yet
        release.wait(10)
        store_txt(key, data)

    monkeypatch.setattr(namer.names, "store_txt", slow_store_txt)
    first = threading.Thread(target=archive_one, args=(namer, 1))
    first.start()
    assert claimed.wait(10)
    threading.Timer(0.3, release.set).start()
    waited = archive_one(other, 1)
    first.join()
    assert waited.txt and not waited.pending and waited.txt in txts(store)

    monkeypatch.setattr(archive.session, "NAMER_WAIT", 0.2)
    claimed.clear()
    release.clear()
    third = threading.Thread(target=archive_one, args=(namer, 2))
    third.start()
    assert claimed.wait(10)
    given_up = archive_one(other, 2)
    release.set()
    third.join()
    assert given_up.txt is None and "another writer is storing" in given_up.pending
    namer.close()
    other.close()
    assert_clean(store)


# --- what a power cut can leave: files put without an fsync (group commit) ----------------------
def archive_over_claim(tmp_path: Path, claim: bytes):
    """Archive article 1 into a store whose text claim for it holds ``claim``."""
    store = LocalStore(tmp_path / "store")
    key = text_claim_key(ref_url(1), _sha(article(1).data))
    store.put_bytes(key, claim)
    session = new_session(store, tmp_path / "spool")
    result = archive_one(session, 1)
    session.close()
    return store, key, result


def test_an_empty_text_claim_is_filled(tmp_path: Path) -> None:
    """A claim created but not yet synced when the power went: its writer wrote no record
    after it (records follow the sync), so the next writer fills it and names the text."""
    store, key, result = archive_over_claim(tmp_path, b"")
    assert result.txt and json.loads(store.get_bytes(key))["txt"] == result.txt
    assert store.get_bytes(result.txt) == article(1).data
    assert_clean(store)


def test_an_empty_claim_is_filled_by_one_writer_only(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put_bytes("claims/x", b"")
    start, won = threading.Barrier(8), []

    def fill(n: int) -> None:
        start.wait(5)
        if store.fill_empty("claims/x", f"writer {n}".encode()):
            won.append(n)

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(won) == 1 and store.get_bytes("claims/x") == f"writer {won[0]}".encode()
    assert not store.fill_empty("claims/x", b"late")
    folder, sha = "txt/ndtv/2025/05/05", _sha(article(1).data)
    store.put_bytes(text_claim_key(ref_url(1), sha), b"\0" * 40)  # zero-filled: empty too
    first = TxtNames(store).decide(folder, ref_url(1), sha, "warc/a.warc.gz", "r1")
    second = TxtNames(store).decide(folder, ref_url(1), sha, "warc/b.warc.gz", "r2")
    assert first.names and not second.names and second.txt == first.txt


def test_a_claim_this_version_cannot_read_is_not_overwritten(tmp_path: Path) -> None:
    store, key, result = archive_over_claim(tmp_path, b'{"txt": "x", "new_field": 1}')
    assert result.txt is None and "holds no claim this version can read" in result.pending
    assert store.get_bytes(key) == b'{"txt": "x", "new_field": 1}'


def test_a_txt_left_empty_by_a_power_cut_is_rewritten_from_its_record(tmp_path: Path) -> None:
    """The TXT is synced after its record is written: a power cut can leave it empty under its
    name while the open WARC keeps the record. The rescue publishes the WARC with the TXT
    rewritten from the text record."""
    store = LocalStore(tmp_path / "store")
    session = new_session(store, tmp_path / "spool")
    result = archive_one(session, 1)
    (store.root / result.txt).write_bytes(b"")  # its bytes never reached the disk
    session.recorder._file.close()  # the writer is gone (see test_live_writer_is_not_abandoned)
    session.recorder._index.file.close()
    report = new_session(store, tmp_path / "spool").recover()
    assert store.get_bytes(result.txt) == article(1).data
    assert report.failed == []
    assert_clean(store)


def waiters_of(commits: GroupCommit) -> threading.Semaphore:
    """Released each time a caller starts waiting for a sync that another one runs."""
    waiting, wait = threading.Semaphore(0), commits._changed.wait

    def counted_wait(*args):
        waiting.release()
        return wait(*args)

    commits._changed.wait = counted_wait
    return waiting


def test_group_commit_serves_waiting_writers_with_one_sync() -> None:
    running, release, syncs = threading.Event(), threading.Event(), []

    def slow_sync() -> None:
        syncs.append(1)
        running.set()
        release.wait(5)

    commits = GroupCommit(slow_sync)
    waiting = waiters_of(commits)
    first = threading.Thread(target=commits.sync)
    first.start()
    running.wait(5)  # a sync is under way: it may have missed the writes of the callers below
    late = [threading.Thread(target=commits.sync) for _ in range(5)]
    for thread in late:
        thread.start()
    for _ in late:
        assert waiting.acquire(timeout=5)  # each late caller is waiting
    assert len(syncs) == 1  # the late callers wait for the next sync instead of trusting this one
    release.set()
    for thread in [first, *late]:
        thread.join(5)
        assert not thread.is_alive()
    assert len(syncs) == 2


def test_group_commit_failure_reaches_its_waiters() -> None:
    running, release, errors = threading.Event(), threading.Event(), []

    def failing_sync() -> None:
        running.set()
        release.wait(5)
        raise OSError(5, "Input/output error")

    commits = GroupCommit(failing_sync)
    waiting = waiters_of(commits)

    def call() -> None:
        try:
            commits.sync()
        except StoreError as exc:
            errors.append(str(exc))

    leader = threading.Thread(target=call)
    leader.start()
    running.wait(5)
    waiter = threading.Thread(target=call)  # waits for the next sync, which fails too
    waiter.start()
    assert waiting.acquire(timeout=5)
    release.set()
    for thread in (leader, waiter):
        thread.join(5)
        assert not thread.is_alive()
    assert len(errors) == 2
    assert all("cannot sync the store: [Errno 5] Input/output error" in e for e in errors)
