"""Running the real `sangrah` CLI on the bundled corpus, for the end-to-end tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.corpus_urls import CORPUS, manifest

SANGRAH = str(Path(sys.executable).with_name("sangrah"))
WARCIO = str(Path(sys.executable).with_name("warcio"))
ENTRIES = {entry["url"]: entry for entry in manifest()}
PIB = "https://www.pib.gov.in/PressReleasePage.aspx?PRID=2126794&reg=3&lang=2"
NDTV = "https://ndtv.in/india/india-russia-resolve-to-strengthen-defence-cooperation-rajnath-singh-shoigu-sco-meeting-4039518"
WEBDUNIA = "https://hindi.webdunia.com/national-hindi-news/s-jaishankar-toshimitsu-motegi-security-talks-120100700582_1.html"
MISSING = "https://ndtv.in/india/this-page-does-not-exist-1234567"
ENV = {k: v for k, v in os.environ.items() if k != "SANGRAH_CATALOG"}


def run_fetch(
    store: str, urls: list[str], *extra: str, env: dict | None = None, replay: Path = CORPUS
) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    """`sangrah fetch --json` through the replay proxy: the process and its results by URL."""
    command = [SANGRAH, "fetch", "--json", "--store", store, "--replay", str(replay), *extra]
    done = subprocess.run(
        command + urls,
        capture_output=True,
        text=True,
        timeout=600,
        env={**ENV, **(env or {})},
    )
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done, {r["url"]: r for r in results}


def fetch(store: Path, *urls: str) -> dict[str, dict]:
    """Every URL archived (or not) into `store`; fails the test if a result is missing."""
    done, results = run_fetch(str(store), list(urls))
    assert len(results) == len(urls), done.stderr[-3000:]
    return results
