"""One run, as a script of named steps: select → capture → bundle → store → catalog; a post (`run_post`)
takes the same steps with one capture.

The CLI, the scheduler and the web page all call `run`; none of them captures or writes on its own.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from archiver import TOOL_NAME, __version__, recovery
from archiver.bundle import manifest as manifest_io
from archiver.bundle.imagepdf import ImagePdfs  # light: img2pdf and pikepdf are imported when used
from archiver.capture import BrowserChoice, CaptureSettings, capture_pages
from archiver.capture.batch import capture_on_live_browser, worth_retrying
from archiver.capture.browser import keep_browser
from archiver.capture.page import capture_post, visitor_user_agents
from archiver.errors import CatalogError, StoreError
from archiver.logcontext import run_id_var
from archiver.models import PageCapture, PostRequest, RunRequest, new_bundle_id, utcnow
from archiver.profile import CpuSampler, StepClock
from archiver.register.schema import PageEntry, TimestampSettings
from archiver.store import Store
from archiver.store.local import STALE_AFTER_S

if TYPE_CHECKING:  # imported on the set-up thread while Chromium starts (`_set_up`), not before
    from archiver.bundle.pdf import RunInfo
    from archiver.catalog import Catalog

log = logging.getLogger(__name__)

# What the bundle step needs (the PDF libraries, SQLAlchemy, the timestamp's ASN.1), about 0.7 s of imports:
# loaded while Chromium starts, when this process has nothing else to do.
BUNDLE_MODULES = ("archiver.bundle.pdf", "archiver.bundle.timestamp", "archiver.catalog")
WACZ_MODULES = ("wacz.main",)  # py-wacz, 0.5 s and 25 MB: only when the register asks for the WACZ


@dataclass
class RunResult:
    bundle_id: str
    location: str
    pdf: str
    manifest: str
    captures: list[PageCapture]
    timestamp: dict | None = None  # the trusted-timestamp outcome when the register configures one
    upload: dict | None = None  # S3: {"status": "uploaded"|"pending", "location", "error"}
    timings: list[dict] = field(default_factory=list)  # the run's steps, timed (archiver.profile)
    wacz: dict | None = None  # the web archive beside the PDF: {"file", "sha256", ...} (bundle.wacz)

    @property
    def failed(self) -> list[PageCapture]:
        return [c for c in self.captures if not c.ok]

    def as_dict(self) -> dict:
        return {
            "bundle_id": self.bundle_id,
            "pdf": self.pdf,
            "manifest": self.manifest,
            "pages": [{"id": c.page_id, "variant": c.variant, "status": c.status, "error": c.error,
                       "failure": c.failure} for c in self.captures],
        } | ({"wacz": {"file": self.wacz["path"], "sha256": self.wacz["sha256"], "bytes": self.wacz["bytes"]}}
             if self.wacz is not None else {}) \
          | ({"timestamp": self.timestamp} if self.timestamp is not None else {}) \
          | ({"upload": self.upload} if self.upload is not None else {})


async def _capture_all(choice: BrowserChoice, pages, settings: CaptureSettings, on_page, set_up: Callable,
                       only_keys=(), clock: StepClock | None = None):
    """Start the browser and, meanwhile on a thread, `set_up()` (imports, catalog, sync); then every capture.

    Returns the captures, the browser's version and what `set_up` returned."""
    clock = clock or StepClock()
    async with AsyncExitStack() as browser:
        with clock.step("browser start"):
            setting_up = asyncio.create_task(asyncio.to_thread(_timed, set_up))
            try:
                keeper = await browser.enter_async_context(keep_browser(choice))  # started again if it dies
            except BaseException:
                await asyncio.wait([setting_up])  # the thread cannot be stopped; its outcome no longer matters
                raise
            prepared, set_up_s = await setting_up
        clock.add_part("set-up meanwhile (imports, catalog, sync)", set_up_s, within="browser start")
        with clock.step("captures"):
            captures = await capture_pages(keeper, pages, settings, on_done=on_page, last_seconds=prepared[1],
                                           only_keys=only_keys)
        version = keeper.version
        with clock.step("browser stop"):
            await browser.aclose()
    return captures, version, prepared


def _timed(work: Callable):
    started = time.perf_counter()
    return work(), time.perf_counter() - started


def _opened(catalog: Catalog | Callable[[], Catalog]) -> Catalog:
    """The catalog itself, or the one a callable opens (Services defers opening it to the set-up thread)."""
    return catalog() if callable(catalog) else catalog


def _set_up(store: Store, catalog, wacz: bool = False) -> tuple[Catalog, dict[str, float]]:
    """The run's own start-up: the bundle step's imports, the catalog (`catalog` may be a callable that opens
    it), the `sync` step, and each page's time last run. On a thread while Chromium starts."""
    for name in (*BUNDLE_MODULES, *(WACZ_MODULES if wacz else ())):
        importlib.import_module(name)
    catalog = _opened(catalog)
    sync(store, catalog)
    return catalog, catalog.last_capture_seconds()


def run(register, request: RunRequest, *, store: Store, catalog: Catalog | Callable[[], Catalog],
        browser: BrowserChoice,
        sessions_dir: Path | None = None, on_page: Callable[[PageCapture], None] | None = None,
        profile: bool = False) -> RunResult:
    """Capture the requested pages and store one bundle of them, failed pages named in it.

    The browser starts first; the catalog (opened by `catalog()` when it is a callable) and the `sync` step
    are done meanwhile. Every step is timed into `RunResult.timings` (each page's into its capture's);
    `profile` adds CPU seconds.
    """
    clock = StepClock(CpuSampler() if profile else None, label="run")
    pages = register.select(list(request.page_ids))
    started = utcnow()
    bundle_id = new_bundle_id(started)
    run_id_var.set(bundle_id)  # every log line of this run carries its id (archiver/logcontext.py)
    log.info("run %s: %d page(s), reason %r, requested by %s", bundle_id, len(pages), request.reason,
             request.requested_by)

    with _tile_spool(bundle_id) as spool, ImagePdfs(spool) as images:
        settings = replace(CaptureSettings.from_register(register.capture, sessions_dir, record=register.bundle.wacz),
                           profile=profile, tile_spool=str(spool), run_id=bundle_id)
        log.info("capturing %d page(s) at once%s", settings.concurrency,
                 "" if register.capture.concurrency else " (one per core and one more, within memory)")

        def done(capture: PageCapture) -> None:  # its image PDF is made while the other pages are captured
            images.add(capture)
            if on_page:
                on_page(capture)

        captures, browser_version, (catalog, _) = asyncio.run(_capture_all(
            browser, pages, settings, done, lambda: _set_up(store, catalog, register.bundle.wacz), request.capture_keys,
            clock))
        info = run_info(register, bundle_id, request, started, browser_version)
        return bundle_store_catalog(register, info, captures, request.kind, store=store, catalog=catalog,
                                     completes=request.completes, clock=clock, images=images)


SPOOL_PREFIX = "archiver-tiles-"


@contextmanager
def _tile_spool(bundle_id: str) -> Iterator[Path]:
    """A folder for the run's tile PNGs until its PDF is built (so a run's memory does not grow with its
    pages), removed afterwards; ones a killed run left in the temporary folder go a day later."""
    root = Path(tempfile.gettempdir())
    for stale in root.glob(f"{SPOOL_PREFIX}*"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            continue  # another run's, gone meanwhile
    spool = Path(tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{bundle_id}-", dir=root))
    try:
        yield spool
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def run_post(register, request: PostRequest, page: PageEntry, *, store: Store,
             catalog: Catalog | Callable[[], Catalog],
             browser: BrowserChoice, sessions_dir: Path | None = None) -> RunResult:
    """Capture one post or comment thread of a registered account into its own bundle, classified by the
    records plan (the class goes into the cover, the manifest and the catalog's posts table)."""
    started = utcnow()
    bundle_id = new_bundle_id(started)
    run_id_var.set(bundle_id)
    log.info("post %s: %s (%s, class %s), requested by %s", bundle_id, request.url, page.id, request.post_class,
             request.requested_by)
    catalog = _opened(catalog)
    sync(store, catalog)
    with _tile_spool(bundle_id) as spool:
        settings = replace(CaptureSettings.from_register(register.capture, sessions_dir, record=register.bundle.wacz),
                           tile_spool=str(spool), run_id=bundle_id)
        capture, browser_version = asyncio.run(_capture_post(browser, page, request.url, settings))
        capture.post = {"class": request.post_class, **(capture.post or {"url": request.url})}
        if request.dnr:
            capture.post["dnr_at_capture"] = request.dnr
        info = run_info(register, bundle_id, request, started, browser_version, post_class=request.post_class)
        return bundle_store_catalog(register, info, [capture], request.kind, store=store, catalog=catalog)


async def _capture_post(choice: BrowserChoice, page: PageEntry, url: str, settings: CaptureSettings):
    async with keep_browser(choice) as keeper:
        user_agents = await visitor_user_agents(await keeper.get())
        notes: list[str] = []
        for attempt in range(1, max(1, settings.attempts) + 1):
            capture = await capture_on_live_browser(
                keeper, lambda live: capture_post(live, page, url, settings, user_agents), notes)
            capture.attempts = attempt
            if attempt == settings.attempts or not worth_retrying(capture):
                break
            await asyncio.sleep(settings.backoff_s * 2 ** (attempt - 1))
        capture.warnings[:0] = notes
        return capture, keeper.version


def run_info(register, bundle_id: str, request, started, browser_version: str,
              post_class: str | None = None) -> RunInfo:
    from archiver.bundle.pdf import RunInfo

    return RunInfo(
        bundle_id=bundle_id, organisation=register.organisation, reason=request.reason,
        requested_by=request.requested_by, started_at=started, finished_at=utcnow(),
        tool=f"{TOOL_NAME} {__version__}", browser=f"Chromium {browser_version}", pdfa=register.bundle.pdfa,
        post_class=post_class,
    )


def bundle_store_catalog(register, run_info: RunInfo, captures: list[PageCapture], kind: str, *, store: Store,
                          catalog: Catalog, completes: str | None = None,
                          clock: StepClock | None = None, images: ImagePdfs | None = None) -> RunResult:
    """Steps: bundle (PDF/A, manifest, timestamp) in a hidden staging folder → store → catalog → upload (S3).

    A failure before the store's rename leaves nothing (the staging folder goes); one after it leaves a
    complete bundle the catalog lacks, which the next run's `sync` step catalogues from its manifest.
    """
    bundle_id = run_info.bundle_id
    clock = clock or StepClock()
    store.sweep_stale()
    try:
        staging = store.staging_dir(bundle_id)
        try:
            pdf_path = staging / f"{bundle_id}.pdf"
            from archiver.bundle.pdf import build_pdf

            wacz = _web_archive(register, run_info, captures, staging, clock)
            run_info = replace(run_info, wacz=wacz is not None)  # the cover says whether there is one
            layout = build_pdf(run_info, captures, pdf_path, clock, images)
            with clock.step("manifest"):
                manifest = manifest_io.build_manifest(run_info, captures, pdf_path, layout.pages,
                                                      layout.first_pages, layout.cover_pages, completes=completes,
                                                      wacz=wacz)
                manifest_path = staging / manifest_io.MANIFEST_NAME
                manifest_path.write_bytes(manifest_io.dump(manifest))
            with clock.step("timestamp"):
                stamp = trusted_timestamp(register.bundle.timestamp, manifest, manifest_path)
                manifest_sha = manifest_io.sha256_file(manifest_path)
            with clock.step("store"):
                stored = store.put(bundle_id, staging)
        except BaseException:
            store.discard(staging)
            raise
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        captured = sum(c.ok for c in captures)
        raise StoreError(f"no space left on the store {store.root} while writing bundle {bundle_id} "
                         f"({exc.strerror}): nothing was stored, the {captured} page(s) captured are not kept; "
                         "free some space and run again") from exc

    try:
        with clock.step("catalog"):
            catalog.record_bundle(manifest, kind, store.name, stored.location, manifest_sha)
    except CatalogError as exc:
        raise CatalogError(f"bundle {bundle_id} is stored in {stored.location}, but {exc}; nothing is lost: "
                           "the next run or `archiver sync` catalogues it") from exc
    upload = None
    if store.name == "s3":  # uploaded once catalogued: a run killed mid-upload leaves it listed, pending
        with clock.step("upload"):
            stored = store.send(bundle_id)
        upload = {"status": "pending" if stored.pending else "uploaded", "location": stored.location,
                  "error": stored.error}
    def where(name: str) -> str:
        return stored.location + name if stored.location.startswith("s3://") else str(Path(stored.location) / name)

    result = RunResult(bundle_id, stored.location, where(pdf_path.name), where(manifest_io.MANIFEST_NAME), captures,
                       stamp, upload, clock.as_list())
    if wacz is not None:
        result.wacz = wacz | {"path": where(wacz["file"])}
    return result


def _web_archive(register, run_info: RunInfo, captures: list[PageCapture], staging: Path,
                 clock: StepClock) -> dict | None:
    """Step: the bundle's WACZ from the captures' recordings, when the register asks for one.

    One py-wacz cannot build does not cost the bundle: it is stored without it (the PDF/A is the record),
    the manifest says nothing of recordings it does not hold, and a warning says why."""
    if not register.bundle.wacz:
        return None
    from archiver.bundle.wacz import WaczError, build_wacz

    with clock.step("wacz"):
        try:
            return build_wacz(captures, staging / f"{run_info.bundle_id}.wacz",
                              f"{run_info.organisation}: {run_info.bundle_id}")
        except WaczError as exc:
            log.warning("bundle %s is stored WITHOUT its web archive: %s", run_info.bundle_id, exc)
            for capture in captures:
                capture.recording = None
                capture.warnings.append(f"the web archive of this visit could not be built: {exc}")
            return None


def catalog_strays(store: Store, catalog: Catalog, unreadable: dict[str, str] | None = None) -> list[str]:
    """Step: a bundle the store holds but the catalog lacks (the process died between the store's rename and
    the catalog entry) is catalogued from its own manifest, so it is listed, verifiable and due-counted.

    One whose manifest cannot be read is left alone (nothing stored is ever changed) and named in
    `unreadable` with what is wrong; the others are catalogued all the same.
    """
    spool = getattr(store, "spool", store)  # S3 keeps such a bundle in its local spool until it is uploaded
    known = catalog.bundle_ids()
    found = []
    for stored in spool.list():
        if stored.bundle_id in known or manifest_io.MANIFEST_NAME not in stored.files:
            continue
        manifest_path = Path(stored.location) / manifest_io.MANIFEST_NAME
        try:
            manifest = manifest_io.load_checked(manifest_path)
            if manifest["bundle_id"] != stored.bundle_id:
                raise ValueError(f"it names another bundle, {manifest['bundle_id']!r}")
        except (OSError, ValueError) as exc:
            log.warning("bundle %s is stored but not catalogued, and its manifest is unreadable: %s",
                        stored.bundle_id, exc)
            if unreadable is not None:
                unreadable[stored.bundle_id] = f"{manifest_path}: {exc}"
            continue
        kind = "post" if manifest.get("post") else RunRequest(
            reason=manifest["reason"], completes=manifest.get("completes")).kind
        location = stored.location if spool is store else store.location(stored.bundle_id)
        catalog.record_bundle(manifest, kind, store.name, location, manifest_io.sha256_file(manifest_path))
        log.warning("bundle %s was stored but not catalogued (an interrupted run); catalogued it now",
                    stored.bundle_id)
        found.append(stored.bundle_id)
    return found


def sync(store: Store, catalog: Catalog) -> dict:
    """Step (first in every run, and `archiver sync` alone): complete the registrations and cullings a crash
    left half-done (archiver/recovery.py), catalogue strays, then a store that uploads (S3) uploads the
    bundles an earlier run left pending in its local spool. One that still fails stays pending and does not
    stop the run. `repaired` and `unreadable` are there only when something was."""
    repaired = recovery.repair(store, catalog)
    store.sweep_stale()
    unreadable: dict[str, str] = {}
    strays = catalog_strays(store, catalog, unreadable)
    uploads = store.sync() if hasattr(store, "sync") else {}
    for bundle_id, error in uploads.items():
        if error is None:
            log.info("pending bundle %s uploaded", bundle_id)
    return {"catalogued": strays, "uploaded": [b for b, error in uploads.items() if error is None],
            "pending": {b: error for b, error in uploads.items() if error is not None}} \
        | ({"repaired": [r.as_dict() for r in repaired]} if repaired else {}) \
        | ({"unreadable": unreadable} if unreadable else {})


def trusted_timestamp(settings: TimestampSettings | None, manifest: dict,
                       manifest_path: Path) -> dict | None:
    """Step: an RFC 3161 token over manifest.json's bytes from the register's TSA, stored beside it as
    manifest.json.tsr.

    The token covers the manifest, so the manifest can only say that one was asked for (`trusted_timestamp`),
    never what it holds. A TSA that fails or answers wrongly does not cost the run: the bundle is stored
    without a token, the manifest records the error in place of one (there is no token to contradict) and a
    warning is logged; the run's exit code still follows the pages.
    """
    if settings is None:
        return None
    from archiver.bundle import timestamp

    manifest["trusted_timestamp"] = timestamp.declaration(settings.url)
    manifest_path.write_bytes(manifest_io.dump(manifest))
    try:
        stamp = timestamp.stamp_file(manifest_path, settings.url, timeout_s=settings.timeout_s,
                                     ca_file=settings.ca_file)
    except timestamp.TimestampError as exc:
        log.warning("bundle %s is stored WITHOUT a trusted timestamp: %s", manifest["bundle_id"], exc)
        manifest["trusted_timestamp"].update(token_file=None, error=str(exc))
        manifest_path.write_bytes(manifest_io.dump(manifest))
        return {"status": "missing", "error": str(exc)}
    log.info("trusted timestamp %s from %s", stamp.as_dict()["gen_time"], stamp.tsa)
    return {"status": "ok", "file": timestamp.TOKEN_NAME, **stamp.as_dict()}
