"""The S3 store against two independent S3 servers on loopback, every test on each: SeaweedFS (`weed mini`)
and moto's server, which enforces AWS's request rules (a checksum algorithm beside Object Lock, parts of at
least 5 MiB). Faults come from a proxy in front of the real server (s3faults.py), crashes from a SIGKILL
(s3kill.py). Where one server behaves differently, the test says so."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import register_yaml, run_cli
from PIL import Image
from s3faults import S3FaultProxy
from s3servers import KEY, SECRET, SERVERS, object_keys, open_uploads, s3_client

from archiver import pipeline
from archiver.errors import RegisterError, StoreError
from archiver.models import PageCapture, RunRequest, Tile, new_bundle_id, utcnow
from archiver.register import load_register
from archiver.register.schema import S3Settings
from archiver.services import Services
from archiver.store import LocalStore, S3Store
from archiver.store.s3 import RETRIES
from archiver.store.s3objects import (
    MIB,
    Sums,
    composite,
    file_sums,
    matches,
    part_size_for,
    retention_shortfall,
)

BUNDLE = "20261124T120000Z-abc123"
TESTS = Path(__file__).parent
PAGE = [{"id": "kommun", "url": "http://127.0.0.1:8123/kommun/"}]


@pytest.fixture(scope="module")
def aws_env(tmp_path_factory):
    """Credentials for the loopback servers, and no AWS configuration of the machine's own."""
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
             "AWS_EC2_METADATA_DISABLED")
    saved = {k: os.environ.get(k) for k in names}
    nowhere = str(tmp_path_factory.mktemp("aws") / "none")
    os.environ.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_CONFIG_FILE=nowhere,
                      AWS_SHARED_CREDENTIALS_FILE=nowhere, AWS_EC2_METADATA_DISABLED="true")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module", params=sorted(SERVERS))
def s3(request, aws_env, tmp_path_factory):
    server = SERVERS[request.param](tmp_path_factory.mktemp(request.param))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxy(s3):
    with S3FaultProxy(s3.endpoint) as running:
        yield running


@pytest.fixture(scope="module")
def noise_site(tmp_path_factory):
    """A page that is one 1280×1500 image of random noise: a PDF no compression shrinks below 5.7 MB."""
    from archiver.demo.server import serve_directory

    root = tmp_path_factory.mktemp("noise")
    Image.frombytes("RGB", (1280, 1500), random.Random(7).randbytes(1280 * 1500 * 3)).save(root / "noise.png")
    (root / "noise.html").write_text('<!doctype html><html lang="sv"><meta charset="utf-8"><title>Brus</title>'
                                     '<body style="margin:0"><img src="noise.png" width="1280" height="1500" '
                                     'style="display:block"></body></html>', encoding="utf-8")
    with serve_directory(root) as base_url:
        yield base_url


def settings(s3, bucket="archive-plain", prefix="kommun", lock_days=None, threshold_mb=16, endpoint=None):
    return S3Settings(bucket=bucket, prefix=prefix, endpoint_url=endpoint or s3.endpoint, region="us-east-1",
                      object_lock_days=lock_days, multipart_threshold_mb=threshold_mb)


def spool_bundle(store: S3Store, bundle_id: str = BUNDLE, pdf_size: int = 300_000) -> dict[str, bytes]:
    files = {f"{bundle_id}.pdf": os.urandom(pdf_size), "manifest.json": b'{"bundle_id": "%s"}' % bundle_id.encode()}
    staging = store.staging_dir(bundle_id)
    for name, data in files.items():
        (staging / name).write_bytes(data)
    return files | {"_staging": staging}


def put_and_send(store: S3Store, bundle_id: str, staging: Path):
    assert store.put(bundle_id, staging).pending  # in the spool only, until sent
    return store.send(bundle_id)


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def s3_register(tmp_path: Path, s3, pages=PAGE, *, bucket="archive-locked", prefix="cli", lock_days=None,
                threshold_mb=None, endpoint=None) -> Path:
    options = [f"bucket: {bucket}", f"prefix: {prefix}", f"endpoint_url: {json.dumps(endpoint or s3.endpoint)}",
               "region: us-east-1"] + ([f"object_lock_days: {lock_days}"] if lock_days else []) \
        + ([f"multipart_threshold_mb: {threshold_mb}"] if threshold_mb else [])
    s3_line = "  s3: {" + ", ".join(options) + "}\n"
    text = register_yaml(pages, tmp_path / "spool", wacz=True).replace("storage:\n", "storage:\n" + s3_line, 1)
    path = tmp_path / "pages.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def store_noise_bundle(services: Services, n: int, width: int, height: int) -> str:
    """A real bundle (the pipeline's own PDF/A, manifest, store and catalog steps) whose one tile is random
    noise, which no compression shrinks: about width × height × 3 bytes of PDF, over a multipart threshold."""
    image = Image.frombytes("RGB", (width, height), random.Random(n).randbytes(width * height * 3))
    png = io.BytesIO()
    image.save(png, "PNG", compress_level=1)
    pixels = hashlib.sha256(image.tobytes()).hexdigest()
    url, started = f"http://127.0.0.1:8123/kommun/noise-{n}", utcnow() + timedelta(seconds=n)
    capture = PageCapture(page_id="kommun", platform="generic", requested_url=url, owner="Kommunikation",
                          status="ok", final_url=url, started_at=started, finished_at=started, width=width,
                          height=height, tiles=[Tile(0, 0, width, height, png.getvalue(), pixels)],
                          pixels_sha256=pixels, viewport={"width": width, "height": height})
    bundle_id = new_bundle_id(started)
    request = RunRequest(reason="scheduled", requested_by="scheduler")
    info = pipeline.run_info(services.register, bundle_id, request, started, "0.test")
    pipeline.bundle_store_catalog(services.register, info, [capture], request.kind, store=services.store,
                                   catalog=services.catalog)
    return bundle_id


def assert_all_stored_and_verified(services: Services, s3, bucket: str, prefix: str) -> None:
    """What a user checks after a fault: nothing pending, every catalogued bundle verifies, and S3 holds
    exactly their files (nothing half-written) and no unfinished multipart upload."""
    assert services.store.pending() == []
    expected = []
    for row in services.catalog.list_bundles():
        result = services.verify(row["id"])
        assert result.ok, [(c.name, c.detail) for c in result.checks if not c.ok]
        wacz = [f"{row['id']}.wacz"] if any(c.name == "WACZ present" for c in result.checks) else []
        expected += [f"{prefix}/{row['id'][:4]}/{row['id']}/{name}"  # and the web archive of the visit (issue 15)
                     for name in (row["pdf_name"], "manifest.json", *wacz)]
    assert object_keys(s3.endpoint, bucket, f"{prefix}/") == sorted(expected)
    assert open_uploads(s3.endpoint, bucket, f"{prefix}/") == []


def assert_locked(s3, bucket: str, key: str, days: int) -> None:
    head = s3_client(s3.endpoint).head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] >= datetime.now(UTC) + timedelta(days=days, minutes=-5)


# -- without a server ----------------------------------------------------------------------------------------


def test_sums_composites_and_retention_checks_follow_s3s_rules(tmp_path):
    data = os.urandom(2 * MIB + 5)
    (tmp_path / "f").write_bytes(data)
    assert part_size_for(len(data), 3 * MIB) is None and part_size_for(len(data), MIB) == MIB
    assert part_size_for(20_000 * MIB, 1 * MIB) == 2 * MIB  # 10,000 parts at most
    sums = file_sums(tmp_path / "f", MIB)
    chunks = [data[i:i + MIB] for i in range(0, len(data), MIB)]
    assert sums.parts == tuple(hashlib.sha256(c).digest() for c in chunks) and sums.sha256 == \
        hashlib.sha256(data).digest()
    joined = base64.b64encode(hashlib.sha256(b"".join(sums.parts)).digest()).decode()
    assert composite(sums.parts) == f"{joined}-3"
    assert matches(f"{joined}-3", sums) and matches(joined, sums) and matches(b64sha(data), sums)
    assert not matches(f"{joined}-2", sums) and not matches(b64sha(b"other"), sums)
    assert not matches(joined, Sums(len(data), sums.sha256))  # a composite needs the parts

    until = datetime(2027, 1, 1, tzinfo=UTC)
    assert retention_shortfall({"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}, until) is None
    assert "GOVERNANCE, not COMPLIANCE" in retention_shortfall({"ObjectLockMode": "GOVERNANCE",
                                                                "ObjectLockRetainUntilDate": until}, until)
    assert "not set" in retention_shortfall({}, until)
    assert "2026-12-31 23:59:59 UTC, not 2027-01-01" in retention_shortfall(
        {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until - timedelta(seconds=1)}, until)


@pytest.mark.parametrize(("value", "message"), [("4", "at least 5"), ("600", "at most 512"), ("ten", "whole number")])
def test_the_multipart_threshold_is_checked_with_file_and_line(tmp_path, value, message):
    path = tmp_path / "pages.yaml"
    path.write_text("organisation: Götene kommun\nstorage:\n  s3:\n    bucket: arkiv\n"
                    f"    multipart_threshold_mb: {value}\npages:\n  - id: p\n    platform: generic\n"
                    "    url: https://example.org/\n", encoding="utf-8")
    with pytest.raises(RegisterError) as refused:
        load_register(path)
    ((line, field, text),) = refused.value.problems
    assert (line, field) == (5, "storage.s3.multipart_threshold_mb") and message in text
    assert refused.value.exit_code == 2 and f"{path}:5: storage.s3.multipart_threshold_mb" in str(refused.value)


# -- the store on each server ----------------------------------------------------------------------------------


def test_put_uploads_each_file_with_its_sha256_and_then_drops_the_local_copy(s3, tmp_path):
    store = S3Store(settings(s3), LocalStore(tmp_path / "spool"))
    files = spool_bundle(store)
    stored = put_and_send(store, BUNDLE, files.pop("_staging"))
    assert not stored.pending and stored.location == f"s3://archive-plain/kommun/2026/{BUNDLE}/"
    assert not (tmp_path / "spool" / "2026" / BUNDLE).exists() and store.pending() == []
    client = s3_client(s3.endpoint)
    for name, data in files.items():
        head = client.head_object(Bucket="archive-plain", Key=f"kommun/2026/{BUNDLE}/{name}", ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == b64sha(data) and head["ContentLength"] == len(data)
    assert [b.bundle_id for b in store.list()] == [BUNDLE]
    assert store.find(BUNDLE).files == tuple(sorted(files))
    for name, data in files.items():
        assert store.fetch(BUNDLE, name, tmp_path / name).read_bytes() == data
    with pytest.raises(StoreError, match="already exists"):
        store.fetch(BUNDLE, "manifest.json", tmp_path / "manifest.json")


def test_an_existing_key_is_never_overwritten(s3, tmp_path):
    bundle_id = "20261124T140000Z-0a0b0c"
    client = s3_client(s3.endpoint)
    client.put_object(Bucket="archive-plain", Key=f"kommun/2026/{bundle_id}/manifest.json", Body=b"someone else's")
    store = S3Store(settings(s3), LocalStore(tmp_path / "spool"))
    files = spool_bundle(store, bundle_id)
    stored = put_and_send(store, bundle_id, files.pop("_staging"))
    assert stored.pending and "never overwritten" in stored.error
    assert (tmp_path / "spool" / "2026" / bundle_id / "manifest.json").read_bytes() == files["manifest.json"]
    body = client.get_object(Bucket="archive-plain", Key=f"kommun/2026/{bundle_id}/manifest.json")["Body"].read()
    assert body == b"someone else's"


def test_a_key_taken_while_the_parts_go_up_is_not_overwritten_and_the_upload_is_aborted(s3, tmp_path):
    """CompleteMultipartUpload carries If-None-Match: *, as PutObject does. The race is arranged by running
    the other writer between two parts (the one place this test reaches into the store)."""
    bundle_id = "20261124T141000Z-0d0e0f"
    store = S3Store(settings(s3, threshold_mb=5), LocalStore(tmp_path / "spool"))
    files = spool_bundle(store, bundle_id, pdf_size=6 * MIB)
    key = f"kommun/2026/{bundle_id}/{bundle_id}.pdf"
    upload_part = store.objects._upload_part

    def part_then_someone_else(part_key, upload_id, number, data, digest):
        answer = upload_part(part_key, upload_id, number, data, digest)
        if number == 1:
            s3_client(s3.endpoint).put_object(Bucket="archive-plain", Key=key, Body=b"someone else's")
        return answer

    store.objects._upload_part = part_then_someone_else
    stored = put_and_send(store, bundle_id, files.pop("_staging"))
    assert stored.pending and "appeared while uploading; not overwriting it" in stored.error
    assert s3_client(s3.endpoint).get_object(Bucket="archive-plain", Key=key)["Body"].read() == b"someone else's"
    assert open_uploads(s3.endpoint, "archive-plain", f"kommun/2026/{bundle_id}/") == []  # aborted
    assert (tmp_path / "spool" / "2026" / bundle_id / f"{bundle_id}.pdf").read_bytes() == files[f"{bundle_id}.pdf"]


def test_object_lock_is_read_back_and_refuses_deleting_a_version(s3, tmp_path):
    bundle_id = "20261124T150000Z-111111"
    store = S3Store(settings(s3, bucket="archive-locked", lock_days=1), LocalStore(tmp_path / "spool"))
    files = spool_bundle(store, bundle_id)
    assert not put_and_send(store, bundle_id, files.pop("_staging")).pending
    client = s3_client(s3.endpoint)
    key = f"kommun/2026/{bundle_id}/{bundle_id}.pdf"
    assert_locked(s3, "archive-locked", key, 1)
    head = client.head_object(Bucket="archive-locked", Key=key)
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket="archive-locked", Key=key, VersionId=head["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert client.head_object(Bucket="archive-locked", Key=key, VersionId=head["VersionId"])["ContentLength"] == \
        len(files[f"{bundle_id}.pdf"])


def test_object_lock_asked_of_a_bucket_without_it_is_a_clear_error_and_nothing_goes_up(s3, tmp_path):
    bundle_id = "20261124T151000Z-222222"
    store = S3Store(settings(s3, bucket="archive-plain", prefix="nolock", lock_days=30), LocalStore(tmp_path / "spool"))
    files = spool_bundle(store, bundle_id)
    stored = put_and_send(store, bundle_id, files.pop("_staging"))
    assert stored.pending
    assert "bucket archive-plain does not have S3 Object Lock enabled, but storage.s3.object_lock_days asks " \
           "for 30 days" in stored.error
    assert object_keys(s3.endpoint, "archive-plain", "nolock/") == []
    spooled = tmp_path / "spool" / "2026" / bundle_id
    assert {p.name: p.read_bytes() for p in spooled.iterdir()} == files


def test_an_object_lock_the_server_did_not_apply_fails_the_upload_until_it_holds(s3, proxy, tmp_path):
    """The proxy hides the lock in the server's answers, as a server that ignores Object Lock headers would
    answer. The store sets it again (PutObjectRetention), reads it back, and fails while it is missing."""
    bundle_id = "20261124T152000Z-333333"
    store = S3Store(settings(s3, bucket="archive-locked", prefix="unlocked", lock_days=1, endpoint=proxy.endpoint),
                    LocalStore(tmp_path / "spool"))
    files = spool_bundle(store, bundle_id)
    proxy.strip = re.compile("^x-amz-object-lock-")
    stored = put_and_send(store, bundle_id, files.pop("_staging"))
    assert stored.pending
    assert f"unlocked/2026/{bundle_id}/{bundle_id}.pdf is not under the Object Lock asked for (COMPLIANCE, " \
           "object_lock_days: 1): its Object Lock mode is not set" in stored.error
    spooled = tmp_path / "spool" / "2026" / bundle_id
    assert {p.name: p.read_bytes() for p in spooled.iterdir()} == files  # nothing lost

    proxy.clear()  # the lock shows: the PDF already there is accepted (its lock read back), the rest goes up
    assert store.sync() == {bundle_id: None}
    for name in files:
        assert_locked(s3, "archive-locked", f"unlocked/2026/{bundle_id}/{name}", 1)


def test_a_bundle_over_the_multipart_threshold_goes_up_in_parts_with_their_sha256(s3, tmp_path):
    """moto drops Object Lock from CreateMultipartUpload (SeaweedFS and AWS keep it); the read-back sees
    that and the store sets the lock on the new version, so the object ends up locked on both."""
    registry = s3_register(tmp_path, s3, prefix="multipart", lock_days=1, threshold_mb=5)
    services = Services(registry)
    bundle_id = store_noise_bundle(services, 1, 1600, 1200)  # a 5.8 MB PDF: a part of 5 MiB and the rest
    assert services.store.pending() == []
    key = f"multipart/{bundle_id[:4]}/{bundle_id}/{bundle_id}.pdf"
    client = s3_client(s3.endpoint)
    first = client.head_object(Bucket="archive-locked", Key=key, PartNumber=1)
    assert first["PartsCount"] == 2 and first["ContentLength"] == 5 * MIB
    got = client.get_object(Bucket="archive-locked", Key=key, ChecksumMode="ENABLED")
    data = got["Body"].read()
    digests = b"".join(hashlib.sha256(data[i:i + 5 * MIB]).digest() for i in range(0, len(data), 5 * MIB))
    assert got["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(digests).digest()).decode() + "-2"
    assert hashlib.sha256(data).hexdigest() == services.catalog.get_bundle(bundle_id)["pdf_sha256"]
    assert_locked(s3, "archive-locked", key, 1)
    assert services.store.fetch(bundle_id, f"{bundle_id}.pdf", tmp_path / "got.pdf").read_bytes() == data
    assert_all_stored_and_verified(services, s3, "archive-locked", "multipart")


# -- S3 answering 500 and 503 (the fault proxy) ------------------------------------------------------------------


def test_a_503_slowdown_is_retried_with_backoff_and_the_bundle_uploaded(s3, proxy, tmp_path):
    from synthetic import store_bundle

    services = Services(s3_register(tmp_path, s3, bucket="archive-plain", prefix="slowdown",
                                    endpoint=proxy.endpoint))
    proxy.fail(503, "SlowDown", method="PUT", times=2)
    store_bundle(services, None, 1)
    assert [s.path.rsplit("/", 1)[1] for s in proxy.injected(503)] == 2 * [
        f"{services.catalog.list_bundles()[0]['pdf_name']}"]  # the same PUT, twice refused, then accepted
    assert_all_stored_and_verified(services, s3, "archive-plain", "slowdown")


def test_a_persistent_500_keeps_the_bundle_pending_and_the_next_sync_uploads_it(s3, proxy, tmp_path):
    from synthetic import store_bundle

    registry = s3_register(tmp_path, s3, bucket="archive-plain", prefix="outage", endpoint=proxy.endpoint)
    services = Services(registry)
    proxy.fail(500, "InternalError", method="PUT", match=r"/manifest\.json")  # the PDF goes up, then S3 fails
    bundle_id = store_bundle(services, None, 1)
    assert len(proxy.injected(500)) == RETRIES["total_max_attempts"], proxy.seen  # all attempts, given up
    assert services.store.pending() == [bundle_id]
    spooled = tmp_path / "spool" / bundle_id[:4] / bundle_id
    kept = {p.name: p.read_bytes() for p in spooled.iterdir()}
    assert services.verify(bundle_id).ok  # complete in the spool
    assert [b.bundle_id for b in services.store.list()] == [bundle_id]  # listed once, as pending
    pdf_key = f"outage/{bundle_id[:4]}/{bundle_id}/{bundle_id}.pdf"
    assert object_keys(s3.endpoint, "archive-plain", "outage/") == [pdf_key]

    proxy.clear()
    synced = run_cli("sync", "--json", registry=registry)  # a new process; the PDF there is accepted by SHA-256
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout) == {"catalogued": [], "uploaded": [bundle_id], "pending": {}}
    assert not spooled.exists()
    for name, data in kept.items():
        assert services.store.fetch(bundle_id, name, tmp_path / name).read_bytes() == data
    assert_all_stored_and_verified(services, s3, "archive-plain", "outage")
    again = run_cli("sync", registry=registry)
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_a_failure_in_the_middle_of_a_multipart_upload_leaves_no_object_and_no_parts(s3, proxy, tmp_path):
    services = Services(s3_register(tmp_path, s3, bucket="archive-plain", prefix="midpart", threshold_mb=5,
                                    endpoint=proxy.endpoint))
    proxy.fail(500, "InternalError", method="PUT", match=r"[?&]partNumber=2(&|$)")
    bundle_id = store_noise_bundle(services, 2, 1600, 1200)  # a 5.8 MB PDF: two parts
    assert services.store.pending() == [bundle_id]
    assert object_keys(s3.endpoint, "archive-plain", "midpart/") == []  # nothing half-written is listed
    assert open_uploads(s3.endpoint, "archive-plain", "midpart/") == []  # the upload was aborted
    forwarded = [(s.method, s.path) for s in proxy.seen if not s.injected]
    assert any(m == "PUT" and re.search(r"[?&]partNumber=1(&|$)", p) for m, p in forwarded)
    assert any(m == "DELETE" and "uploadId=" in p for m, p in forwarded)

    proxy.clear()
    assert services.store.sync() == {bundle_id: None}
    assert_all_stored_and_verified(services, s3, "archive-plain", "midpart")


# -- whole runs through the CLI --------------------------------------------------------------------------------


@pytest.mark.browser
def test_run_stores_into_s3_and_get_verify_list_work_against_it(s3, site, tmp_path):
    """The acceptance flow: `archiver run` into a bucket with Object Lock, `bundles get` byte for byte, and
    a version that S3 refuses to delete."""
    registry = s3_register(tmp_path, s3, [{"id": "short", "url": f"{site}/short.html"}], lock_days=1)
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
    client = s3_client(s3.endpoint)
    for name in (f"{bundle_id}.pdf", "manifest.json"):
        key = f"cli/{bundle_id[:4]}/{bundle_id}/{name}"
        assert (tmp_path / "dl" / name).read_bytes() == client.get_object(Bucket="archive-locked",
                                                                          Key=key)["Body"].read()
        assert_locked(s3, "archive-locked", key, 1)
        version = client.head_object(Bucket="archive-locked", Key=key)["VersionId"]
        with pytest.raises(ClientError) as refused:
            client.delete_object(Bucket="archive-locked", Key=key, VersionId=version)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    manifest = json.loads((tmp_path / "dl" / "manifest.json").read_text())
    assert hashlib.sha256((tmp_path / "dl" / f"{bundle_id}.pdf").read_bytes()).hexdigest() == \
        manifest["pdf"]["sha256"]

    registered = run_cli("register", bundle_id, "--dnr", "KS 2026/7", "--by", "Rut", registry=registry)
    assert registered.returncode == 0, registered.stderr
    key = f"cli/{bundle_id[:4]}/{bundle_id}/manifest.json"
    versions = client.list_object_versions(Bucket="archive-locked", Prefix=key)["Versions"]
    assert len(versions) == 2  # a new version of the manifest; the first stays, locked
    assert_locked(s3, "archive-locked", key, 1)
    latest = json.loads(client.get_object(Bucket="archive-locked", Key=key)["Body"].read())
    assert latest["registrations"][0]["dnr"] == "KS 2026/7"
    verified = run_cli("bundles", "verify", bundle_id, "--json", registry=registry)  # downloads, then checks
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True


@pytest.mark.browser
def test_server_down_during_a_run_keeps_the_bundle_and_the_next_run_uploads_it(s3, site, tmp_path):
    registry = s3_register(tmp_path, s3, [{"id": "short", "url": f"{site}/short.html"}])
    s3.stop()
    try:
        down = run_cli("run", "--json", registry=registry)
    finally:
        s3.start()  # moto starts empty again; SeaweedFS keeps its data
    assert down.returncode == 0, down.stderr
    first = json.loads(down.stdout)
    assert first["upload"]["status"] == "pending" and first["upload"]["error"]
    spooled = tmp_path / "spool" / first["bundle_id"][:4] / first["bundle_id"]
    kept = {p.name: p.read_bytes() for p in spooled.iterdir()}
    assert set(kept) == {f"{first['bundle_id']}.pdf", "manifest.json", f"{first['bundle_id']}.wacz"}
    services = Services(registry)
    assert services.store.pending() == [first["bundle_id"]] and services.verify(first["bundle_id"]).ok

    up = run_cli("run", "--json", registry=registry)
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["upload"]["status"] == "uploaded"
    assert not spooled.exists()  # the pending bundle went up first, then its local copy was removed
    client = s3_client(s3.endpoint)
    for name, data in kept.items():
        key = f"cli/{first['bundle_id'][:4]}/{first['bundle_id']}/{name}"
        head = client.head_object(Bucket="archive-locked", Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == b64sha(data)
        assert client.get_object(Bucket="archive-locked", Key=key)["Body"].read() == data
    assert len(services.catalog.list_bundles()) == 2 and Services(registry).store.pending() == []


def run_killed(after: str, *args: str, registry: Path) -> subprocess.CompletedProcess:
    """`archiver ARGS` that SIGKILLs itself after the first multipart part or first object (s3kill.py)."""
    env = {**os.environ, "ARCHIVER_REGISTRY": str(registry), "S3KILL_AFTER": after}
    return subprocess.run([sys.executable, str(TESTS / "s3kill.py"), *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)


@pytest.mark.browser
def test_sigkill_during_the_upload_loses_nothing_and_sync_finishes_it(s3, noise_site, tmp_path):
    registry = s3_register(tmp_path, s3, [{"id": "noise", "url": f"{noise_site}/noise.html"}], prefix="kill",
                           lock_days=1, threshold_mb=5)
    killed = run_killed("part", "run", "--json", registry=registry)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (spooled,) = (tmp_path / "spool").glob("[0-9][0-9][0-9][0-9]/2*")
    bundle_id, kept = spooled.name, {p.name: p.read_bytes() for p in spooled.iterdir()}
    pdf_key = f"kill/{bundle_id[:4]}/{bundle_id}/{bundle_id}.pdf"
    assert open_uploads(s3.endpoint, "archive-locked", "kill/") == [pdf_key]  # one part up when it died
    assert object_keys(s3.endpoint, "archive-locked", "kill/") == []  # and nothing half-written listed
    services = Services(registry)
    (row,) = services.catalog.list_bundles()  # catalogued before the upload began: listed once, pending
    assert row["id"] == bundle_id and services.store.pending() == [bundle_id]
    assert services.verify(bundle_id).ok  # complete in the spool

    killed = run_killed("object", "sync", registry=registry)  # the open upload aborted, the PDF up, then killed
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert open_uploads(s3.endpoint, "archive-locked", "kill/") == []
    assert object_keys(s3.endpoint, "archive-locked", "kill/") == [pdf_key]

    services = Services(registry)
    assert services.sync() == {"catalogued": [], "uploaded": [bundle_id], "pending": {}}  # the PDF accepted
    assert {name: services.store.fetch(bundle_id, name, tmp_path / name).read_bytes() for name in kept} == kept
    assert_locked(s3, "archive-locked", pdf_key, 1)
    assert_locked(s3, "archive-locked", pdf_key.removesuffix(".pdf") + ".wacz", 1)  # the WACZ is kept as long
    assert_all_stored_and_verified(services, s3, "archive-locked", "kill")


@pytest.mark.parametrize("bucket, lock_days", [("archive-locked", 1), ("archive-plain", None)])
def test_retention_never_deletes_under_object_lock_and_deletes_every_version_otherwise(s3, tmp_path, bucket,
                                                                                       lock_days):
    from synthetic import store_bundle

    from archiver import retention

    services = Services(s3_register(tmp_path, s3, bucket=bucket, prefix="retention", lock_days=lock_days))
    bundle_id = store_bundle(services, "action", 1)
    services.catalog.mark_post(bundle_id, "done", "Kim", utcnow())
    prefix = f"retention/{bundle_id[:4]}/{bundle_id}/"
    client = s3_client(s3.endpoint)
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


@pytest.mark.browser
def test_a_queued_run_is_captured_by_a_worker_and_stored_into_s3(s3, site, tmp_path, postgres):
    """The job queue (tests/test_queue.py) with an S3 store: the captures wait in the local spool's work
    folder, the assembly stores, catalogues and uploads the bundle, and it verifies from the bucket."""
    registry = s3_register(tmp_path, s3, [{"id": "short", "url": f"{site}/short.html"},
                                          {"id": "tall", "url": f"{site}/tall-3000"}], prefix="queued", lock_days=1)
    env = {**os.environ, "ARCHIVER_REGISTRY": str(registry), "ARCHIVER_CATALOG_URL": postgres.new_database()}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "archiver", *args], env=env, capture_output=True, text=True,
                              timeout=300, check=False)

    queued = cli("run", "--queue", "--json")
    assert queued.returncode == 0, queued.stderr
    run_id = json.loads(queued.stdout)["run_id"]
    worked = cli("worker", "--until-empty")
    assert worked.returncode == 0, worked.stderr
    shown = json.loads(cli("runs", "show", run_id, "--json").stdout)
    assert (shown["status"], shown["bundle_id"]) == ("done", run_id), shown
    listing = json.loads(cli("bundles", "list", "--json").stdout)
    (row,) = listing
    assert row["location"] == f"s3://archive-locked/queued/{run_id[:4]}/{run_id}/" and row["upload_pending"] is False
    verified = cli("bundles", "verify", run_id)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert_locked(s3, "archive-locked", f"queued/{run_id[:4]}/{run_id}/{run_id}.wacz", 1)
    assert not (tmp_path / "spool" / ".queue" / run_id).exists()


def test_bundles_in_s3_are_compared_from_their_fetched_copies_and_exported_for_the_diarium(s3, tmp_path):
    """`bundles compare` and the registry export read S3 bundles through the same local copy verify uses."""
    from synthetic import store_bundle

    registry = s3_register(tmp_path, s3, bucket="archive-plain", prefix="compare")
    services = Services(registry)
    old, new = store_bundle(services, None, 1), store_bundle(services, None, 2)  # two colours of one page
    shutil.rmtree(tmp_path / "spool" / old[:4], ignore_errors=True)  # nothing left locally: both only in S3
    compared = run_cli("bundles", "compare", old, new, "--json", registry=registry)
    assert compared.returncode == 0, compared.stderr
    (page,) = json.loads(compared.stdout)["pages"]
    assert [r["kind"] for r in page["regions"]] == ["changed"] and page["changed_ratio"] == 1.0
    assert Path(json.loads(compared.stdout)["report"]).is_file()
    exported = run_cli("bundles", "export", old, "--format", "registry-json", registry=registry)
    assert exported.returncode == 0, exported.stderr
    (record,) = json.loads(exported.stdout)
    assert record["files"][0]["sha256"] == services.catalog.get_bundle(old)["pdf_sha256"]
