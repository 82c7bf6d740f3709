"""The built distributions carry everything the code reads at run time, and the code reads it as a
package resource: scrapyd runs the project from a zipped egg, where there is no directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATA = {
    "archive/discover/sources.toml",
    "archive/web/static/style.css",
    "archive/web/templates/base.html",
    "archive/web/templates/article.html",
}
PROJECT_FILES = ("archive", "crawler", "pipelines", "setup.py", "pyproject.toml", "scrapy.cfg")


def project_copy(target: Path) -> Path:
    """The project's packaging inputs in `target`: builds write build/ and *.egg-info beside
    setup.py, which must not happen in a work tree other tests run from."""
    for name in (*PROJECT_FILES, "README.md"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target


def build_egg(tmp_path: Path) -> Path:
    """The egg `scrapyd-deploy` uploads, built the way it builds it."""
    project = project_copy(tmp_path / "project")
    egg = tmp_path / "sangrah.egg"
    done = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "--build-egg", str(egg)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return egg


@pytest.fixture(scope="module")
def egg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_egg(tmp_path_factory.mktemp("egg"))


def test_egg_carries_data_files_and_the_scrapy_entry_point(egg: Path):
    with zipfile.ZipFile(egg) as z:
        names = set(z.namelist())
        entry_points = z.read("EGG-INFO/entry_points.txt").decode()
    assert names >= DATA, DATA - names
    # scrapyd finds the settings module of a deployed project through this entry point.
    assert "[scrapy]" in entry_points
    assert "settings = crawler.settings" in entry_points


def test_sources_load_from_inside_the_zipped_egg(egg: Path, tmp_path: Path):
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import archive.discover.sources as s; print(s.__file__);"
        "print(' '.join(sorted(s.load_sources())))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(egg)],
        cwd=tmp_path,  # not the work tree, whose archive/ would be found first
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    module, names = done.stdout.splitlines()
    assert module.startswith(str(egg) + "/"), module  # really imported from the zip
    assert names.split() == ["generic", "ians", "ndtv", "pib", "webdunia"]


def test_wheel_carries_data_files(tmp_path: Path):
    project = project_copy(tmp_path / "project")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = (project / "dist").glob("sangrah-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert names >= DATA, DATA - names
    assert any(n.endswith(".dist-info/entry_points.txt") for n in names)
