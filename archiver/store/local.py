"""The default store: `output/YYYY/<bundle_id>/` on local disk."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from archiver.errors import NotFoundError, StoreError
from archiver.fileio import write_atomic
from archiver.store.base import StoredBundle

log = logging.getLogger(__name__)

STAGING_PREFIX = ".partial-"
DELETING_PREFIX = ".deleting-"
CACHE_DIR = ".cache"  # files derived from a bundle (the web page's thumbnails), kept outside it
STALE_AFTER_S = 24 * 3600
BUNDLE_ID = re.compile(r"^(\d{4})\d{4}T\d{6}Z-[0-9a-f]{6}$")


def check_bundle_id(bundle_id: str) -> str:
    """Only well-formed ids reach the file system, so no id can name a path outside the store."""
    if not BUNDLE_ID.match(bundle_id or ""):
        raise NotFoundError(f"{bundle_id!r} is not a bundle id (expected e.g. 20261124T205846Z-3f9a1c)")
    return bundle_id


def bundle_files(folder: Path) -> tuple[str, ...]:
    """A stored bundle's files; a hidden one is the temporary file of an atomic write a crash interrupted
    (`register` rewriting the manifest), never part of the bundle, so it is neither listed nor uploaded."""
    return tuple(sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")))


class LocalStore:
    name = "local"

    def __init__(self, root: Path):
        self.root = Path(root)

    def _final(self, bundle_id: str) -> Path:
        year = BUNDLE_ID.match(check_bundle_id(bundle_id)).group(1)
        return self.root / year / bundle_id

    def staging_dir(self, bundle_id: str) -> Path:
        """Inside the destination year folder, so that `put` is a rename on one file system."""
        parent = self._final(bundle_id).parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {parent}: {exc.strerror}") from exc
        return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{bundle_id}-", dir=parent))

    def put(self, bundle_id: str, staging: Path) -> StoredBundle:
        final = self._final(bundle_id)
        for path in staging.iterdir():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            raise StoreError(f"{final} already exists; a stored bundle is never overwritten")
        try:
            os.rename(staging, final)
        except OSError as exc:
            raise StoreError(f"cannot move the bundle into {final}: {exc.strerror}") from exc
        _fsync_dir(final.parent)
        log.info("stored %s", final)
        return StoredBundle(bundle_id, str(final), bundle_files(final))

    def sweep_stale(self, max_age_s: float = STALE_AFTER_S, now: float | None = None) -> list[Path]:
        """Remove staging folders a crashed run left behind; a day old means no run is still using them."""
        now = time.time() if now is None else now
        removed = []
        for staging in self.root.glob(f"[0-9][0-9][0-9][0-9]/{DELETING_PREFIX}*"):
            shutil.rmtree(staging, ignore_errors=True)  # a culled bundle whose removal was interrupted
        for staging in self.root.glob(f"[0-9][0-9][0-9][0-9]/{STAGING_PREFIX}*"):
            if staging.is_dir() and now - staging.stat().st_mtime > max_age_s:
                shutil.rmtree(staging, ignore_errors=True)
                log.info("removed %s, left behind by an interrupted run", staging)
                removed.append(staging)
        return removed

    def discard(self, staging: Path) -> None:
        if staging.name.startswith(STAGING_PREFIX):
            shutil.rmtree(staging, ignore_errors=True)

    def list(self) -> list[StoredBundle]:
        found = []
        for year in sorted(self.root.glob("[0-9][0-9][0-9][0-9]")):
            for folder in sorted(year.iterdir()):
                if folder.is_dir() and BUNDLE_ID.match(folder.name):
                    found.append(StoredBundle(folder.name, str(folder), bundle_files(folder)))
        return found

    def find(self, bundle_id: str) -> StoredBundle | None:
        final = self._final(bundle_id)
        if not final.is_dir():
            return None
        return StoredBundle(bundle_id, str(final), bundle_files(final))

    def path(self, bundle_id: str, name: str) -> Path:
        stored = self.find(bundle_id)
        if stored is None or name not in stored.files:
            raise NotFoundError(f"bundle {bundle_id} has no file {name!r} in {self.root}")
        return Path(stored.location) / name

    def fetch(self, bundle_id: str, name: str, dest: Path) -> Path:
        source = self.path(bundle_id, name)
        if dest.exists():
            raise StoreError(f"{dest} already exists; not overwriting it")
        tmp = dest.with_name(f".{dest.name}.part")
        shutil.copyfile(source, tmp)
        os.rename(tmp, dest)
        return dest

    def replace_manifest(self, bundle_id: str, data: bytes) -> None:
        write_atomic(self.path(bundle_id, "manifest.json"), data)

    def cache_dir(self, bundle_id: str) -> Path:
        """Where files derived from a bundle may be kept (never inside the bundle); deleted with it."""
        return self.root / CACHE_DIR / check_bundle_id(bundle_id)

    def retained_until(self, bundle_id: str) -> None:
        """A local store has no retention lock of its own."""

    def delete(self, bundle_id: str) -> bool:
        """Cull a bundle (records plan): it leaves the store in one rename, then its files are removed.

        False when it was not there (already culled). Only `retention --apply` calls this.
        """
        final = self._final(bundle_id)
        doomed = final.with_name(f"{DELETING_PREFIX}{bundle_id}")
        shutil.rmtree(self.cache_dir(bundle_id), ignore_errors=True)
        if not final.is_dir():
            shutil.rmtree(doomed, ignore_errors=True)  # what an interrupted culling left out of sight
            return False
        try:
            os.rename(final, doomed)
        except OSError as exc:
            raise StoreError(f"cannot delete {final}: {exc.strerror}") from exc
        _fsync_dir(final.parent)
        shutil.rmtree(doomed, ignore_errors=True)
        log.info("deleted %s", final)
        return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
