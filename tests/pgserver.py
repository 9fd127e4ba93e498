"""A throwaway PostgreSQL on 127.0.0.1 for the tests, from Debian's `postgresql` package.

`initdb` refuses to run as root, so as root the cluster belongs to the `postgres` user the package makes
(in a folder of its own under /tmp: pytest's folders are private to root). The server listens on a free
port on loopback only, with its socket in the same folder, and is stopped and removed at the end.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from conftest import free_port

INSTALL_HINT = "PostgreSQL's server is needed for these tests: apt-get install postgresql (.ci/run does)"


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are: Debian keeps them out of PATH, under the major version."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _bindir() -> Path:
    found = postgres_bindir()
    if found is None:
        raise RuntimeError(INSTALL_HINT)
    return found


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class PostgresServer:
    """One running cluster; `new_database()` gives each test a database of its own."""

    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port
        self.admin_url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        return subprocess.run(_as_owner([str(_bindir() / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                                         "-U", "postgres", "-d", database, "-Atc", sql]),
                              check=True, capture_output=True, text=True).stdout

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    bindir = _bindir()
    folder = Path(tempfile.mkdtemp(prefix="archiver-pg-", dir="/tmp"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                              "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
                   check=True, capture_output=True)
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
                              "-w", "-t", "60", "start"]), check=True, capture_output=True)
    try:
        server = PostgresServer(folder, port)
        deadline = time.monotonic() + 30
        while True:
            try:
                server.psql("SELECT 1")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)
