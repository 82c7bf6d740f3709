"""WARC records byte for byte, with a pinned clock and pinned record IDs (warcio's style)."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cdxj_indexer.main import CDXJIndexer
from warcio.archiveiterator import ArchiveIterator

from archive.catalog.captures import exchange_key
from archive.session import ArchiveSession
from archive.store.local import LocalStore
from archive.store.spool import Spool
from archive.warc import cdxj
from archive.warc.indexer import index_warc, rescue_open_warc
from archive.warc.recorder import WarcRecorder, index_key, index_spill
from archive.warc.records import Exchange, RecordRef, WarcFileWriter, payload_digest

GOLDEN = Path(__file__).parent / "golden"
WHEN = datetime(2025, 5, 5, 12, 17, 0, 123456, tzinfo=UTC)
HTML = "<html><body><p>रक्षा मंत्री ने नई दिल्ली में बैठक की।</p></body></html>".encode()


def pinned_ids():
    counter = itertools.count(1)
    return lambda: f"<urn:uuid:00000000-0000-4000-8000-{next(counter):012d}>"


def gzip_exchange(**overrides) -> Exchange:
    body = gzip.compress(HTML, mtime=0)
    fields = dict(
        url="https://www.pib.gov.in/PressReleasePage.aspx?PRID=2127135&reg=3&lang=2",
        method="GET",
        request_headers=[("Accept-Encoding", "gzip, deflate"), ("User-Agent", "sangrah-test")],
        status=200,
        response_headers=[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
        ],
        body=body,
        date=WHEN,
    )
    return Exchange(**{**fields, **overrides})


def write_one(exchange: Exchange, **kwargs) -> bytes:
    out = io.BytesIO()
    writer = WarcFileWriter(out, "test.warc.gz", clock=lambda: WHEN, new_id=pinned_ids())
    writer.write_warcinfo({"software": "sangrah-test"})
    writer.write_exchange(exchange, **kwargs)
    return out.getvalue()


def test_exchange_matches_golden_records():
    data = write_one(gzip_exchange())
    text = gzip.decompress(data)  # concatenated members decompress to the plain WARC
    golden = GOLDEN / "exchange.warc"
    if not golden.exists():  # first run writes the golden file; review it, then commit it
        golden.write_bytes(text)
    assert text == golden.read_bytes()


def test_response_headers_agree_with_stored_body():
    data = write_one(gzip_exchange())
    records, decoded = [], b""
    for record in ArchiveIterator(io.BytesIO(data)):
        records.append(record)
        if record.rec_type == "response":
            decoded = record.content_stream().read()  # warcio undoes Content-Encoding
    assert [r.rec_type for r in records] == ["warcinfo", "response", "request"]
    response, request = records[1], records[2]
    http = response.http_headers
    assert http.get_header("Transfer-Encoding") is None
    assert http.get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert decoded == HTML
    response = next(r for r in ArchiveIterator(io.BytesIO(data)) if r.rec_type == "response")
    raw = response.raw_stream.read()
    assert int(http.get_header("Content-Length")) == len(raw) == len(gzip_exchange().body)
    assert response.rec_headers.get_header("WARC-Payload-Digest") == payload_digest(raw)
    assert request.rec_headers.get_header("WARC-Concurrent-To") == response.rec_headers.get_header(
        "WARC-Record-ID"
    )
    assert request.http_headers.statusline.startswith("/PressReleasePage.aspx?PRID=2127135")
    assert request.http_headers.get_header("Host") == "www.pib.gov.in"


def test_compressed_payload_is_stored_not_deflated_again(tmp_path: Path):
    # A gzip body that deflate could still shrink (4.3 KB to 0.4 KB), so that stored blocks
    # are told apart from deflate's own choice of them for incompressible data.
    noise = gzip.compress(bytes(range(256)) * 4000, mtime=0)
    plain = gzip_exchange(body=noise, response_headers=[("Content-Type", "text/html")])
    for exchange, stored in ((gzip_exchange(body=noise), True), (plain, False)):
        out = io.BytesIO()
        ref, _request = WarcFileWriter(out, "t.warc.gz", clock=lambda: WHEN).write_exchange(
            exchange
        )
        member = out.getvalue()[ref.offset : ref.offset + ref.length]
        inflate = zlib.decompressobj(31)
        block = inflate.decompress(member)
        assert inflate.eof and not inflate.unused_data  # exactly one gzip member
        assert block.endswith(noise + b"\r\n\r\n")
        # Stored blocks: the payload's bytes are in the member as they are.
        assert (noise[1000:2000] in member) is stored
        path = tmp_path / f"{stored}.warc.gz"
        path.write_bytes(out.getvalue())
        warcio = str(Path(sys.executable).with_name("warcio"))
        subprocess.run([warcio, "check", str(path)], check=True)
        with path.open("rb") as f:
            response = next(r for r in ArchiveIterator(f) if r.rec_type == "response")
            assert response.raw_stream.read() == noise


def test_wrong_content_length_is_corrected_and_kept():
    exchange = gzip_exchange(response_headers=[("Content-Length", "999")], body=b"abc")
    response = list(ArchiveIterator(io.BytesIO(write_one(exchange))))[1]
    assert response.http_headers.get_header("Content-Length") == "3"
    assert response.http_headers.get_header("X-Archive-Orig-Content-Length") == "999"


def test_revisit_refers_to_original():
    original = RecordRef("w.warc.gz", 0, 10, "<urn:uuid:orig>", "2025-01-01T00:00:00Z")
    records = list(ArchiveIterator(io.BytesIO(write_one(gzip_exchange(), revisit_of=original))))
    revisit = records[1]
    assert revisit.rec_type == "revisit"
    assert revisit.rec_headers.get_header("WARC-Refers-To") == "<urn:uuid:orig>"
    assert revisit.rec_headers.get_header("WARC-Refers-To-Date") == "2025-01-01T00:00:00Z"
    assert revisit.rec_headers.get_header("WARC-Payload-Digest") == payload_digest(
        gzip_exchange().body
    )


def test_recorder_rotates_renames_and_indexes(tmp_path: Path):
    def spool_path(key: str) -> Path:
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    recorder = WarcRecorder(
        spool_path, {"software": "t"}, max_size=1, clock=lambda: WHEN, new_id=pinned_ids()
    )
    ref = recorder.record_exchange(gzip_exchange())
    assert (tmp_path / (ref.warc + ".open")).exists()
    recorder.record_metadata(ref_url := gzip_exchange().url, ref, {"txt": "txt/pib/x.txt"})
    closed = recorder.rotate_if_full()
    assert closed == (ref.warc, index_key(ref.warc))
    warc = tmp_path / ref.warc
    assert warc.exists() and not (tmp_path / (ref.warc + ".open")).exists()
    subprocess.run(["gzip", "-t", str(warc)], check=True)
    subprocess.run(
        [str(Path(sys.executable).with_name("warcio")), "check", "-v", str(warc)], check=True
    )
    with warc.open("rb") as f:
        f.seek(ref.offset)
        record = next(iter(ArchiveIterator(io.BytesIO(f.read(ref.length)))))
    assert record.rec_type == "response"
    entries = list(cdxj.parse((tmp_path / index_key(ref.warc)).read_bytes()))
    kinds = {e.fields.get("type", e.fields["mime"]) for e in entries}
    assert kinds == {"text/html", "metadata"}
    meta = next(e for e in entries if e.fields.get("type") == "metadata")
    assert meta.url == "urn:extraction:" + ref_url and meta.fields["page"] == ref_url
    assert meta.fields["refers_to"]["offset"] == ref.offset
    assert recorder.rotate_if_full() is None  # nothing open any more
    recorder.release(ref.warc)  # sealed files stay locked until published


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://www.PIB.gov.in/P.aspx?b=2&a=1#x", "in,gov,pib)/p.aspx?a=1&b=2"),
        ("http://ndtv.in:8080/india", "in,ndtv:8080)/india"),
        ("https://ndtv.in/india/", "in,ndtv)/india"),  # pywb drops the trailing slash
        ("https://ndtv.in/", "in,ndtv)/"),
        ("https://ndtv.in/%7Eeditor/a", "in,ndtv)/~editor/a"),  # unreserved: unescaped
        ("https://ndtv.in/a//b", "in,ndtv)/a/b"),
        (  # a Devanagari host is punycoded, its path percent-encoded
            "https://हिंदी.भारत/समाचार/",
            "xn--h2brj9c,xn--i1b6e8byah)/%e0%a4%b8%e0%a4%ae%e0%a4%be%e0%a4%9a%e0%a4%be%e0%a4%b0",
        ),
        ("urn:text:https://ndtv.in/India/", "urn:text:https://ndtv.in/india"),
    ],
)
def test_surt_is_pywbs(url, key):
    assert cdxj.surt(url) == key
    # cdxj-indexer, which pywb's own tools use, gives the same key
    assert CDXJIndexer(None, []).get_url_key(url) == key


def _recorder(tmp_path: Path, **kwargs) -> WarcRecorder:
    def spool_path(key: str) -> Path:
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    return WarcRecorder(
        spool_path, {"software": "t"}, clock=lambda: WHEN, new_id=pinned_ids(), **kwargs
    )


def test_index_rebuilt_from_warc_equals_written_index(tmp_path: Path):
    recorder = _recorder(tmp_path)
    ref = recorder.record_exchange(gzip_exchange())
    recorder.record_exchange(gzip_exchange(url="https://ndtv.in/robots.txt", status=404))
    recorder.record_metadata(gzip_exchange().url, ref, {"txt": "txt/pib/a.txt", "title": "शीर्षक"})
    warc_key, index = recorder.close()
    recorder.release(warc_key)  # sealed files stay locked until published
    with (tmp_path / warc_key).open("rb") as stream:
        rebuilt = index_warc(stream, warc_key.rsplit("/", 1)[-1], warc_key)
    assert cdxj.render(rebuilt) == (tmp_path / index).read_bytes()


def test_rescue_keeps_whole_records_of_a_crashed_warc(tmp_path: Path):
    recorder = _recorder(tmp_path)
    first = recorder.record_exchange(gzip_exchange())
    second = recorder.record_exchange(gzip_exchange(url="https://ndtv.in/x-1234567"))
    open_path = tmp_path / (recorder.current_key + ".open")
    recorder._file.close()  # the process dies: the file stays .open
    recorder._index.file.close()  # and so do the index lines it had written
    spill = index_spill(open_path)
    assert len(spill.read_bytes().splitlines()) == 2
    with open_path.open("r+b") as f:  # the crash: the second exchange half written
        f.truncate(second.offset + second.length // 2)
    sealed, index = rescue_open_warc(open_path, recorder.current_key)
    assert not open_path.exists() and not spill.exists()  # indexed again from the records
    subprocess.run(
        [str(Path(sys.executable).with_name("warcio")), "check", str(sealed)], check=True
    )
    urls = [e.url for e in cdxj.parse(index.read_bytes())]
    assert urls == [gzip_exchange().url]
    assert sealed.stat().st_size == first.offset + first.length + _request_length(sealed, first)


def _request_length(path: Path, response: RecordRef) -> int:
    with path.open("rb") as f:
        f.seek(response.offset + response.length)
        it = ArchiveIterator(f)
        record = next(iter(it))
        assert record.rec_type == "request"
        it.read_to_end()
        return it.get_record_length()


def cdxj_indexer_lines(warc: Path, *args: str) -> list[tuple[str, str, dict]]:
    """pywb's indexer on ``warc``: (key, timestamp, fields) per line."""
    out = subprocess.run(
        [str(Path(sys.executable).with_name("cdxj-indexer")), *args, str(warc)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [(k, t, json.loads(b)) for k, t, b in (line.split(" ", 2) for line in out.splitlines())]


def test_page_records_are_not_the_page(tmp_path: Path):
    """The text and extraction records of a page are named urn:text:/urn:extraction:, so a
    replay tool indexing the WARC finds only the response under the page's own key."""
    recorder = _recorder(tmp_path)
    page = gzip_exchange().url
    ref = recorder.record_exchange(gzip_exchange())
    data = {"txt": "txt/pib/a.txt", "url": page}  # an extraction result names its page too
    recorder.record_metadata(page, ref, data, text="पाठ\n".encode())
    warc_key, index = recorder.close()
    recorder.release(warc_key)  # sealed files stay locked until published
    with (tmp_path / warc_key).open("rb") as f:
        targets = {
            r.rec_type: r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f)
        }
    assert targets["response"] == targets["request"] == page
    assert targets["conversion"] == "urn:text:" + page
    assert targets["metadata"] == "urn:extraction:" + page
    theirs = cdxj_indexer_lines(tmp_path / warc_key)
    assert [fields["offset"] for key, _, fields in theirs if key == cdxj.surt(page)] == [
        str(ref.offset)
    ]
    ours = {e.key: e for e in cdxj.parse((tmp_path / index).read_bytes())}
    meta = ours[cdxj.surt("urn:extraction:" + page)]
    assert meta.fields["page"] == page and meta.fields["txt"] == "txt/pib/a.txt"
    assert {key for key, _, _ in theirs} == set(ours)
    assert {f["url"] for _, _, f in theirs} == {page, "urn:extraction:" + page}


POSTBACK = "https://www.pib.gov.in/allRel.aspx?reg=3&lang=2"


def postback(month: int, **overrides) -> Exchange:
    """PIB's listing form posted back for one month (a form body, as Scrapy's FormRequest)."""
    fields = dict(
        url=POSTBACK,
        method="POST",
        request_headers=[("Content-Type", "application/x-www-form-urlencoded")],
        request_body=f"__EVENTTARGET=ctl00%24Month&Year=2025&Month={month}&q=%E0%A4%95".encode(),
    )
    return gzip_exchange(**{**fields, **overrides})


def test_post_is_indexed_as_pywb_looks_it_up(tmp_path: Path):
    recorder = _recorder(tmp_path)
    get = recorder.record_exchange(gzip_exchange(url=POSTBACK))
    post = recorder.record_exchange(postback(5))
    warc_key, index = recorder.close()
    recorder.release(warc_key)  # sealed files stay locked until published
    ours = {e.fields["offset"]: e for e in cdxj.parse((tmp_path / index).read_bytes())}
    assert ours[str(get.offset)].key == "in,gov,pib)/allrel.aspx?lang=2&reg=3"
    mine = ours[str(post.offset)]
    assert mine.key == (
        "in,gov,pib)/allrel.aspx?__eventtarget=ctl00$month&__wb_method=post"
        "&lang=2&month=5&q=%e0%a4%95&reg=3&year=2025"
    )
    assert mine.url == POSTBACK and mine.fields["method"] == "POST"
    assert mine.fields["request_digest"] == payload_digest(postback(5).request_body)
    # pywb's indexer with its POST handling gives the same keys and fields
    theirs = {f["offset"]: (k, f) for k, _, f in cdxj_indexer_lines(tmp_path / warc_key, "-p")}
    assert theirs[str(post.offset)][0] == mine.key
    assert theirs[str(post.offset)][1]["requestBody"] == mine.fields["requestBody"]
    assert theirs[str(get.offset)][0] == ours[str(get.offset)].key
    with (tmp_path / warc_key).open("rb") as stream:
        rebuilt = index_warc(stream, warc_key.rsplit("/", 1)[-1], warc_key)
    assert cdxj.render(rebuilt) == (tmp_path / index).read_bytes()


def test_revisits_compare_method_and_body(tmp_path: Path):
    """A postback is a revisit only of the same postback: same URL, method and body."""
    store = LocalStore(tmp_path / "store")
    session = ArchiveSession(store, Spool(tmp_path / "spool", store), _recorder(tmp_path))
    kinds = []
    for exchange in [gzip_exchange(url=POSTBACK), postback(5), postback(6), postback(5)]:
        _ref, revisit_of = session.record_exchange(exchange)
        kinds.append(revisit_of is not None)
    assert kinds == [False, False, False, True]  # one payload, but three different requests
    keys = [POSTBACK, exchange_key(postback(5)), exchange_key(postback(6))]
    assert len({session.captures.get(key).offset for key in keys}) == 3
    assert session.captures.get(exchange_key(postback(7))) is None
    session.close()
