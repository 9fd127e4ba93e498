"""The whole tool on a PostgreSQL catalog (`ARCHIVER_CATALOG_URL`), as an operator would set it up: a run,
the bundle listed, registered, verified and got, the run counted as done by `--if-due`, a web account
that signs in and downloads the bundle, and nothing of the catalog left in the store's folder.

tests/test_catalog.py runs the catalog's own tests on both databases; this one runs the commands."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import register_yaml
from sqlalchemy import func, select

from archiver.catalog import Catalog
from archiver.catalog.tables import audit, bundles, registrations, run_pages, runs

PASSWORD = "ett långt lösenord"


def cli(registry: Path, url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ARCHIVER_REGISTRY": str(registry), "ARCHIVER_CATALOG_URL": url}
    return subprocess.run([sys.executable, "-m", "archiver", *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=300, check=False)


@pytest.mark.browser
def test_run_register_verify_and_the_web_page_on_a_postgresql_catalog(site, tmp_path, postgres, monkeypatch):
    url = postgres.new_database().replace("postgresql+psycopg://", "postgresql://")
    registry, store = tmp_path / "pages.yaml", tmp_path / "store"
    registry.write_text(register_yaml([{"id": "short", "url": f"{site}/short.html"}], store), encoding="utf-8")

    ran = cli(registry, url, "run", "--if-due", "--json")  # as cron runs it: a scheduled run
    assert ran.returncode == 0, ran.stderr
    bundle_id = json.loads(ran.stdout)["bundle_id"]
    assert not list(store.glob("catalog.sqlite*"))  # the catalog is the database, not a file in the store

    listed = json.loads(cli(registry, url, "bundles", "list", "--json").stdout)
    assert [b["id"] for b in listed] == [bundle_id]
    assert listed[0]["pages"][0]["status"] == "ok" and listed[0]["created_at"].endswith("Z")
    registered = cli(registry, url, "register", bundle_id, "--dnr", "KS 2026/123", "--by", "Registrator Rut")
    assert registered.returncode == 0, registered.stderr
    assert cli(registry, url, "register", bundle_id, "--dnr", "KS 2026/123", "--by", "Rut").returncode == 0
    verified = cli(registry, url, "bundles", "verify", bundle_id)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    got = cli(registry, url, "bundles", "get", bundle_id, "--out", str(tmp_path / "dl"))
    assert got.returncode == 0 and (tmp_path / "dl" / "manifest.json").exists(), got.stderr
    due = cli(registry, url, "run", "--if-due", "--json")
    assert due.returncode == 0 and json.loads(due.stdout)["due"] is False, due.stdout + due.stderr
    synced = cli(registry, url, "sync", "--json")
    assert synced.returncode == 0 and json.loads(synced.stdout)["catalogued"] == [], synced.stderr

    catalog = Catalog(url)
    with catalog.engine.connect() as conn:
        counts = [conn.execute(select(func.count()).select_from(t)).scalar()
                  for t in (runs, run_pages, bundles, registrations)]
        actions = list(conn.scalars(select(audit.c.action).order_by(audit.c.id)))
    assert counts == [1, 1, 1, 1]  # registering the same diarienummer again added nothing
    assert "bundle.registered" in actions

    added = cli(registry, url, "users", "add", "rut", "--role", "registrar", "--password-stdin",
                stdin=f"{PASSWORD}\n")
    assert added.returncode == 0, added.stderr
    assert "rut" in cli(registry, url, "users", "list").stdout

    from archiver.services import Services
    from archiver.web.app import create_app

    monkeypatch.setenv("ARCHIVER_CATALOG_URL", url)
    client = create_app(Services(registry)).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    signed_in = client.post("/login", data={"csrf_token": token, "name": "rut", "password": PASSWORD})
    assert signed_in.status_code == 302, signed_in.text
    page = client.get(f"/bundles/{bundle_id}")
    assert page.status_code == 200 and "KS 2026/123" in page.text
    pdf = client.get(f"/bundles/{bundle_id}/pdf")
    assert pdf.status_code == 200 and pdf.data == Path(json.loads(ran.stdout)["pdf"]).read_bytes()
    with catalog.engine.connect() as conn:
        assert "bundle.downloaded" in set(conn.scalars(select(audit.c.action)))
