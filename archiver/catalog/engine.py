"""The catalog's database connection: how long a write waits for another process's lock, and what a person
is told when the database refuses (locked, disk full) instead of a driver's traceback."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Table, create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError

from archiver.errors import CatalogError

log = logging.getLogger(__name__)

# How long a write waits for another process's write lock on a SQLite catalog before giving up. Our own
# writers hold it for milliseconds (a run's entry, an audit line, a web login), so only something unusual
# holds it for seconds: a `sqlite3` shell left inside BEGIN EXCLUSIVE, a backup copying the file. 15 s rides
# out those that end by themselves and still answers a web request well within a proxy's 30-60 s timeout.
# Python's sqlite3 would wait 5 s. `?timeout=S` on ARCHIVER_CATALOG_URL sets another wait.
BUSY_TIMEOUT_S = 15.0


def make_engine(url: str) -> tuple[Engine, str, float]:
    """An engine for `url`, where it is (for messages; never a password) and how long SQLite writes wait."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):  # psycopg 3 is what we ship, not psycopg2
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args = {}
    timeout = 0.0
    if parsed.get_backend_name() == "sqlite":
        if "timeout" in parsed.query:
            timeout = float(parsed.query["timeout"])
        else:
            timeout = BUSY_TIMEOUT_S
            connect_args["timeout"] = timeout
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        where = parsed.database or url
    else:
        where = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "postgresql":
        # The session's time zone is UTC, whatever the server's: times come back in UTC, and a catalog
        # whose columns lack a time zone (one made by hand) stores the instant it was given.
        connect_args["options"] = "-c timezone=UTC"
    engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine, where, timeout


def describe(exc: OperationalError, where: str, timeout: float) -> str:
    """What the database's refusal means for a person, naming the catalog."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    name = getattr(exc.orig, "sqlite_errorname", "")
    if "locked" in text or name.startswith("SQLITE_BUSY"):
        return (f"the catalog {where} is locked by another process (waited {timeout:g} s for its write lock; "
                "is a sqlite3 shell or a backup holding it?)")
    free = _free_bytes(where)
    if "full" in text or (name.startswith("SQLITE_IOERR") and free is not None and free < LOW_SPACE):
        # SQLite reports a full disk as "full" when a write fails, as an I/O error when its shared-memory
        # file (made by the first reader) cannot grow.
        shown = f"{free // 1024} KB free" if free is not None else "the disk is full"
        return f"no space left on the disk of the catalog {where} ({shown}; SQLite: {text})"
    return f"the catalog {where} could not be used: {text}"


LOW_SPACE = 1 << 20


def _free_bytes(where: str) -> int | None:
    """Free space beside a SQLite catalog file; None for a server database or an unreadable place."""
    try:
        return shutil.disk_usage(Path(where).parent).free
    except OSError:
        return None


@contextmanager
def translated(where: str, timeout: float) -> Iterator[None]:
    """Turn the database's operational refusals into CatalogError (exit 1) with a message naming the catalog."""
    try:
        yield
    except OperationalError as exc:
        raise CatalogError(describe(exc, where, timeout)) from exc


@contextmanager
def writing(engine: Engine, where: str, timeout: float) -> Iterator[Connection]:
    """One write transaction, committed at the end or rolled back whole; refusals as CatalogError."""
    with translated(where, timeout), engine.begin() as conn:
        yield conn


def insert_missing(conn: Connection, table: Table, rows: list[dict]) -> int:
    """Insert the rows whose primary key is not there yet; how many were inserted.

    SQLite's `INSERT OR IGNORE` is not standard SQL and ignores every constraint, not only the key; both
    dialects have `ON CONFLICT (key) DO NOTHING`. What it inserted is counted from `RETURNING`, not from the
    rowcount, which psycopg reports as -1 for such a statement when SQLAlchemy adds its own RETURNING."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        raise CatalogError(f"the catalog's database ({conn.dialect.name}) is not one we run on: SQLite or PostgreSQL")
    keys = list(table.primary_key.columns)
    statement = dialect_insert(table).values(rows).on_conflict_do_nothing(index_elements=keys).returning(*keys)
    return len(conn.execute(statement).all())


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
