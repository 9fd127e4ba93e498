"""The catalog on both databases it runs on: a SQLite file and a real PostgreSQL (tests/pgserver.py).

Each test runs twice (the `catalog_url` fixture). What differs between the two and has bitten others is
tested by name: times come back UTC-aware, a duplicate insert leaves the transaction usable, an UPDATE's
rowcount, a failed statement that aborts a PostgreSQL transaction, migrations from a catalog made before
them, and two processes migrating one new catalog at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from archiver.catalog import Catalog
from archiver.catalog.engine import insert_missing, make_engine
from archiver.catalog.migrate import HEAD, MIGRATIONS
from archiver.catalog.tables import audit, bundles, metadata, run_pages, runs, users
from archiver.errors import BadInputError, CatalogError, NotFoundError
from archiver.web import accounts

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def manifest(bundle_id: str, start: datetime = T0, statuses=("ok", "ok"), **extra) -> dict:
    pages = [{"id": f"p{i}", "platform": "facebook", "requested_url": f"https://www.facebook.com/p{i}",
              "final_url": f"https://www.facebook.com/p{i}", "status": status,
              "error": None if status == "ok" else "timeout",
              "capture_start": (start + timedelta(seconds=10 * i)).isoformat(),
              "capture_end": (start + timedelta(seconds=10 * i + 3)).isoformat(),
              "pixels_sha256": "ab" * 32} for i, status in enumerate(statuses)]
    return {"bundle_id": bundle_id, "organisation": "Götene kommun", "reason": "halvårsvis",
            "requested_by": "schemaläggaren", "run_start": start.isoformat(),
            "run_end": (start + timedelta(minutes=2)).isoformat(), "pages": pages,
            "pdf": {"file": f"{bundle_id}.pdf", "sha256": "cd" * 32, "pdfa": "2b", "pages": 3}, **extra}


def record(catalog: Catalog, m: dict, kind: str = "scheduled", sha: str = "ef" * 32) -> bool:
    return catalog.record_bundle(m, kind, "local", f"/store/{m['bundle_id']}", sha)


def count(catalog: Catalog, table) -> int:
    with catalog.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_a_bundle_is_recorded_listed_registered_and_culled(catalog_url):
    catalog = Catalog(catalog_url)
    assert record(catalog, manifest("b1", statuses=("ok", "failed"))) is True
    row = catalog.get_bundle("b1")
    assert (row["status"], row["kind"], row["pdf_pages"]) == ("partial", "scheduled", 3)
    assert [(p["page_id"], p["status"]) for p in row["pages"]] == [("p0", "ok"), ("p1", "failed")]

    registered = catalog.add_registration("b1", {"dnr": "KS 2026/123", "registered_by": "Registrator Rut"},
                                          T0 + timedelta(days=1), "12" * 32)
    assert registered["dnr"] == "KS 2026/123"
    row = catalog.get_bundle("b1")
    assert row["manifest_sha256"] == "12" * 32 and [r["dnr"] for r in row["registrations"]] == ["KS 2026/123"]
    # A registered bundle is never culled: the UPDATE matches no row, and its rowcount says so on both.
    assert catalog.begin_delete("b1", "Arkivarie", T0 + timedelta(days=2), "gallring") is None

    record(catalog, manifest("b2", T0 + timedelta(hours=1)))
    intent = catalog.begin_delete("b2", "Arkivarie", T0 + timedelta(days=2), "gallring")
    assert isinstance(intent, int)
    assert [b["id"] for b in catalog.list_bundles()] == ["b1"]
    with pytest.raises(NotFoundError, match="deleted under the records plan .* by Arkivarie"):
        catalog.get_bundle("b2")
    assert [r["bundle_id"] for r in catalog.open_intents("bundle.deleting", ("bundle.deleted",))] == ["b2"]
    catalog.finish_delete("b2", "Arkivarie", "gallring")
    assert catalog.open_intents("bundle.deleting", ("bundle.deleted",)) == []
    assert [e["action"] for e in catalog.audit_log()] == ["bundle.deleted", "bundle.deleting", "bundle.registered"]


def test_a_case_is_opened_by_its_first_registration_and_numbers_its_documents(catalog_url):
    """The case record on both databases: the case and its first document in one transaction, the year's
    collective case found by year, and only one collective case a year."""
    catalog = Catalog(catalog_url, org="gotene")
    for n, bundle in enumerate(("c1", "c2", "c3")):
        record(catalog, manifest(bundle, T0 + timedelta(hours=n)))
    case = {"dnr": "KS 2026/123", "title": "Dokumentation av sociala medier 2026", "classification": "1.4.2",
            "collective_year": 2026}
    entry = {"dnr": "KS 2026/123", "registered_by": "Rut", "document_no": 1, "secrecy": "none",
             "case_title": case["title"], "classification": "1.4.2", "document_title": "Skärmbilder"}
    catalog.add_registration("c1", entry, T0, "12" * 32, case=case)
    catalog.add_registration("c2", entry | {"document_no": 2, "secrecy": "OSL:21:7"}, T0, "34" * 32)
    assert catalog.collective_case(2026)["dnr"] == "KS 2026/123" and catalog.collective_case(2027) is None
    assert catalog.case_documents("KS 2026/123") == {1: "c1", 2: "c2"}
    (listed,) = catalog.list_cases()
    assert [(d["bundle_id"], d["document_no"], d["secrecy"]) for d in listed["documents"]] == [
        ("c1", 1, "none"), ("c2", 2, "OSL:21:7")]
    with pytest.raises(BadInputError, match="another collective case for 2026"):
        catalog.add_registration("c3", entry | {"dnr": "KS 2026/999", "document_no": 1}, T0, "56" * 32,
                                 case=case | {"dnr": "KS 2026/999"})
    assert catalog.get_bundle("c3")["registrations"] == []  # the refused transaction left nothing
    assert Catalog(catalog_url, org="other").list_cases() == []  # another organisation's catalog view


def test_collected_items_keep_versions_and_removals_on_both_databases(catalog_url):
    """`archiver collect`'s record on SQLite and PostgreSQL: an item, an edit as a second version, a count
    change that is not one, a removal within one post's thread, a return, and the newest-version listing."""
    from archiver.catalog.collected import Seen

    catalog = Catalog(catalog_url, org="gotene")
    post = Seen("post", "p1", '{"id":"p1"}', "a" * 64, "c1", None, "p1", T0)
    first = Seen("comment", "c1", '{"id":"c1","message":"Hej"}', "b" * 64, "m1", "p1", "p1", T0)
    edited = Seen("comment", "c1", '{"id":"c1","message":"Hej då"}', "c" * 64, "m2", "p1", "p1", T0)
    recount = Seen("comment", "c1", '{"id":"c1","message":"Hej då","like_count":3}', "d" * 64, "m2", "p1", "p1", T0)
    other = Seen("comment", "c2", '{"id":"c2"}', "e" * 64, "m3", "p1", "p1", T0)
    assert [catalog.record_seen("fb", "facebook", s, T0) for s in (post, first, other)] == ["new", "new", "new"]
    assert catalog.record_seen("fb", "facebook", edited, T0 + timedelta(hours=1)) == "changed"
    assert catalog.record_seen("fb", "facebook", recount, T0 + timedelta(hours=2)) == "same"
    assert [json.loads(v["raw"])["message"] for v in catalog.item_history("facebook", "c1")] == ["Hej", "Hej då"]
    gone = catalog.mark_missing("fb", "facebook", kinds=("comment", "reply"), parent_id="p1", seen_ids={"c1"},
                                at=T0 + timedelta(hours=3))
    assert gone == ["c2"]
    rows = {r["item_id"]: r for r in catalog.collected("fb")}
    assert rows["c2"]["removed_at"] == T0 + timedelta(hours=3) and rows["c2"]["last_seen_at"] == T0
    assert rows["c1"]["raw"] == edited.raw and rows["c1"]["versions"] == 2
    assert catalog.record_seen("fb", "facebook", other, T0 + timedelta(hours=4)) == "back"
    assert Catalog(catalog_url, org="other").collected() == []  # another organisation's view


def test_times_come_back_aware_and_in_utc(catalog_url):
    catalog = Catalog(catalog_url)
    stockholm = T0.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Stockholm"))
    record(catalog, manifest("b1", stockholm))  # given with +02:00: stored as the same instant
    row = catalog.get_bundle("b1")
    for value in (row["started_at"], row["created_at"], row["pages"][0]["capture_start"]):
        assert value.utcoffset() == timedelta(0), value
    assert row["started_at"] == T0
    assert catalog.last_capture_seconds() == {"p0": 3.0, "p1": 3.0}
    assert catalog.last_complete_scheduled_run() == (T0, {"p0", "p1"})
    catalog.audit("Rut", "bundle.viewed", "b1")
    [entry] = catalog.audit_log()
    assert entry["at"].utcoffset() == timedelta(0) and abs(entry["at"] - datetime.now(UTC)) < timedelta(minutes=1)


def test_recording_a_bundle_again_changes_nothing_and_a_different_one_is_refused(catalog_url):
    catalog = Catalog(catalog_url)
    m = manifest("b1")
    assert record(catalog, m) is True
    assert record(catalog, m) is False  # a bundle assembly retried after a crash
    assert (count(catalog, runs), count(catalog, run_pages), count(catalog, bundles)) == (1, 2, 1)
    with pytest.raises(CatalogError, match="already has a different bundle b1"):
        record(catalog, m, sha="99" * 32)
    assert catalog.get_bundle("b1")["manifest_sha256"] == "ef" * 32


def test_a_duplicate_insert_rolls_back_whole_and_the_catalog_goes_on(catalog_url):
    """PostgreSQL aborts a transaction at its first error and refuses every later statement in it; code that
    catches the error inside the transaction and carries on works on SQLite only. Ours rolls back whole."""
    catalog = Catalog(catalog_url)
    record(catalog, manifest("b1"))
    with pytest.raises(IntegrityError), catalog.engine.begin() as conn:
        conn.execute(insert(audit).values(at=T0, actor="x", action="a.b"))
        conn.execute(insert(runs).values(id="b1", organisation="o", reason="r", kind="manual", requested_by="x",
                                         started_at=T0, finished_at=T0, status="complete"))
    assert count(catalog, audit) == 0  # the first statement went with the failed one
    if catalog.engine.dialect.name == "postgresql":  # what carrying on inside the failed transaction does
        with catalog.engine.connect() as conn, pytest.raises(Exception, match="current transaction is aborted"):
            try:
                conn.execute(insert(runs).values(id="b1", organisation="o", reason="r", kind="manual",
                                                 requested_by="x", started_at=T0, finished_at=T0, status="complete"))
            except IntegrityError:
                conn.execute(select(1))
    # The same engine is still usable: a registration and an account go in.
    catalog.add_registration("b1", {"dnr": "KS 1", "registered_by": "Rut"}, T0, "12" * 32)
    accounts.add_user(catalog.engine, "rut", "registrar", "ett långt lösenord")
    with pytest.raises(Exception, match="already a user named 'rut'"):
        accounts.add_user(catalog.engine, "rut", "admin", "ett annat långt lösenord")
    assert [u.name for u in accounts.list_users(catalog.engine)] == ["rut"]


def test_insert_missing_is_portable_and_counts_what_it_inserted(catalog_url):
    """SQLite's INSERT OR IGNORE is not SQL; the dialects' ON CONFLICT DO NOTHING is, with a true rowcount."""
    catalog = Catalog(catalog_url)
    rows = [{"name": n, "role": "communicator", "password_hash": "x", "created_at": T0} for n in ("a", "b")]
    with catalog.engine.begin() as conn:
        assert insert_missing(conn, users, rows) == 2
    with catalog.engine.begin() as conn:
        assert insert_missing(conn, users, [*rows, {**rows[0], "name": "c"}]) == 1
        assert insert_missing(conn, users, []) == 0
    assert count(catalog, users) == 3
    # rowcount after an UPDATE: matched rows, the same on both (set_password relies on it).
    accounts.set_password(catalog.engine, "a", "ett nytt långt lösenord")
    with pytest.raises(NotFoundError):
        accounts.set_password(catalog.engine, "nobody", "ett nytt långt lösenord")


def test_a_new_catalog_is_made_by_the_migrations_and_matches_the_tables(catalog_url):
    catalog = Catalog(catalog_url)
    with catalog.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        found = inspect(conn)
        for table in metadata.sorted_tables:
            columns = {c["name"]: c for c in found.get_columns(table.name)}
            assert set(columns) == {c.name for c in table.columns}, table.name
            for column in table.columns:
                assert columns[column.name]["nullable"] == column.nullable, (table.name, column.name)
    newest = max(p.name for p in (MIGRATIONS / "versions").glob("[0-9]*.py"))
    assert newest.startswith(HEAD + "_")


PRE_ALEMBIC = [  # a catalog as `create_all` made it before retry runs and culling, with a bundle in it
    """CREATE TABLE runs (id VARCHAR(64) PRIMARY KEY, organisation TEXT NOT NULL, reason TEXT NOT NULL,
       kind VARCHAR(16) NOT NULL, requested_by TEXT NOT NULL, started_at TIMESTAMP NOT NULL,
       finished_at TIMESTAMP NOT NULL, status VARCHAR(16) NOT NULL)""",
    """CREATE TABLE bundles (id VARCHAR(64) PRIMARY KEY, run_id VARCHAR(64) NOT NULL REFERENCES runs (id),
       store VARCHAR(16) NOT NULL, location TEXT NOT NULL, pdf_name TEXT NOT NULL, pdf_sha256 VARCHAR(64)
       NOT NULL, manifest_sha256 VARCHAR(64) NOT NULL, pdfa VARCHAR(4) NOT NULL, pdf_pages INTEGER NOT NULL,
       created_at TIMESTAMP NOT NULL, deleted_at TIMESTAMP)""",
    ("INSERT INTO runs VALUES ('old', 'Götene', 'halvårsvis', 'scheduled', 'x', '2025-06-01 08:00:00', "
     "'2025-06-01 08:02:00', 'complete')"),
    ("INSERT INTO bundles (id, run_id, store, location, pdf_name, pdf_sha256, manifest_sha256, pdfa, pdf_pages, "
     "created_at) VALUES ('old', 'old', 'local', '/s/old', 'old.pdf', 'a', 'b', '2b', 1, '2025-06-01 08:02:00')"),
]


def test_a_catalog_made_before_migrations_is_upgraded_keeping_its_rows(catalog_url):
    engine = create_engine(make_engine(catalog_url)[0].url)
    with engine.begin() as conn:
        for statement in PRE_ALEMBIC:
            conn.exec_driver_sql(statement)
    engine.dispose()
    catalog = Catalog(catalog_url)  # the missing tables are made, the missing columns added
    [old] = catalog.list_bundles()
    assert (old["id"], old["completes"], old["deleted_by"]) == ("old", None, None)
    assert old["created_at"] == datetime(2025, 6, 1, 8, 2, tzinfo=UTC)
    record(catalog, manifest("new", completes="old"))
    assert catalog.get_bundle("new")["completes"] == "old"
    assert accounts.list_users(catalog.engine) == []
    # Rows from before organisations are the first organisation's that opens the catalog (it served one).
    assert [b["id"] for b in Catalog(catalog_url, org="gotene-kommun").list_bundles()] == ["old", "new"]
    assert Catalog(catalog_url, org="lidkopings-kommun").list_bundles() == []


MIGRATE = "import sys; from archiver.catalog import Catalog; Catalog(sys.argv[1]); print('ok')"


def test_processes_opening_a_new_catalog_at_once_migrate_it_once(catalog_url):
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATE, catalog_url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in results]
    catalog = Catalog(catalog_url)
    with catalog.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_postgres_urls_without_a_driver_use_psycopg_3(postgres):
    url = postgres.new_database().replace("postgresql+psycopg://", "postgresql://")
    catalog = Catalog(url)
    assert catalog.engine.dialect.driver == "psycopg"
    assert "@127.0.0.1" in catalog.where and record(catalog, manifest("b1"))


def test_a_postgres_that_is_down_is_a_catalog_error_naming_it_without_the_password(postgres):
    with pytest.raises(CatalogError, match=r"catalog postgresql\+psycopg://archiver:\*\*\*@127\.0\.0\.1:9/catalog could not "
                                           r"be used: connection failed") as caught:
        Catalog("postgresql://archiver:hemligt@127.0.0.1:9/catalog")
    assert "hemligt" not in str(caught.value)
