"""Bringing a catalog's schema to this version with Alembic, once, whichever process gets there first.

Every process that opens the catalog calls `upgrade`. When the catalog is already at `HEAD` that is one
query and Alembic is not even imported (it costs the CLI ~60 ms); otherwise the migrations run in one
transaction that holds the database's own lock: a PostgreSQL advisory lock, SQLite's write lock
(`BEGIN IMMEDIATE`). A second process waits on it, then finds the work done.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

HEAD = "0006"  # the newest migration in migrations/versions; tests/test_catalog.py checks they agree
MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock's key for "migrating the catalog": any fixed 64-bit number unlikely to be used by
# another application in the same database ("archiver" as bytes).
ADVISORY_KEY = int.from_bytes(b"archiver", "big") & 0x7FFF_FFFF_FFFF_FFFF


def current_revision(conn: Connection) -> str | None:
    """The catalog's Alembic revision; None for an empty database or one made before Alembic."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Make or bring the catalog's tables to `HEAD`. Nothing stored is changed but the schema."""
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return
    from alembic import command
    from alembic.config import Config

    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # pysqlite would run DDL outside any transaction
        else:
            conn.begin()
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_KEY})
        before = current_revision(conn)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()
    if before != HEAD:
        log.info("catalog: schema %s brought to %s", before or "(new or made before migrations)", HEAD)
