"""Bad arguments and missing resources: one line that says what to do, exit 2, no traceback.

Each case runs the real `sangrah` command; none of them gets as far as starting a crawl.
"""

from __future__ import annotations

import subprocess

import pytest

from archive import __version__
from tests.corpus_urls import CORPUS
from tests.pipeline_runs import ENV, NDTV, SANGRAH


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SANGRAH, *args], capture_output=True, text=True, timeout=60, env=ENV, cwd=cwd
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["crawl", "foo"], "unknown source 'foo': use one of generic, pib, ndtv, ians, webdunia"),
        (
            ["crawl", "ndtv", "--since", "yesterday"],
            "--since: 'yesterday' is not a date; give YYYY",
        ),
        (["crawl", "ndtv", "--until", "2025-02-30"], "--until: '2025-02-30' is not a date"),
        (
            ["crawl", "pib", "--prid-range", "abc"],
            "--prid-range: 'abc' is not a PRID range; give A-B",
        ),
        (["crawl", "generic"], "generic needs somewhere to start: --start-url URL"),
        (["crawl", "pib", "--store", "ftp://x"], "--store: unsupported store URI 'ftp://x': use a"),
        (["crawl", "pib", "--store", "s3://"], "--store: S3 URI without a bucket"),
        (["crawl", "pib", "--store", "/etc/passwd"], "--store: /etc/passwd is not a directory"),
        (["crawl", "pib", "--replay", "/nonexistent"], "--replay: /nonexistent does not exist"),
        (["fetch", NDTV, "--replay", "/nonexistent"], "--replay: /nonexistent does not exist"),
        (["catalog", "rebuild", "--store", "missing"], "no archive at missing; give --store"),
        (["ls", "--store", "missing"], "no archive at missing; give --store"),
        (["browse", "--store", "missing"], "no archive at missing; give --store"),
        (["search", "x", "--store", "ftp://x"], "--store: unsupported store URI"),
        (["ls", "--limit", "-1"], "Invalid value for '--limit'"),
        (["crawl", "pib", "--limit", "-1"], "Invalid value for '--limit'"),
        (["ls", "--since", "5/5/2025"], "--since: '5/5/2025' is not a date"),
        (["crawl"], "name at least one source"),
        (["nonsense"], "No such command 'nonsense'"),
        (["ls", "--nonsense"], "No such option: --nonsense"),
    ],
)
def test_bad_argument_is_one_line_and_exit_2(tmp_path, args, says):
    (tmp_path / "archive-data").mkdir()  # the default store exists: only the bad part fails
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    command = "sangrah " + args[0] if not args[0].startswith("nonsense") else "sangrah"
    if args[0] == "catalog":
        command = "sangrah catalog rebuild"
    assert lines[0].startswith(f"{command}: "), lines[0]
    assert says in lines[0]
    assert lines[0].endswith(f"(see `{command} --help`)")
    assert done.stdout == ""
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing fetched or written


def test_version(tmp_path):
    done = run("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"sangrah {__version__}\n", "")


def test_a_crawl_downloads_no_public_suffix_list(tmp_path):
    """Scrapy's cookie middleware asks tldextract about PIB's cookies, and tldextract would fetch
    the suffix list from the internet; with an empty cache the crawl uses the shipped snapshot."""
    env = {**ENV, "TLDEXTRACT_CACHE": str(tmp_path / "tldextract-cache")}
    command = [SANGRAH, "crawl", "pib", "--limit", "2", "--store", str(tmp_path / "store")]
    command += ["--replay", str(CORPUS)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert "pib: discovered" in done.stdout, done.stderr  # the crawl ran
    assert "tldextract" not in done.stderr and "Traceback" not in done.stderr, done.stderr
