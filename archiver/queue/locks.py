"""One bundle assembly at a time per organisation's store, across machines: a PostgreSQL advisory lock.

A file lock (archiver/lock.py) holds only among processes that share a file system; workers on several
machines share the catalog's database instead. The lock is a session lock on a connection of its own,
held while the bundle is built, stored and catalogued, and released by the server if the worker dies.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (PostgreSQL's advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(f"archiver store {name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def store_assembly(engine: Engine, store: str) -> Iterator[None]:
    """Hold the store's assembly lock, waiting for another assembly of the same store to finish."""
    if engine.dialect.name != "postgresql":
        yield  # a SQLite catalog serves one machine: its runs hold the store's file lock
        return
    key = advisory_key(store)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        conn.commit()
        log.debug("holding the assembly lock of %s", store)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()
