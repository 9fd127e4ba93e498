"""One run at a time per store: an exclusive `flock` on `<storage.local>/.archiver.lock`.

The kernel drops the lock when the holder exits, however it exits, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archiver.errors import BusyError, ConfigurationError

LOCK_NAME = ".archiver.lock"
log = logging.getLogger(__name__)


COLLECT_LOCK_NAME = ".archiver.collect.lock"  # `archiver collect`: one at a time, beside runs


@contextmanager
def store_lock(store_root: Path, name: str = LOCK_NAME, what: str = "run") -> Iterator[Path]:
    """Hold the store's run lock (or another of its locks, `name`), or raise BusyError at once (never
    waits)."""
    root = Path(store_root)
    path = root / name
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigurationError(f"cannot open the {what} lock {path}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise BusyError(f"another archiver {what} is in progress (pid {holder}, lock {path}); "
                            "nothing was done, try again later") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        log.debug("holding %s", path)
        yield path
    finally:
        os.close(fd)


EDIT_LOCK_NAME = ".archiver.edit.lock"


@contextmanager
def edit_lock(store_root: Path) -> Iterator[None]:
    """Changes to a stored bundle's record made in two places (a registration: the manifest, then the
    catalog; culling: the catalog, then the store) and their repair after a crash exclude each other.

    Unlike the run lock this one waits: registering holds it for milliseconds, and a registrar must be able to
    register while a scheduled run holds the run lock. Repair under it never mistakes a registration in
    progress for one a crash interrupted.
    """
    root = Path(store_root)
    path = root / EDIT_LOCK_NAME
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigurationError(f"cannot open the edit lock {path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
