"""The S3 store: bundles go to the local spool first (a LocalStore), then up to S3, checksummed.

Every bundle is stored locally exactly as the local store does, then each file is uploaded under
`s3://bucket/prefix/YYYY/<bundle_id>/<name>` (s3objects.py: one PUT or multipart, with SHA-256 checksums
and, with `object_lock_days`, COMPLIANCE retention read back). A key that already exists is never
overwritten: an object with the same SHA-256 (left by an interrupted upload) is accepted, any other is
refused; multipart uploads an interrupted upload left open are aborted, never completed. Only when every
file of the bundle is verified is the local copy removed. A bundle whose upload failed stays in the
spool: everything still in the spool is pending, and `sync` (a step at the start of every run) uploads it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from archiver.bundle.manifest import MANIFEST_NAME
from archiver.errors import NotFoundError, StoreError
from archiver.store.base import StoredBundle
from archiver.store.local import BUNDLE_ID, LocalStore, check_bundle_id
from archiver.store.s3objects import MIB, NOT_FOUND, S3Objects, Sums, error_code, version_arg

log = logging.getLogger(__name__)

# Five attempts per request in botocore's standard mode: 500/502/503/504, connection errors and throttling
# (503 SlowDown) are retried with jittered exponential backoff (throttling from about 1 s, doubling: at most
# 1 + 2 + 4 + 8 s in all), within the client's retry quota. What still fails leaves the bundle pending.
RETRIES = {"mode": "standard", "total_max_attempts": 5}


def make_client(settings):
    """An S3 client from the standard AWS credential chain; `endpoint_url` for S3-compatible servers."""
    import boto3
    from botocore.config import Config

    config = Config(retries=dict(RETRIES), connect_timeout=5, read_timeout=60,
                    s3={"addressing_style": "path"} if settings.endpoint_url else None)
    return boto3.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region, config=config)


class S3Store:
    name = "s3"

    def __init__(self, settings, spool: LocalStore, client=None):
        self.settings = settings
        self.spool = spool
        self.bucket = settings.bucket
        self.prefix = settings.prefix.strip("/")
        self._client = client
        self._objects: S3Objects | None = None
        self._bucket_lock_checked = False
        self._copies: dict[str, Path] = {}
        self._tmp: tempfile.TemporaryDirectory | None = None

    @property
    def root(self) -> Path:
        """The local spool's root: the catalog lives beside it."""
        return self.spool.root

    @property
    def client(self):
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    @property
    def objects(self) -> S3Objects:
        if self._objects is None:
            self._objects = S3Objects(self.client, self.bucket,
                                      threshold_bytes=self.settings.multipart_threshold_mb * MIB,
                                      lock_days=self.settings.object_lock_days)
        return self._objects

    # -- names -----------------------------------------------------------------------------------------

    def _key_prefix(self, bundle_id: str) -> str:
        year = BUNDLE_ID.match(check_bundle_id(bundle_id)).group(1)
        return "/".join(p for p in (self.prefix, year, bundle_id) if p) + "/"

    def location(self, bundle_id: str) -> str:
        return f"s3://{self.bucket}/{self._key_prefix(bundle_id)}"

    # -- the local side --------------------------------------------------------------------------------

    def staging_dir(self, bundle_id: str) -> Path:
        return self.spool.staging_dir(bundle_id)

    def discard(self, staging: Path) -> None:
        self.spool.discard(staging)

    def sweep_stale(self) -> list[Path]:
        return self.spool.sweep_stale()

    def pending(self) -> list[str]:
        """Bundles stored in the local spool but not (yet) verified in S3."""
        return [b.bundle_id for b in self.spool.list()]

    # -- storing ---------------------------------------------------------------------------------------

    def put(self, bundle_id: str, staging: Path) -> StoredBundle:
        """Store locally (atomically, as the local store does): pending until `send` has uploaded it."""
        local = self.spool.put(bundle_id, staging)
        return StoredBundle(bundle_id, self.location(bundle_id), local.files, pending=True)

    def send(self, bundle_id: str) -> StoredBundle:
        """Upload a bundle `put` spooled. The pipeline calls this once the catalog has the bundle, so a run
        killed during a long upload leaves a catalogued bundle pending in the spool. A failed upload leaves
        it pending too, which the returned StoredBundle says (`pending=True`, `error`): nothing is lost."""
        local = self.spool.find(bundle_id)
        files = local.files if local is not None else ()
        try:
            self.upload(bundle_id)
        except StoreError as exc:
            log.warning("bundle %s is kept in the local spool %s, pending upload to %s: %s",
                        bundle_id, self.spool.root, self.location(bundle_id), exc)
            return StoredBundle(bundle_id, self.location(bundle_id), files, pending=True, error=str(exc))
        return StoredBundle(bundle_id, self.location(bundle_id), files)

    def sync(self) -> dict[str, str | None]:
        """Upload every pending bundle, oldest first: {bundle_id: None when uploaded, else the error}."""
        outcome: dict[str, str | None] = {}
        for bundle_id in self.pending():
            try:
                self.upload(bundle_id)
                outcome[bundle_id] = None
            except StoreError as exc:
                log.warning("bundle %s is still pending upload: %s", bundle_id, exc)
                outcome[bundle_id] = str(exc)
        return outcome

    def upload(self, bundle_id: str) -> None:
        """Upload and verify every file of a spooled bundle (manifest last), then remove the local copy.

        Multipart uploads left open under the bundle's prefix (a killed upload) are aborted first."""
        from botocore.exceptions import BotoCoreError, ClientError

        local = self.spool.find(bundle_id)
        if local is None:
            raise StoreError(f"bundle {bundle_id} is not in the local spool {self.spool.root}")
        folder = Path(local.location)
        names = sorted(local.files, key=lambda n: (n == MANIFEST_NAME, n))
        prefix = self._key_prefix(bundle_id)
        try:
            if self.settings.object_lock_days and not self._bucket_lock_checked:
                self.objects.check_bucket_lock()
                self._bucket_lock_checked = True
            self.objects.abort_unfinished(prefix)
            for name in names:
                self._upload_file(prefix + name, folder / name)
        except (BotoCoreError, ClientError, OSError) as exc:  # unreachable, refused, 5xx after the retries
            raise StoreError(f"upload to {self.location(bundle_id)} failed: {exc}") from exc
        shutil.rmtree(folder, ignore_errors=True)  # another run's sync may have got there first
        log.info("uploaded and verified %s; local copy removed", self.location(bundle_id))

    def _upload_file(self, key: str, path: Path) -> None:
        self.objects.put_file(key, path)

    # -- reading ---------------------------------------------------------------------------------------

    def _remote_files(self, bundle_id: str) -> tuple[str, ...]:
        prefix = self._key_prefix(bundle_id)
        names = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            names += [obj["Key"][len(prefix):] for obj in page.get("Contents", [])]
        return tuple(sorted(n for n in names if n and "/" not in n))

    def find(self, bundle_id: str) -> StoredBundle | None:
        local = self.spool.find(bundle_id)
        if local is not None:
            return StoredBundle(bundle_id, local.location, local.files, pending=True)
        files = self._remote_files(bundle_id)
        return StoredBundle(bundle_id, self.location(bundle_id), files) if files else None

    def list(self) -> list[StoredBundle]:
        found = {b.bundle_id: StoredBundle(b.bundle_id, b.location, b.files, pending=True)
                 for b in self.spool.list()}
        base = f"{self.prefix}/" if self.prefix else ""
        ids = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
            for obj in page.get("Contents", []):
                parts = obj["Key"][len(base):].split("/")
                if len(parts) == 3 and BUNDLE_ID.match(parts[1]):
                    ids.add(parts[1])
        for bundle_id in ids - set(found):
            found[bundle_id] = StoredBundle(bundle_id, self.location(bundle_id), self._remote_files(bundle_id))
        return [found[k] for k in sorted(found)]

    def fetch(self, bundle_id: str, name: str, dest: Path) -> Path:
        """Download one file (or copy it from the spool while pending), checking its SHA-256 against S3's."""
        if self.spool.find(bundle_id) is not None:
            return self.spool.fetch(bundle_id, name, dest)
        if dest.exists():
            raise StoreError(f"{dest} already exists; not overwriting it")
        key = self._key_prefix(bundle_id) + name
        from botocore.exceptions import BotoCoreError, ClientError

        tmp = dest.with_name(f".{dest.name}.part")
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            digest, size = hashlib.sha256(), 0
            with open(tmp, "wb") as fh:
                for chunk in iter(lambda: response["Body"].read(MIB), b""):
                    digest.update(chunk)
                    size += len(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            if response.get("ChecksumSHA256") is not None and \
                    not self.objects.matches_stored(key, response, tmp, Sums(size, digest.digest())):
                raise StoreError(f"s3://{self.bucket}/{key}: downloaded bytes do not match its SHA-256")
            os.rename(tmp, dest)
        except ClientError as exc:
            if error_code(exc) in NOT_FOUND:
                raise NotFoundError(f"bundle {bundle_id} has no file {name!r} in {self.location(bundle_id)}") \
                    from exc
            raise StoreError(f"cannot download s3://{self.bucket}/{key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"cannot download s3://{self.bucket}/{key}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def local_copy(self, bundle_id: str) -> Path:
        """The bundle as a local folder: the spool's while pending, else a download into a private temp
        folder that lives as long as this store object (for verify and export)."""
        local = self.spool.find(bundle_id)
        if local is not None:
            return Path(local.location)
        if bundle_id not in self._copies:
            stored = self.find(bundle_id)
            if stored is None:
                raise NotFoundError(f"bundle {bundle_id} is not in {self.location(bundle_id)}")
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="archiver-s3-")
            folder = Path(self._tmp.name) / bundle_id
            folder.mkdir()
            for name in stored.files:
                self.fetch(bundle_id, name, folder / name)
            self._copies[bundle_id] = folder
        return self._copies[bundle_id]

    def path(self, bundle_id: str, name: str) -> Path:
        path = self.local_copy(bundle_id) / name
        if not path.is_file():
            raise NotFoundError(f"bundle {bundle_id} has no file {name!r}")
        return path

    def _versions(self, bundle_id: str) -> list[dict]:
        prefix = self._key_prefix(bundle_id)
        found = []
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=prefix):
            found += page.get("Versions", []) + page.get("DeleteMarkers", [])
        return found

    def cache_dir(self, bundle_id: str) -> Path:
        return self.spool.cache_dir(bundle_id)

    def retained_until(self, bundle_id: str) -> datetime | None:
        """The latest Object Lock retain-until date of any version of the bundle's objects, if still ahead."""
        from botocore.exceptions import ClientError

        latest = None
        try:
            for version in self._versions(bundle_id):
                if "ETag" not in version:  # a delete marker holds no data and no lock
                    continue
                head = self.client.head_object(Bucket=self.bucket, Key=version["Key"],
                                               **version_arg(version["VersionId"]))
                until = head.get("ObjectLockRetainUntilDate")
                if until is not None and (latest is None or until > latest):
                    latest = until
        except ClientError as exc:
            raise StoreError(f"cannot read the retention of {self.location(bundle_id)}: {exc}") from exc
        return latest if latest is not None and latest > datetime.now(UTC) else None

    def delete(self, bundle_id: str) -> bool:
        """Cull a bundle: every version of its objects, and its spool copy if it never went up.

        Refused (StoreError, nothing deleted) while any version is under Object Lock retention; the
        caller checks `retained_until` first, and the server would refuse anyway.
        """
        from botocore.exceptions import ClientError

        until = self.retained_until(bundle_id)
        if until is not None:
            raise StoreError(f"{self.location(bundle_id)} is under S3 Object Lock until {until:%Y-%m-%d}; "
                             "not deleted")
        found = self.spool.delete(bundle_id)  # and its cache
        try:
            versions = self._versions(bundle_id)
            for version in versions:
                self.client.delete_object(Bucket=self.bucket, Key=version["Key"], VersionId=version["VersionId"])
        except ClientError as exc:
            raise StoreError(f"cannot delete {self.location(bundle_id)}: {exc}") from exc
        log.info("deleted %s (%d object versions)", self.location(bundle_id), len(versions))
        return found or bool(versions)

    def replace_manifest(self, bundle_id: str, data: bytes) -> None:
        """While pending, in the spool; in S3 a new version of manifest.json (the bucket is versioned when
        Object Lock is on, and the first version stays retained). The PDF is never rewritten."""
        if self.spool.find(bundle_id) is not None:
            self.spool.replace_manifest(bundle_id, data)
            return
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._key_prefix(bundle_id) + MANIFEST_NAME
        try:
            self.objects.put_new_version(key, data)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"cannot update s3://{self.bucket}/{key}: {exc}") from exc
        if bundle_id in self._copies:
            (self._copies[bundle_id] / MANIFEST_NAME).write_bytes(data)
