"""The deployment recipes, checked without the systems that would run them: the Dockerfile with
hadolint and by building the package from exactly the files it copies, the Kubernetes manifests
against the API schemas (kubernetes-validate bundles them: offline), the systemd units with
`systemd-analyze verify` where it exists."""

from __future__ import annotations

import copy
import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
K8S = ROOT / "deploy" / "k8s"
SYSTEMD = ROOT / "deploy" / "systemd"
SOURCES = ("pib", "ians", "ndtv", "webdunia")
# The oldest Kubernetes minor still in common managed offerings, and the newest bundled.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version() + ".0")


# --- Dockerfile ------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str, int]]:
    """(instruction, arguments, stage index) per instruction; continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text("utf-8")
    logical = re.sub(r"\\\n", " ", text)
    out, stage = [], -1
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stage += 1
        out.append((instruction.upper(), args.strip(), stage))
    return out


def test_hadolint_finds_nothing():
    done = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_hadolint_is_not_a_rubber_stamp(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install sangrah\nCMD sangrah\n", "utf-8")
    done = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(bad)], capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "DL3007" in done.stdout  # :latest


def test_image_runs_the_main_job_as_an_unprivileged_user():
    steps = dockerfile()
    final = max(stage for *_, stage in steps)
    last = {instr: args for instr, args, stage in steps if stage == final}
    assert json.loads(last["ENTRYPOINT"]) == ["sangrah"]
    # The README's main job, live: `sangrah crawl --all` (the store from SANGRAH_STORE).
    assert json.loads(last["CMD"]) == ["crawl", "--all"]
    assert last["USER"] not in ("root", "0")
    bases = [args.split()[0] for instr, args, _ in steps if instr == "FROM"]
    assert all(":" in base and not base.endswith(":latest") for base in bases), bases


def test_the_files_the_image_copies_exist_and_build_the_package(tmp_path):
    """Every COPY source exists, and those files alone (the build context after .dockerignore)
    make the package the image installs, with its data files."""
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    context = tmp_path / "context"
    context.mkdir()
    for instr, args, _ in dockerfile():
        if instr != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = shlex.split(args)
        for name in sources:
            source = ROOT / name
            assert source.exists(), f"COPY {name}: not in the repository"
            assert name not in ignored, f"COPY {name}: excluded by .dockerignore"
            if source.is_dir():
                ignore = shutil.ignore_patterns("__pycache__")
                shutil.copytree(source, context / name, ignore=ignore)
            else:
                shutil.copy2(source, context / name)
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = (context / "dist").glob("sangrah-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    # A COPY left out would not fail the build: packages.find just finds less.
    packages = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert packages == {"archive", "crawler", "pipelines"}
    assert {"archive/discover/sources.toml", "archive/web/templates/base.html"} <= names
    assert "crawler/settings.py" in names and "crawler/spiders/ndtv.py" in names


def test_check_image_interprets_every_instruction_of_the_dockerfile():
    """deploy/check-image builds the image without an engine (by hand: it needs root, the Debian
    mirror and PyPI); here only its parser, which refuses what it cannot do faithfully."""
    script = runpy.run_path(str(ROOT / "deploy" / "check-image"))
    build, final = script["plan"]((ROOT / "Dockerfile").read_text("utf-8"))
    assert build.name == "build" and any(s[0] == "RUN" for s in build.steps)
    assert ("COPY", build.index, ["/opt/sangrah"], "/opt/sangrah") in [s[:4] for s in final.steps]
    assert (final.entrypoint, final.cmd, final.user) == (["sangrah"], ["crawl", "--all"], "10001")
    assert final.env["PATH"].startswith("/opt/sangrah/bin:/usr/local/bin:")
    assert final.env["SANGRAH_STORE"] == "/var/lib/sangrah/archive-data"
    with pytest.raises(script["Unsupported"], match="ADD: not supported"):
        script["plan"]("FROM python:3.11-slim-bookworm\nADD . /src\n")


# --- Kubernetes --------------------------------------------------------------------------------


def manifests() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text("utf-8")):
            if doc:
                docs.append((path.name, doc))
    return docs


def by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for _, d in manifests() if d["kind"] == kind}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_validate_against_the_kubernetes_schema(version):
    docs = manifests()
    assert {d["kind"] for _, d in docs} >= {
        "CronJob", "Deployment", "Service", "ConfigMap", "PersistentVolumeClaim",
    }  # fmt: skip
    for name, doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']}: {where}: {exc.message}")


def test_the_schema_check_rejects_a_misspelt_field():
    cronjob = copy.deepcopy(by_kind("CronJob")["sangrah-crawl"])
    cronjob["spec"]["schedul"] = cronjob["spec"].pop("schedule")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cronjob, K8S_VERSIONS[-1], strict=True)


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def test_crawl_cronjob_runs_the_main_job_and_never_overlaps():
    cronjob = by_kind("CronJob")["sangrah-crawl"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = pod_spec(cronjob)["containers"]
    command = " ".join(container.get("command", []) + container.get("args", []))
    assert "sangrah crawl --all --since" in command


def test_secrets_come_by_reference_and_every_reference_resolves():
    docs = manifests()
    assert not [d for _, d in docs if d["kind"] == "Secret"], "credentials in the repository"
    configmaps = by_kind("ConfigMap")
    claims = by_kind("PersistentVolumeClaim")
    for name, doc in docs:
        if doc["kind"] not in ("CronJob", "Deployment"):
            continue
        spec = pod_spec(doc)
        for volume in spec.get("volumes", []):
            if claim := volume.get("persistentVolumeClaim"):
                assert claim["claimName"] in claims, (name, claim)
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in configmaps, name
            for var in container.get("env", []):
                if var["name"].startswith("AWS_"):
                    assert "value" not in var, f"{name}: {var['name']} given in clear"
                    assert var["valueFrom"]["secretKeyRef"]["name"] == "sangrah-s3"


def test_workers_reach_redis_through_its_service():
    service = by_kind("Service")["sangrah-redis"]
    redis = by_kind("Deployment")["sangrah-redis"]
    assert service["spec"]["selector"] == redis["spec"]["template"]["metadata"]["labels"]
    (port,) = service["spec"]["ports"]
    url = by_kind("ConfigMap")["sangrah"]["data"]["SANGRAH_REDIS_URL"]
    assert url.startswith(f"redis://{service['metadata']['name']}:{port['port']}/")
    worker = by_kind("Deployment")["sangrah-worker"]
    (container,) = pod_spec(worker)["containers"]
    assert container["args"][:1] == ["crawl"]
    assert container["args"][-2:] == ["--redis", "$(SANGRAH_REDIS_URL)"]
    images = {c["image"] for _, d in manifests() if d["kind"] in ("CronJob", "Deployment")
              for c in pod_spec(d)["containers"]}  # fmt: skip
    assert {i for i in images if i.startswith("sangrah:")} == {"sangrah:0.1.0"}


def test_check_image_resolves_the_worker_pod_as_the_kubelet_would():
    """deploy/check-image --k8s-workers runs the worker pod (as root, by hand); here only its
    reading of the manifests: the command with $(SANGRAH_REDIS_URL) expanded from the
    ConfigMap, secrets as dummies, the security context and the volumes."""
    script = runpy.run_path(str(ROOT / "deploy" / "check-image"))
    *_, final = script["plan"]((ROOT / "Dockerfile").read_text("utf-8"))
    pod = script["pod_plan"]([doc for _, doc in manifests()], final)
    url = by_kind("ConfigMap")["sangrah"]["data"]["SANGRAH_REDIS_URL"]
    assert pod.argv == ["sangrah", "crawl", "--all", "--redis", url]  # ENTRYPOINT + args
    assert pod.env["SANGRAH_STORE"].startswith("s3://")
    assert pod.env["AWS_SECRET_ACCESS_KEY"].startswith("check-image-")  # never a real secret
    assert pod.env["SANGRAH_REDIS_SERVICE_PORT"] == "6379"  # Service links, as the kubelet sets
    assert (pod.uid, pod.gid, pod.fs_group, pod.non_root) == (10001, 10001, 10001, True)
    assert pod.read_only_root and pod.no_new_privs and pod.drop_all
    assert {(v.path, v.kind) for v in pod.volumes} == {
        ("/var/lib/sangrah/spool", "emptyDir"), ("/tmp", "emptyDir"),
    }  # fmt: skip
    expand = script["k8s_expand"]
    assert expand("$(A)/$$(A)/$(B)/$(A", {"A": "x"}) == "x/$(A)/$(B)/$(A"


# --- systemd -----------------------------------------------------------------------------------


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections and keys (a key may repeat); comments and blanks skipped."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"{path.name}: not a unit line: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_units_parse_and_run_one_source_per_instance():
    service = unit(SYSTEMD / "sangrah-crawl@.service")
    timer = unit(SYSTEMD / "sangrah-crawl@.timer")
    (exec_start,) = service["Service"]["ExecStart"]
    assert "sangrah crawl %i --since" in exec_start
    assert service["Service"]["Type"] == ["oneshot"]
    environment = " ".join(service["Service"]["Environment"])
    assert "SANGRAH_METRICS_FILE=/var/lib/node_exporter/sangrah.prom" in environment
    assert timer["Timer"]["OnCalendar"] == ["hourly"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path):
    """Each source's instance, as `systemctl enable sangrah-crawl@pib.timer` would load it."""
    single = [ROOT / "deploy" / "sangrah-crawl.service", ROOT / "deploy" / "sangrah-crawl.timer"]
    for path in [*SYSTEMD.iterdir(), *single]:
        shutil.copy2(path, tmp_path / path.name)
    instances = [str(tmp_path / path.name) for path in single]  # the all-sources unit too
    for source in SOURCES:
        for suffix in ("service", "timer"):
            link = tmp_path / f"sangrah-crawl@{source}.{suffix}"
            link.symlink_to(f"sangrah-crawl@.{suffix}")
            instances.append(str(link))
    # verify also checks that ExecStart's binary (/bin/sh) exists and that the timer finds the
    # service it starts, through the unit path.
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *instances],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},
    )
    # Unknown keys are only warnings (exit 0): any output at all is a finding.
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), (
        done.stdout + done.stderr
    )
