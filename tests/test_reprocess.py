"""`sangrah reprocess`: TXTs extracted again from the stored WARCs, without refetching."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from archive.store.local import LocalStore
from archive.store.verify import verify_store
from archive.warc import cdxj
from tests.corpus_urls import manifest
from tests.pipeline_runs import SANGRAH, run_fetch

NDTV = [e["url"] for e in manifest() if e["kind"] == "article" and e["source"] == "ndtv"][:3]


def test_reprocess_makes_versions_of_changed_texts_only(tmp_path: Path) -> None:
    store = tmp_path / "store"
    # First archived with a source rule that drops each article's second paragraph...
    override = tmp_path / "sources.toml"
    override.write_text('[ndtv.extract]\ndrop = ["p:nth-of-type(2)"]\n', "utf-8")
    done, results = run_fetch(str(store), NDTV, env={"SANGRAH_SOURCES": str(override)})
    assert done.returncode == 0, done.stderr[-2000:]
    first = {r["txt"] for r in results.values()}
    # ...then reprocessed with the rules as they are: every text changed, nothing refetched.
    env = {**os.environ, "SANGRAH_SOURCES": ""}
    again = subprocess.run([SANGRAH, "reprocess", "--store", str(store)], capture_output=True,
                           text=True, env=env, timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    versions = int(again.stderr.split("new version ")[1].split(",")[0].split()[0])
    assert versions >= 2  # the pages whose container had a second paragraph
    txts = sorted(str(p.relative_to(store)) for p in store.rglob("txt/**/*.txt"))
    assert len(txts) == len(NDTV) + versions and first < set(txts)
    links = {}
    for index in store.rglob("*.cdxj"):
        for entry in cdxj.parse(index.read_bytes()):
            if entry.fields.get("reprocessed"):
                links[entry.fields["txt"]] = entry.fields["version_of"]
                assert entry.fields["refers_to"]["warc"] != index  # the original response
    assert len(links) == versions and set(links.values()) < first
    # A second reprocess finds nothing new and writes nothing.
    twice = subprocess.run([SANGRAH, "reprocess", "--store", str(store)], capture_output=True,
                           text=True, env=env, timeout=300)  # fmt: skip
    assert f"unchanged {len(NDTV)}" in twice.stderr, twice.stderr[-2000:]
    assert len(list(store.rglob("txt/**/*.txt"))) == len(NDTV) + versions
    assert verify_store(LocalStore(store)).problems == []


def test_damaged_record_is_reported_and_the_others_reprocessed(tmp_path: Path) -> None:
    """Records are parsed in the pool workers: a damaged one is one line in the log and one
    count, and the other pages are still read."""
    store = tmp_path / "store"
    done, _results = run_fetch(str(store), NDTV)
    assert done.returncode == 0, done.stderr[-2000:]
    (index,) = [p for p in store.rglob("*.cdxj")]
    response = next(e for e in cdxj.parse(index.read_bytes()) if e.fields.get("mime") == "text/html"
                    and e.fields.get("status") == "200")  # fmt: skip
    (warc,) = store.rglob(response.fields["filename"])
    data = bytearray(warc.read_bytes())
    start = int(response.fields["offset"]) + 40
    data[start : start + 200] = bytes(200)  # inside the record's gzip member
    warc.write_bytes(bytes(data))
    again = subprocess.run([SANGRAH, "reprocess", "--store", str(store)], capture_output=True,
                           text=True, env=os.environ, timeout=300)  # fmt: skip
    assert "unreadable 1" in again.stderr and f"unchanged {len(NDTV) - 1}" in again.stderr
    (line,) = [ln for ln in again.stderr.splitlines() if "cannot read" in ln]
    assert response.fields["filename"] in line
