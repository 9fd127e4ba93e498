"""One S3 object at a time, the way AWS requires it: written, checked, and its Object Lock read back.

A file up to the multipart threshold goes up in one PutObject; a larger one in parts of the threshold's
size (CreateMultipartUpload, UploadPart, CompleteMultipartUpload), so a failed request resends one part,
not the file. Every write names its checksum algorithm (`x-amz-sdk-checksum-algorithm: SHA256`, which AWS
requires beside Object Lock retention) with the SHA-256 computed here, which the server checks against
the body, and is conditional (`If-None-Match: *`), so no key is ever overwritten. A multipart upload that
fails is aborted, so no parts are left behind (and billed). Afterwards the object's size and checksum are
compared with the file's: the full SHA-256 for one PUT, the composite one for parts (SHA-256 over the
parts' SHA-256s, `-N`), or a re-download when the server keeps none. With `object_lock_days` the version's
lock is read back: COMPLIANCE until at least the date asked, or the upload fails.

Pure helpers (sums, comparison, retention) take their inputs as arguments and need no server.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archiver.errors import StoreError

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MAX_PARTS = 10_000  # S3's limit on parts per upload
NOT_FOUND = ("404", "NoSuchKey", "NotFound")
CONFLICT = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def error_code(exc) -> str:
    """The S3 error code of a botocore ClientError ("NoSuchKey", "SlowDown", or the status for HEAD)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


# -- pure helpers ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sums:
    """A file's size and SHA-256, and its parts' SHA-256s when it goes up in parts of `part_size`."""

    size: int
    sha256: bytes
    part_size: int | None = None
    parts: tuple[bytes, ...] = ()


def part_size_for(size: int, threshold: int) -> int | None:
    """None for one PUT; else parts of `threshold` bytes, larger only if 10,000 parts would not hold it."""
    if size <= threshold:
        return None
    return max(threshold, -(-size // MAX_PARTS))


def file_sums(path: Path, part_size: int | None) -> Sums:
    """One read of the file, in 1 MiB blocks: its SHA-256 and, with `part_size`, each part's."""
    whole, part, parts, size, in_part = hashlib.sha256(), hashlib.sha256(), [], 0, 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(min(MIB, part_size - in_part) if part_size else MIB)
            if not block:
                break
            whole.update(block)
            size += len(block)
            if part_size:
                part.update(block)
                in_part += len(block)
                if in_part == part_size:
                    parts.append(part.digest())
                    part, in_part = hashlib.sha256(), 0
    if part_size and in_part:
        parts.append(part.digest())
    return Sums(size, whole.digest(), part_size, tuple(parts))


def composite(part_digests: tuple[bytes, ...]) -> str:
    """S3's checksum of a multipart object: base64 SHA-256 over the parts' digests, then `-N`."""
    return f"{b64(hashlib.sha256(b''.join(part_digests)).digest())}-{len(part_digests)}"


def matches(stored: str, sums: Sums) -> bool:
    """Whether a checksum S3 reports is the file's: its full SHA-256, or the composite of its parts.

    A composite may come without its `-N` (moto's HeadObject leaves it off); with one, N must agree.
    """
    value, _, count = stored.partition("-")
    if not count and value == b64(sums.sha256):
        return True
    if not sums.parts or (count and count != str(len(sums.parts))):
        return False
    return value == composite(sums.parts).partition("-")[0]


def retain_until(days: int, now: datetime) -> datetime:
    """In whole seconds: S3 keeps retain-until dates to the second, so the read-back compares exactly."""
    return (now + timedelta(days=days)).replace(microsecond=0)


def retention_shortfall(head: dict, until: datetime) -> str | None:
    """What is missing from an object's Object Lock (HeadObject's answer) against COMPLIANCE until `until`."""
    mode, got = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
    if mode != "COMPLIANCE":
        return f"its Object Lock mode is {mode or 'not set'}, not COMPLIANCE"
    if got is None:
        return "it has no retain-until date"
    if got < until:
        return f"it is retained until {got:%Y-%m-%d %H:%M:%S} UTC, not {until:%Y-%m-%d %H:%M:%S} UTC"
    return None


# -- the server side ---------------------------------------------------------------------------------------


class S3Objects:
    """Writes new objects into one bucket and checks them. StoreError says what is wrong with an object;
    botocore's errors (the server unreachable, 5xx after the client's retries) pass through."""

    def __init__(self, client, bucket: str, *, threshold_bytes: int, lock_days: int | None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.client = client
        self.bucket = bucket
        self.threshold = threshold_bytes
        self.lock_days = lock_days
        self.clock = clock

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def head(self, key: str, version_id: str | None = None, **extra) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED",
                                           **version_arg(version_id), **extra)
        except ClientError as exc:
            if error_code(exc) in NOT_FOUND:
                return None
            raise

    # -- writing ---------------------------------------------------------------------------------------

    def check_bucket_lock(self) -> None:
        """With `object_lock_days`, the bucket must have Object Lock: otherwise the archive would be unlocked."""
        from botocore.exceptions import ClientError

        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except ClientError as exc:
            if error_code(exc) != "ObjectLockConfigurationNotFoundError":
                raise
            config = {}
        if config.get("ObjectLockEnabled") != "Enabled":
            raise StoreError(f"bucket {self.bucket} does not have S3 Object Lock enabled, but storage.s3."
                             f"object_lock_days asks for {self.lock_days} days of COMPLIANCE retention; enable "
                             "Object Lock on the bucket or remove object_lock_days")

    def put_file(self, key: str, path: Path) -> None:
        """Upload a new object (or accept the one there with the same SHA-256), verify it, check its lock."""
        sums = file_sums(path, part_size_for(path.stat().st_size, self.threshold))
        until = retain_until(self.lock_days, self.clock()) if self.lock_days else None
        existing = self.head(key)
        if existing is not None:
            if existing.get("ContentLength") != sums.size or not self.matches_stored(key, existing, path, sums):
                raise StoreError(f"{self.url(key)} already exists with other content; "
                                 "a stored object is never overwritten")
            log.info("%s is already there with the same SHA-256", self.url(key))
            version = existing.get("VersionId")
        else:
            version = self._put_parts(key, path, sums, until) if sums.parts else self._put_one(key, path, sums, until)
            self._verify(key, version, path, sums)
        if until is not None:
            self._check_retention(key, version, until)

    def put_new_version(self, key: str, data: bytes) -> None:
        """A new version of an existing key (the manifest after `register`); versioning keeps the old one."""
        sums = Sums(len(data), hashlib.sha256(data).digest())
        until = retain_until(self.lock_days, self.clock()) if self.lock_days else None
        answer = self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentLength=len(data),
                                        ChecksumAlgorithm="SHA256", ChecksumSHA256=b64(sums.sha256),
                                        **_lock_args(until))
        self._verify(key, answer.get("VersionId"), None, sums)
        if until is not None:
            self._check_retention(key, answer.get("VersionId"), until)

    def _put_one(self, key: str, path: Path, sums: Sums, until: datetime | None) -> str | None:
        from botocore.exceptions import ClientError

        with open(path, "rb") as body:
            try:
                answer = self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentLength=sums.size,
                                                ChecksumAlgorithm="SHA256", ChecksumSHA256=b64(sums.sha256),
                                                IfNoneMatch="*", **_lock_args(until))
            except ClientError as exc:
                if error_code(exc) in CONFLICT:
                    raise StoreError(f"{self.url(key)} appeared while uploading; not overwriting it") from exc
                raise
        return answer.get("VersionId")

    def _put_parts(self, key: str, path: Path, sums: Sums, until: datetime | None) -> str | None:
        """Multipart, each part with its SHA-256; completed only if the key is still free, else aborted."""
        from botocore.exceptions import ClientError

        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256",
                                                        **_lock_args(until))["UploadId"]
        completed = False
        try:
            parts = []
            with open(path, "rb") as fh:
                for number, digest in enumerate(sums.parts, 1):
                    parts.append(self._upload_part(key, upload_id, number, fh.read(sums.part_size), digest))
            try:
                answer = self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                               MultipartUpload={"Parts": parts}, IfNoneMatch="*")
            except ClientError as exc:
                if error_code(exc) in CONFLICT:
                    raise StoreError(f"{self.url(key)} appeared while uploading; not overwriting it") from exc
                raise
            completed = True
        finally:
            if not completed:
                self.abort(key, upload_id)
        log.info("%s uploaded in %d parts of %d MiB", self.url(key), len(parts), sums.part_size // MIB)
        return answer.get("VersionId")

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes, digest: bytes) -> dict:
        answer = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                         Body=data, ContentLength=len(data), ChecksumAlgorithm="SHA256",
                                         ChecksumSHA256=b64(digest))
        return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": b64(digest)}

    def abort(self, key: str, upload_id: str) -> None:
        """Abort a multipart upload, dropping its parts; one that cannot be aborted now is left to the next."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            log.info("aborted the unfinished multipart upload of %s", self.url(key))
        except ClientError as exc:
            if error_code(exc) != "NoSuchUpload":  # already completed or aborted
                log.warning("could not abort the multipart upload of %s: %s", self.url(key), exc)
        except BotoCoreError as exc:
            log.warning("could not abort the multipart upload of %s: %s", self.url(key), exc)

    def abort_unfinished(self, prefix: str) -> int:
        """Abort every multipart upload left open under `prefix` (by a killed upload of the same bundle;
        one run at a time uploads, under the store's lock). Never completed: its parts may be missing."""
        from botocore.exceptions import ClientError

        found = 0
        try:
            for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket,
                                                                                      Prefix=prefix):
                for upload in page.get("Uploads", []):
                    self.abort(upload["Key"], upload["UploadId"])
                    found += 1
        except ClientError as exc:
            if error_code(exc) != "AccessDenied":
                raise
            log.warning("cannot list unfinished multipart uploads in %s (no s3:ListBucketMultipartUploads); "
                        "any left by an interrupted upload stay until a lifecycle rule removes them", self.bucket)
        return found

    # -- checking --------------------------------------------------------------------------------------

    def _verify(self, key: str, version_id: str | None, path: Path | None, sums: Sums) -> None:
        head = self.head(key, version_id)
        if head is None:
            raise StoreError(f"{self.url(key)} is missing right after its upload")
        if head.get("ContentLength") != sums.size or not self.matches_stored(key, head, path, sums):
            raise StoreError(f"{self.url(key)} does not match the local file after upload (size "
                             f"{head.get('ContentLength')}, checksum {head.get('ChecksumSHA256')}; expected "
                             f"{sums.size} bytes, SHA-256 {b64(sums.sha256)})")

    def matches_stored(self, key: str, answer: dict, path: Path | None, sums: Sums) -> bool:
        """Whether the object S3 described (HeadObject or GetObject) holds the file summed in `sums`.

        Without a checksum from the server, the object is downloaded and hashed. A composite of another
        part size than `sums`' is compared after summing `path` in the object's own parts.
        """
        stored, version_id = answer.get("ChecksumSHA256"), answer.get("VersionId")
        if stored is None:
            return self.download_sha256(key, version_id) == sums.sha256
        if matches(stored, sums):
            return True
        first = self.head(key, version_id, PartNumber=1) if path is not None else None
        count = (first or {}).get("PartsCount")
        if not count:
            return False
        theirs = file_sums(path, first["ContentLength"])
        return len(theirs.parts) == count and matches(stored, theirs)

    def download_sha256(self, key: str, version_id: str | None) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=key, **version_arg(version_id))["Body"]
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(MIB), b""):
            digest.update(chunk)
        return digest.digest()

    def _check_retention(self, key: str, version_id: str | None, until: datetime) -> None:
        """Read the version's lock back. One the server did not apply (moto drops it from
        CreateMultipartUpload; an object left by a killed upload was locked from an earlier date) is set
        with PutObjectRetention, which can only lengthen COMPLIANCE, and read back again."""
        head = self.head(key, version_id) or {}
        short = retention_shortfall(head, until)
        if short is None:
            return
        log.info("%s: %s; setting COMPLIANCE retention until %s", self.url(key), short, until)
        self.client.put_object_retention(Bucket=self.bucket, Key=key, Retention={"Mode": "COMPLIANCE",
                                         "RetainUntilDate": until}, **version_arg(version_id))
        short = retention_shortfall(self.head(key, version_id) or {}, until)
        if short is not None:
            raise StoreError(f"{self.url(key)} is not under the Object Lock asked for (COMPLIANCE, "
                             f"object_lock_days: {self.lock_days}): {short}")


def _lock_args(until: datetime | None) -> dict:
    """Object Lock arguments for a new object: COMPLIANCE mode until `until`, if set."""
    return {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until} if until is not None else {}


def version_arg(version_id: str | None) -> dict:
    """VersionId for a request about one version; "null" (an unversioned bucket's, as moto names it after
    CompleteMultipartUpload) is left out, which means the same object and which moto's HeadObject refuses."""
    return {"VersionId": version_id} if version_id and version_id != "null" else {}
