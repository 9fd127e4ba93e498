"""Faults, each one a test with real processes: the archiver SIGKILLed in every step of a run, while
registering and while culling (tests/kill_at.py kills it at a named function); Chromium's processes killed
mid-capture; the store's disk full (a real tmpfs in a private mount namespace); the catalog locked by
another process; manifests cut short or overwritten with garbage.

After each: nothing half-written is listed, nothing stored earlier is lost or changed (hashed before and
after), the next command completes, and every bundle the catalog lists verifies. README "Faults and what
happens" is the table of these.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import FIXTURES, register_yaml
from faultkit import TESTS, SmallDisk, archiver, command, env_for, kill_chromium_of, snapshot, wait_stopped
from synthetic import store_bundle

from archiver.capture.batch import capture_on_live_browser, worth_retrying
from archiver.capture.browser import BrowserKeeper
from archiver.demo.server import send_html, serve_directory
from archiver.errors import NotFoundError
from archiver.models import PageCapture, utcnow
from archiver.registration import RegistrationRequest
from archiver.services import Services
from archiver.store.local import BUNDLE_ID, LocalStore

SHORT = (FIXTURES / "short.html").read_text(encoding="utf-8")
SIGKILLED = -signal.SIGKILL


def _setup(tmp_path: Path, pages: list[dict], **options) -> tuple[Path, Path]:
    registry, store = tmp_path / "pages.yaml", tmp_path / "store"
    registry.write_text(register_yaml(pages, store, **({"wacz": True} | options)), encoding="utf-8")
    return registry, store


def _listed(registry: Path) -> list[str]:
    """The bundle ids `archiver bundles list --json` shows, as a person would list them."""
    listing = archiver(registry, "bundles", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    return [row["id"] for row in json.loads(listing.stdout)]


def _catalogued(registry: Path) -> list[str]:
    """What `bundles list` would show (its rows, read in this process to save a command's start-up)."""
    return [row["id"] for row in Services(registry).catalog.list_bundles()]


def assert_level(registry: Path, before: dict[str, str], *, changed=(), gone=()) -> list[dict]:
    """Every listed bundle is a complete folder under its id (never a `.partial-*` or renamed-away one), every
    file stored before is there unchanged (unless the command was to change or cull it), and every listed
    bundle verifies (`Services.verify`, what `bundles verify` runs)."""
    services = Services(registry)
    store = services.store.root
    rows = services.catalog.list_bundles()
    for row in rows:
        folder = Path(row["location"])
        assert BUNDLE_ID.match(folder.name) and folder.parent.parent == store, row["location"]
        assert {row["pdf_name"], "manifest.json"} <= {p.name for p in folder.iterdir()}, row["location"]
    now = snapshot(store)
    for path, digest in before.items():
        if Path(path).parts[1] in gone:
            assert path not in now, f"{path} should have been culled"
        elif path not in changed:
            assert now.get(path) == digest, f"{path} was lost or changed"
    for row in rows:
        result = services.verify(row["id"])
        assert result.ok, (row["id"], [(c.name, c.detail) for c in result.checks if not c.ok])
    return rows


# -- the archiver killed in each step of a run -------------------------------------------------------------

RUN_STEPS = [  # where it dies, what that leaves on disk, and the next command
    pytest.param("archiver.capture.screenshot:capture_tiles", "nothing", "run", id="capture"),
    pytest.param("archiver.bundle.wacz:build_wacz:return", "staging", "sync", id="wacz"),
    pytest.param("archiver.bundle.pdf:build_pdf:return", "staging", "sync", id="pdf-build"),
    pytest.param("archiver.pipeline:trusted_timestamp", "staging", "sync", id="manifest"),
    pytest.param("archiver.store.local:_fsync_dir", "stored", "sync", id="store-rename"),
    # The third insert() of the run is the bundles row: the runs and run_pages rows are written, uncommitted.
    pytest.param("archiver.catalog.db:insert:call@3", "stored", "run-if-due", id="catalog-write"),
]


@pytest.mark.browser
@pytest.mark.parametrize(("point", "left", "then"), RUN_STEPS)
def test_sigkill_in_each_step_of_a_run_leaves_nothing_half_written_and_the_next_command_completes(
        site, tmp_path, point, left, then):
    registry, store = _setup(tmp_path, [{"id": "short", "url": f"{site}/short.html"}])
    # A minute back, so it is the earlier run however soon the killed one starts (a bundle's id and order
    # come from its start; this one's page is not in the register, so it alone would leave a run due).
    earlier = store_bundle(Services(registry), None, -60)
    before = snapshot(store)

    killed = archiver(registry, "run", "--json", point=point)
    assert killed.returncode == SIGKILLED and f"SIGKILL at {point}" in killed.stderr, killed.stderr
    staging = list(store.glob("[0-9]*/.partial-*"))
    stored = [b.bundle_id for b in LocalStore(store).list() if b.bundle_id != earlier]
    assert (len(staging), len(stored)) == ((left == "staging") * 1, (left == "stored") * 1), (staging, stored)
    if left == "staging":
        assert (staging[0] / "manifest.json").exists() == point.endswith("trusted_timestamp")
        # The WACZ is built before the PDF: killed then, the staging folder holds it alone.
        assert any(p.suffix == ".pdf" for p in staging[0].iterdir()) == ("build_wacz" not in point)
        assert any(p.suffix == ".wacz" for p in staging[0].iterdir())
    assert _catalogued(registry) == [earlier]  # the half-made and the stored-not-catalogued are not listed

    if then == "run":
        after = archiver(registry, "run", "--json")
        assert after.returncode == 0, after.stderr
        stored.append(json.loads(after.stdout)["bundle_id"])
    elif then == "sync":
        after = archiver(registry, "sync", "--json")
        assert after.returncode == 0, after.stderr
        assert json.loads(after.stdout)["catalogued"] == stored
    else:  # a scheduled run the crash stored counts: nothing is due, nothing captured twice
        after = archiver(registry, "run", "--if-due", "--json")
        assert after.returncode == 0 and json.loads(after.stdout)["due"] is False, after.stdout + after.stderr
    rows = assert_level(registry, before)
    assert [r["id"] for r in rows] == [earlier, *stored]
    assert all(r["status"] == "complete" and len(r["pages"]) == 1 for r in rows)


# -- killed while registering ------------------------------------------------------------------------------

REGISTER_STEPS = [
    pytest.param("os:replace", "register", id="before-the-manifest-is-replaced"),
    pytest.param("archiver.store.local:LocalStore.replace_manifest:return", "sync",
                 id="manifest-replaced-catalog-not-yet"),
]


@pytest.mark.parametrize(("point", "then"), REGISTER_STEPS)
def test_sigkill_while_registering_is_completed_or_abandoned_from_what_the_manifest_says(tmp_path, point, then):
    registry, store = _setup(tmp_path, [{"id": "kommun", "url": "http://127.0.0.1:8123/kommun/"}])
    services = Services(registry)
    target, bystander = store_bundle(services, None, 1), store_bundle(services, "decision", 2)
    before = snapshot(store)
    register = ("register", target, "--dnr", "KS 2026/7", "--by", "Rita")

    killed = archiver(registry, *register, point=point)
    assert killed.returncode == SIGKILLED, killed.stderr
    assert _catalogued(registry) == [target, bystander]

    if then == "register":  # nothing was written but a temporary file: the same command again
        again = archiver(registry, *register)
        assert again.returncode == 0 and "registered as KS 2026/7" in again.stdout, again.stderr
        trail = ["bundle.registering", "bundle.register_abandoned", "bundle.registering", "bundle.registered"]
    else:  # the manifest says registered: sync completes the catalog
        after = archiver(registry, "sync", "--json")
        assert after.returncode == 0, after.stderr
        assert [(r["bundle_id"], r["outcome"]) for r in json.loads(after.stdout)["repaired"]] == [
            (target, "completed")]
        again = Services(registry).register_bundle(target, RegistrationRequest("Rita", "KS 2026/7"))  # the same again: no change
        assert again["already"] is True
        trail = ["bundle.registering", "bundle.registered"]

    manifest = f"{target[:4]}/{target}/manifest.json"
    rows = assert_level(registry, before, changed={manifest})
    assert [r["dnr"] for r in rows[0]["registrations"]] == ["KS 2026/7"] and rows[1]["registrations"] == []
    assert [r["dnr"] for r in json.loads((store / manifest).read_text())["registrations"]] == ["KS 2026/7"]
    assert not list((store / target[:4] / target).glob(".*"))  # no temporary manifest left inside
    entries = services.catalog.audit_log(target)[::-1]
    assert [e["action"] for e in entries] == trail
    assert all(e["actor"] == "Rita" for e in entries)
    if then == "sync":
        assert entries[-1]["detail"]["repaired"].startswith("completed after the command")


# -- killed while culling (retention --apply) --------------------------------------------------------------

RETENTION_STEPS = [
    pytest.param("archiver.store.local:LocalStore.delete", "sync", id="catalog-marked-store-untouched"),
    pytest.param("archiver.store.local:_fsync_dir", "retention", id="renamed-out-of-sight"),
    pytest.param("archiver.store.local:LocalStore.delete:return", "sync", id="removed-not-yet-recorded"),
]


@pytest.mark.parametrize(("point", "then"), RETENTION_STEPS)
def test_sigkill_while_culling_never_lists_a_bundle_that_is_gone_and_is_finished_next_time(tmp_path, point, then):
    registry, store = _setup(tmp_path, [{"id": "kommun", "url": "http://127.0.0.1:8123/kommun/"}])
    services = Services(registry)
    cull, kept, page = (store_bundle(services, "action", 1), store_bundle(services, "action", 2),
                        store_bundle(services, None, 3))
    services.catalog.mark_post(cull, "done", "Kim", utcnow())
    before = snapshot(store)

    killed = archiver(registry, "retention", "--apply", "--by", "Rita", point=point)
    assert killed.returncode == SIGKILLED, killed.stderr
    assert _catalogued(registry) == [kept, page]  # out of the lists before it leaves the store
    with pytest.raises(NotFoundError, match="deleted under the records plan .* by Rita"):
        Services(registry).catalog.get_bundle(cull)

    after = archiver(registry, *(("sync",) if then == "sync" else ("retention", "--apply", "--by", "Rita")))
    assert after.returncode == 0, after.stderr
    rows = assert_level(registry, before, gone={cull})
    assert [r["id"] for r in rows] == [kept, page]
    assert LocalStore(store).find(cull) is None and not list(store.glob("[0-9]*/.deleting-*"))
    entries = services.catalog.audit_log(cull)[::-1]
    assert [e["action"] for e in entries] == ["post.done", "bundle.deleting", "bundle.deleted"]
    assert entries[-1]["actor"] == "Rita" and entries[-1]["detail"]["repaired"].startswith("completed after")


# -- Chromium killed mid-capture ---------------------------------------------------------------------------

@pytest.mark.browser
def test_chromium_killed_mid_capture_is_started_again_and_every_page_is_captured(tmp_path):
    """Three pages at concurrency 2: `a` and `b` are in flight when every Chromium process of the run is
    killed (when `b`'s page is requested, `a`'s request still unanswered), `c` has not started."""
    run = {}
    a_requested, killed = threading.Event(), threading.Event()

    def page_a(req) -> None:
        a_requested.set()
        killed.wait(30)
        send_html(req, 200, SHORT)

    def page_b(req) -> None:
        if not killed.is_set():
            a_requested.wait(30)
            run["killed"] = kill_chromium_of(run["pid"])
            killed.set()
        send_html(req, 200, SHORT)

    routes = {"/a": page_a, "/b": page_b, "/c": lambda req: send_html(req, 200, SHORT)}
    with serve_directory(FIXTURES, routes=routes) as base:
        registry, _store = _setup(tmp_path, [{"id": key, "url": f"{base}/{key}"} for key in "abc"], concurrency=2)
        proc = subprocess.Popen(command("run", "--json"), env=env_for(registry), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        run["pid"] = proc.pid
        out, err = proc.communicate(timeout=240)
    assert run.get("killed"), "the browser's processes were not found"
    assert proc.returncode == 0, err
    manifest = json.loads(Path(json.loads(out)["manifest"]).read_text())
    pages = {p["id"]: p for p in manifest["pages"]}
    assert [(p["status"], p["attempts"]) for p in pages.values()] == [("ok", 1)] * 3
    restarted = {key for key, p in pages.items() if any("the browser stopped during this capture" in w
                                                            for w in p["warnings"])}
    assert restarted == {"a", "b"}, {k: p["warnings"] for k, p in pages.items()}
    assert "starting it again (restart 1 of at most 3 in this run)" in err
    assert_level(registry, {})


class _FakeBrowser:
    version = "1.0"

    def __init__(self):
        self.connected = True

    def is_connected(self) -> bool:
        return self.connected

    async def close(self) -> None:
        self.connected = False


def test_a_browser_that_dies_under_every_capture_ends_them_after_three_restarts_not_in_a_loop():
    launched = []

    async def launch():
        launched.append(_FakeBrowser())
        return launched[-1]

    async def capture(browser):  # every capture takes the browser down with it
        await asyncio.sleep(0.01)
        browser.connected = False
        return PageCapture(page_id="p", platform="generic", requested_url="https://example.se/", failure="error",
                           error="Target page, context or browser has been closed")

    async def scenario():
        keeper = BrowserKeeper(launch, max_restarts=3)
        await keeper.get()
        notes_a, notes_b = [], []
        first, second = await asyncio.gather(capture_on_live_browser(keeper, capture, notes_a),
                                             capture_on_live_browser(keeper, capture, notes_b))
        late = await capture_on_live_browser(keeper, capture, [])  # a page that starts after that
        return keeper, first, second, late, notes_a

    keeper, first, second, late, notes = asyncio.run(scenario())
    assert len(launched) == 4 and keeper.restarts == 3  # two pages in flight saw each death: one restart each
    for result in (first, second, late):
        assert result.failure == "browser" and not worth_retrying(result)
        assert "not started again (at most 3 restarts per run)" in result.error
    assert len(notes) == 3 and all("the browser stopped during this capture" in n for n in notes)


def test_a_workers_browser_given_up_on_by_one_job_is_started_again_for_the_next():
    """A worker's keeper lives for many runs: `fresh_budget` (at each capture job) gives the next job the
    run's bound again, instead of failing every later capture on the dead browser."""
    launched = []

    async def launch():
        launched.append(_FakeBrowser())
        return launched[-1]

    async def dies(browser):
        browser.connected = False
        return PageCapture(page_id="p", platform="generic", requested_url="https://example.se/", failure="error",
                           error="Target page, context or browser has been closed")

    async def works(browser):  # a page that captures fine, on a live browser
        return PageCapture(page_id="q", platform="generic", requested_url="https://example.se/",
                           status="ok" if browser.is_connected() else "failed")

    async def scenario():
        keeper = BrowserKeeper(launch, max_restarts=1)
        await keeper.get()
        given_up = await capture_on_live_browser(keeper, dies, [])
        keeper.fresh_budget()  # the next job
        return given_up, await capture_on_live_browser(keeper, works, []), keeper

    given_up, next_job, keeper = asyncio.run(scenario())
    assert given_up.failure == "browser" and next_job.ok and keeper.exhausted is None
    assert len(launched) == 3 and launched[-1].connected  # started, restarted once, then again for the next job


# -- the store's disk full ---------------------------------------------------------------------------------

SYNTHETIC = "import sys; from synthetic import store_bundle; from archiver.services import Services; " \
            "print(store_bundle(Services(sys.argv[1]), None, 1))"


def _stopped_then(disk: SmallDisk, registry: Path, point: str, meanwhile) -> subprocess.CompletedProcess:
    """A run inside the small disk's namespace, stopped at `point` while `meanwhile()` runs, then let go."""
    proc = subprocess.Popen([*disk.prefix(), *command("run", "--json", point=point, stop=True)],
                            env=env_for(registry), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_stopped(proc)
    result = meanwhile()
    os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), result


@pytest.mark.browser
def test_a_full_disk_stores_nothing_half_written_keeps_what_was_stored_and_the_next_run_completes(site, tmp_path):
    disk = SmallDisk(tmp_path / "disk", "4m")
    try:
        registry = tmp_path / "pages.yaml"
        registry.write_text(register_yaml([{"id": "short", "url": f"{site}/short.html"}], disk.path),
                            encoding="utf-8")
        made = subprocess.run([*disk.prefix(), sys.executable, "-c", SYNTHETIC, str(registry)], capture_output=True,
                              text=True, env=env_for(registry, PYTHONPATH=str(TESTS)), check=False)
        assert made.returncode == 0, made.stderr
        earlier = made.stdout.strip()
        before = snapshot(disk.seen)

        # The disk fills while the PDF is written.
        full, filler = _stopped_then(disk, registry, "archiver.bundle.pdf:build_pdf", disk.fill)
        assert full.returncode == 1, full.stderr
        assert f"archiver: no space left on the store {disk.path} while writing bundle" in full.stderr
        assert "nothing was stored" in full.stderr and "Traceback" not in full.stderr
        assert not list(disk.seen.glob("[0-9]*/.*")) and snapshot(disk.seen) == before
        assert [b.bundle_id for b in LocalStore(disk.seen).list()] == [earlier]

        # Room for the bundle, then none for the catalog beside it: stored, not catalogued, not lost.
        filler.unlink()
        full, filler = _stopped_then(disk, registry, "archiver.catalog.db:Catalog.record_bundle", disk.fill)
        assert full.returncode == 1, full.stderr
        assert f"no space left on the disk of the catalog {disk.path / 'catalog.sqlite'}" in full.stderr
        assert "the next run or `archiver sync` catalogues it" in full.stderr and "Traceback" not in full.stderr
        (stray,) = [b.bundle_id for b in LocalStore(disk.seen).list() if b.bundle_id != earlier]
        assert f"bundle {stray} is stored in" in full.stderr

        filler.unlink()  # space freed: the next run catalogues the stray and makes its own bundle
        after = archiver(registry, "run", "--json", prefix=disk.prefix())
        assert after.returncode == 0, after.stderr
        checked = archiver(registry, "bundles", "verify", "--all", "--json", prefix=disk.prefix())
        assert checked.returncode == 0, checked.stdout + checked.stderr
        verified = [r["bundle_id"] for r in json.loads(checked.stdout)]
        assert verified == [earlier, stray, json.loads(after.stdout)["bundle_id"]]
        now = snapshot(disk.seen)
        assert {path: now.get(path) for path in before} == before
    finally:
        disk.close()


# -- the catalog locked by another process -----------------------------------------------------------------

HOLD = """import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


class _Holder:
    """A second process holding SQLite's write lock on the catalog (BEGIN EXCLUSIVE) until released."""

    def __init__(self, db: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.proc.communicate("\n", timeout=10)


@pytest.mark.browser
def test_a_locked_catalog_is_waited_for_briefly_and_otherwise_stops_the_run_without_losing_its_bundle(
        site, tmp_path):
    registry, store = _setup(tmp_path, [{"id": "short", "url": f"{site}/short.html"}])
    earlier = store_bundle(Services(registry), None, 1)
    before = snapshot(store)
    db = store / "catalog.sqlite"
    point = "archiver.catalog.db:Catalog.record_bundle"  # stopped there, with its bundle stored

    def run_while_locked(hold_s: float, **env: str):
        proc = subprocess.Popen(command("run", "--json", point=point, stop=True), env=env_for(registry, **env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_stopped(proc)
        holder = _Holder(db)
        os.kill(proc.pid, signal.SIGCONT)
        try:
            proc.wait(timeout=hold_s)
        except subprocess.TimeoutExpired:
            pass
        waiting = proc.poll() is None
        return proc, holder, waiting

    # Held for 2 s, well within the 15 s a write waits: the run waits and completes.
    proc, holder, waiting = run_while_locked(2)
    holder.release()
    out, err = proc.communicate(timeout=60)
    assert waiting and proc.returncode == 0, err
    first = json.loads(out)["bundle_id"]

    # Held longer than the wait (1 s here, `?timeout=1` on the catalog's URL): the run stops, the bundle stays.
    proc, holder, _ = run_while_locked(10, ARCHIVER_CATALOG_URL=f"sqlite:///{db}?timeout=1")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert f"the catalog {db} is locked by another process (waited 1 s for its write lock" in err
    assert "Traceback" not in err
    (second,) = [b.bundle_id for b in LocalStore(store).list() if b.bundle_id not in (earlier, first)]
    assert f"bundle {second} is stored in" in err and "the next run or `archiver sync` catalogues it" in err
    assert _listed(registry) == [earlier, first]  # still locked: reading works, the stored one is not listed
    holder.release()

    synced = archiver(registry, "sync", "--json")
    assert synced.returncode == 0 and json.loads(synced.stdout)["catalogued"] == [second], synced.stderr
    assert [r["id"] for r in assert_level(registry, before)] == [earlier, first, second]


# -- corrupt and truncated manifests -----------------------------------------------------------------------

@pytest.mark.browser
def test_corrupt_manifests_are_named_by_verify_and_get_and_never_stop_list_sync_or_run(site, tmp_path):
    registry, store = _setup(tmp_path, [{"id": "short", "url": f"{site}/short.html"}])
    services = Services(registry)
    cut, garbage, fine = (store_bundle(services, None, n) for n in (1, 2, 3))
    cut_manifest = store / cut[:4] / cut / "manifest.json"
    cut_manifest.write_bytes(cut_manifest.read_bytes()[:700])
    (store / garbage[:4] / garbage / "manifest.json").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe garbage " * 20)
    stray = "20200101T000000Z-abcdef"  # stored by an interrupted run, and its manifest damaged since
    (store / "2020" / stray).mkdir(parents=True)
    (store / "2020" / stray / "manifest.json").write_text('{"bundle_id": "20200101T000000Z-abc', encoding="utf-8")

    assert _listed(registry) == [cut, garbage, fine]
    every = archiver(registry, "bundles", "verify", "--all")
    assert every.returncode == 1 and f"bundle(s) {cut}, {garbage} failed verification" in every.stderr
    reports = every.stdout.split("\nbundle ")  # each bundle's checks end with its verdict line
    assert "it ends in the middle, cut short" in reports[0] and "not UTF-8 text" in reports[1]
    assert all("FAIL  manifest readable" in r and "FAIL  manifest SHA-256 matches catalog" in r for r in reports[:2])
    assert f"{fine}: VERIFIED" in every.stdout

    got = archiver(registry, "bundles", "get", cut, "--out", str(tmp_path / "copy"))
    assert got.returncode == 1, got.stderr
    assert "DAMAGED: manifest.json has SHA-256" in got.stderr and "cut short" in got.stderr
    assert (tmp_path / "copy" / f"{cut}.pdf").is_file()  # the undamaged PDF is still handed out

    synced = archiver(registry, "sync")
    assert synced.returncode == 1 and f"NOT catalogued {stray}: stored, but its manifest is unreadable" in \
        synced.stdout, synced.stdout + synced.stderr
    after = archiver(registry, "run", "--json")
    assert after.returncode == 0, after.stderr
    assert not any("Traceback" in o.stderr for o in (every, got, synced, after))
    assert _catalogued(registry) == [cut, garbage, fine, json.loads(after.stdout)["bundle_id"]]
