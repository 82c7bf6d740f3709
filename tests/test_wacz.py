"""`sangrah export --wacz` and the UI's replay packages, checked by py-wacz's `wacz validate`
(the reference validator) and read back: index lines point at the records, pages carry texts."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.catalog.db import Catalog
from archive.store.local import LocalStore
from archive.text.seedfile import from_seed_txt
from archive.warc.wacz import replay_wacz
from tests.pipeline_runs import ENTRIES, ENV, MISSING, NDTV, PIB, SANGRAH, WEBDUNIA, fetch

WACZ = str(Path(sys.executable).with_name("wacz"))


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    results = fetch(store, PIB, NDTV, WEBDUNIA, MISSING)
    assert all(results[u]["txt"] for u in (PIB, NDTV, WEBDUNIA))
    return store, results


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [WACZ, "validate", "-f", str(path)], capture_output=True, text=True, timeout=120, env=ENV
    )


def export(store: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    command = [SANGRAH, "export", "--wacz", str(out), "--store", str(store), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=ENV)


def records_at(wacz: zipfile.ZipFile, line: str) -> tuple[dict, object]:
    data = json.loads(line.split(" ", 2)[2])
    raw = wacz.read(f"archive/{data['filename']}")
    chunk = raw[int(data["offset"]) : int(data["offset"]) + int(data["length"])]
    return data, next(iter(ArchiveIterator(io.BytesIO(chunk))))


def test_export_round_trip_through_wacz_validate(archive, tmp_path):
    store, results = archive
    out = tmp_path / "all.wacz"
    done = export(store, out)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"wrote {out}: 3 pages, 1 WARC files, ")
    checked = validate(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Validation succeeded, the passed WACZ is valid" in checked.stdout

    with zipfile.ZipFile(out) as wacz:
        warc = results[NDTV]["warc"]
        name = f"archive/{Path(warc).name}"
        assert wacz.read(name) == (store / warc).read_bytes()  # the WARC as stored
        assert wacz.getinfo(name).compress_type == zipfile.ZIP_STORED
        package = json.loads(wacz.read("datapackage.json"))
        assert package["wacz_version"] == "1.1.1"
        assert {r["path"] for r in package["resources"]} == {
            name, "indexes/index.cdx", "pages/pages.jsonl"}  # fmt: skip
        lines = wacz.read("indexes/index.cdx").decode().splitlines()
        assert lines == sorted(lines)
        for line in lines:  # each line points at a response (or revisit) of its URL
            data, record = records_at(wacz, line)
            assert data.get("type") != "metadata"
            assert record.rec_type in ("response", "revisit")
            assert record.rec_headers.get_header("WARC-Target-URI") == data["url"]
        assert {json.loads(x.split(" ", 2)[2])["url"] for x in lines} >= {PIB, NDTV, MISSING}
        header, *pages = [json.loads(x) for x in wacz.read("pages/pages.jsonl").splitlines()]
    assert header == {"format": "json-pages-1.0", "id": "pages", "title": "Articles",
                      "hasText": True}  # fmt: skip
    assert {p["url"] for p in pages} == {PIB, NDTV, WEBDUNIA}
    for page in pages:
        title, blocks = from_seed_txt((store / results[page["url"]]["txt"]).read_bytes())
        assert page["title"] == title == ENTRIES[page["url"]]["meta"]["title"]
        assert page["text"] == "\n".join(blocks) and page["ts"].startswith("20")


def test_validate_catches_a_changed_byte(archive, tmp_path):
    """The control: the validator does fail a WACZ whose page list no longer has its hash."""
    store, _results = archive
    good, bad = tmp_path / "good.wacz", tmp_path / "bad.wacz"
    assert export(store, good).returncode == 0
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "pages/pages.jsonl":
                data = data.replace("रक्षा".encode(), "रक्षी".encode(), 1)  # same length
            dst.writestr(info, data)
    checked = validate(bad)
    assert checked.returncode == 1 and "the passed WACZ is invalid" in checked.stdout
    assert "hash" in checked.stdout


def test_export_filters(archive, tmp_path):
    store, _results = archive
    out = tmp_path / "ndtv.wacz"
    assert export(store, out, "--source", "ndtv", "--since", "2023-01-01").returncode == 0
    with zipfile.ZipFile(out) as wacz:
        pages = wacz.read("pages/pages.jsonl").decode().splitlines()[1:]
    assert [json.loads(p)["url"] for p in pages] == [NDTV]
    done = export(store, tmp_path / "none.wacz", "--source", "ians")
    assert done.returncode == 1 and "no articles match" in done.stderr
    assert not (tmp_path / "none.wacz").exists() and not list(tmp_path.glob("*.part"))


def test_replay_package_of_one_url(archive, tmp_path, monkeypatch):
    store, results = archive
    monkeypatch.delenv("SANGRAH_CATALOG", raising=False)
    local = LocalStore(store)
    out = tmp_path / "one.wacz"
    with Catalog.for_store(local) as catalog, open(out, "wb") as f:
        report = replay_wacz(local, catalog, NDTV, f)
    assert (report.pages, report.index_lines) == (1, 1)
    again = io.BytesIO()
    with Catalog.for_store(local) as catalog:
        replay_wacz(local, catalog, NDTV, again)
    # The replay reads the package with many range requests, each answered by a new one.
    assert again.getvalue() == out.read_bytes()
    checked = validate(out)
    assert checked.returncode == 0, checked.stdout
    with zipfile.ZipFile(out) as wacz:
        (line,) = wacz.read("indexes/index.cdx").decode().splitlines()
        _data, record = records_at(wacz, line)
        r = results[NDTV]
        original = (store / r["warc"]).read_bytes()[r["offset"] : r["offset"] + r["length"]]
        assert wacz.read("archive/replay.warc.gz") == original  # the record's bytes, unchanged
        assert record.rec_headers.get_header("WARC-Target-URI") == NDTV
        assert json.loads(wacz.read("datapackage.json"))["mainPageURL"] == NDTV
