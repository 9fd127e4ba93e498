"""The store interface: local disk now, S3 later, chosen by the register."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StoredBundle:
    bundle_id: str
    location: str  # a local path, or an s3:// URL
    files: tuple[str, ...]
    pending: bool = False  # S3: kept in the local spool, not yet uploaded and verified
    error: str | None = None  # why the upload is pending


class Store(Protocol):
    name: str

    def staging_dir(self, bundle_id: str) -> Path:
        """A private, empty local folder to build the bundle in."""

    def put(self, bundle_id: str, staging: Path) -> StoredBundle:
        """Make the complete folder visible under its id, atomically; refuse an existing id."""

    def sweep_stale(self) -> list[Path]:
        """Remove what interrupted runs left half-written."""

    def discard(self, staging: Path) -> None:
        """Remove a staging folder after a failure."""

    def list(self) -> list[StoredBundle]: ...

    def find(self, bundle_id: str) -> StoredBundle | None: ...

    def fetch(self, bundle_id: str, name: str, dest: Path) -> Path:
        """Copy one file of a bundle to `dest` (a new file)."""

    def replace_manifest(self, bundle_id: str, data: bytes) -> None:
        """Swap in an updated manifest in one step; the PDF is never rewritten."""

    def cache_dir(self, bundle_id: str) -> Path:
        """A local folder for files derived from the bundle (thumbnails), outside it; removed by `delete`."""

    def retained_until(self, bundle_id: str):
        """When a storage-level retention lock (S3 Object Lock) on the bundle ends; None if none holds it."""

    def delete(self, bundle_id: str) -> bool:
        """Cull a bundle under the records plan; False when it was already gone."""
