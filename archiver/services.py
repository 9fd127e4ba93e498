"""What every front shares: the register, store and catalog one register names, and the actions people take
on them (a run under the lock, registering a diarienummer, verifying a bundle).

The CLI, the scheduler and the web page hold a `Services` and call these methods; none of them wires the
pipeline, the store or the catalog on its own.
"""

from __future__ import annotations

import hashlib
import logging
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from archiver.errors import ArchiverError, BadInputError, VerificationError
from archiver.lock import edit_lock, store_lock
from archiver.models import POST_CLASSES, PostRequest, RunRequest, iso, utcnow
from archiver.registration import RegistrationRequest
from archiver.schedule import DueStatus, due_status
from archiver.store.local import LocalStore, check_bundle_id

if TYPE_CHECKING:  # the pipeline (Chromium's driver, the PDF libraries), the catalog (SQLAlchemy) and S3
    # (boto3) are imported when first used, so `archiver pages check` starts in a fraction of a second
    from archiver.catalog import Catalog
    from archiver.pipeline import RunResult
    from archiver.register import Register
    from archiver.store import S3Store

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    result: RunResult
    notified: dict | None  # the e-mail outcome, None when the register configures no mail


class Services:
    """Built lazily, so `pages check` works without a store and a bad register fails before any work."""

    def __init__(self, registry: str | Path, workdir: str | Path | None = None):
        self.registry_path = Path(registry)
        # What a relative `storage.local` is relative to: the working directory of the command, or, for a
        # queued run's jobs, of the command that queued it (a worker may run anywhere).
        self.workdir = Path(workdir) if workdir is not None else Path.cwd()

    @property
    def local_root(self) -> Path:
        """The register's `storage.local` (the store, or S3's spool), as an absolute path."""
        return (self.workdir / self.register.storage.local).resolve()

    @cached_property
    def register(self) -> Register:
        from archiver.register import load_register

        return load_register(self.registry_path)

    @cached_property
    def store(self) -> LocalStore | S3Store:
        """The local store, or S3 with the local store as its spool when the register has storage.s3."""
        local = LocalStore(self.local_root)
        s3 = self.register.storage.s3
        if s3 is None:
            return local
        from archiver.store.s3 import S3Store

        return S3Store(s3, local)

    @property
    def catalog_url(self) -> str:
        """ARCHIVER_CATALOG_URL (a PostgreSQL service's), else the SQLite file in the register's store."""
        from archiver.catalog import catalog_url_for

        return os.environ.get("ARCHIVER_CATALOG_URL") or catalog_url_for(self.store.root)

    @cached_property
    def catalog(self) -> Catalog:
        from archiver.catalog import Catalog

        return Catalog(self.catalog_url, org=self.register.org_id)

    def lock(self) -> AbstractContextManager[Path]:
        """The store's run lock: one run at a time; raises BusyError (exit 75) at once when taken."""
        return store_lock(self.local_root)

    def due(self) -> DueStatus:
        """Whether a scheduled run is due now (`run --if-due`, the web page's overview)."""
        register = self.register
        last = self.catalog.last_complete_scheduled_run()
        return due_status(last[0] if last else None, last[1] if last else set(), {p.id for p in register.pages},
                          register.schedule.interval_months, utcnow())

    def run(self, request: RunRequest, on_page=None, profile: bool = False) -> RunOutcome:
        """One run through the pipeline, then the e-mail. The caller holds `lock()`. `profile`: CPU seconds
        per step too (archiver.profile)."""
        from archiver import pipeline
        from archiver.capture import find_browser
        from archiver.capture.session import sessions_dir
        from archiver.notify import notify_run

        register = self.register
        # The catalog is opened on the pipeline's set-up thread while Chromium starts.
        result = pipeline.run(register, request, store=self.store, catalog=lambda: self.catalog, browser=find_browser(),
                              sessions_dir=sessions_dir(), on_page=on_page, profile=profile)
        self.catalog.audit(request.requested_by, "bundle.created", result.bundle_id,
                           {"reason": request.reason, "failed": [c.key for c in result.failed]})
        changes = (self.changes_since_last_scheduled(result.bundle_id)
                   if request.kind == "scheduled" and register.notify is not None else None)
        if request.kind == "scheduled" and register.collect.bundle_with_scheduled_runs:
            self.collection_bundle_for_run(result.bundle_id)
        return RunOutcome(result, notify_run(register, request, result, changes))  # a mail problem never raises

    def post(self, request: PostRequest, page_id: str | None = None) -> RunOutcome:
        """One post or thread of a registered account into its own bundle. The caller holds `lock()`.

        The URL is checked against the register first (BadInputError, exit 2, before any browser starts);
        a diarienummer given with it is recorded at once, like `register`.
        """
        from archiver import pipeline
        from archiver.capture import find_browser
        from archiver.capture.session import sessions_dir
        from archiver.notify import notify_run
        from archiver.register.rules import page_for_post

        if request.post_class not in POST_CLASSES:
            raise BadInputError(f"class must be one of {', '.join(POST_CLASSES)} (got {request.post_class!r})")
        if not request.reason.strip() or not request.requested_by.strip():
            raise BadInputError("the reason and who asks for the capture must not be empty")
        register = self.register
        page = page_for_post(register, request.url, page_id)
        result = pipeline.run_post(register, request, page, store=self.store, catalog=self.catalog,
                                   browser=find_browser(), sessions_dir=sessions_dir())
        self.catalog.audit(request.requested_by, "post.captured", result.bundle_id,
                           {"class": request.post_class, "url": request.url, "page": page.id,
                            "status": result.captures[0].status})
        if request.dnr and not result.failed:
            self.register_bundle(result.bundle_id, RegistrationRequest(request.requested_by, request.dnr))
        return RunOutcome(result, notify_run(register, request, result))

    def sync(self) -> dict:
        """Bring the store and catalog level without a capture: catalogue bundles stored but not catalogued,
        then upload what waits in the S3 spool. The caller holds `lock()`."""
        from archiver import pipeline

        return pipeline.sync(self.store, self.catalog)

    def register_bundle(self, bundle_id: str, request: RegistrationRequest) -> dict:
        """Record a registration, a document in a case (archiver/registration.py), in the manifest and the
        catalog (with who and when, in the audit trail).

        In an order a crash at any point can be repaired from (archiver/recovery.py): the trail announces it
        with the SHA-256 the new manifest will have; the manifest is replaced atomically (the commit point;
        the PDF is never rewritten); one catalog transaction adds the registration, the case it opens and
        that hash. A case the bundle is already a document of changes nothing, so the same command again
        after a crash is safe.
        """
        from archiver import recovery, registration
        from archiver.bundle import manifest as manifest_io

        check_bundle_id(bundle_id)
        if not request.by.strip() or (request.dnr is not None and not request.dnr.strip()):
            raise BadInputError("the diarienummer and who registers it must not be empty")
        catalog, store, settings = self.catalog, self.store, self.register.registration
        with edit_lock(store.root):
            recovery.finish_interrupted(store, catalog, bundle_id)
            row = catalog.get_bundle(bundle_id)
            manifest_path = store.path(bundle_id, manifest_io.MANIFEST_NAME)
            current = manifest_io.sha256_file(manifest_path)
            if current != row["manifest_sha256"]:
                raise VerificationError(
                    f"bundle {bundle_id} is not registered: its stored manifest {manifest_path} is not the one the "
                    f"catalog recorded (SHA-256 {current}, catalog {row['manifest_sha256']}); "
                    f"`archiver bundles verify {bundle_id}` says more")
            manifest = manifest_io.load(manifest_path)
            plan = registration.plan(
                replace(request, by=request.by.strip()), manifest, collective=settings.collective_case,
                default_title=settings.case_title, default_classification=settings.classification,
                case_for=catalog.case, collective_case_for=catalog.collective_case,
                documents_of=lambda dnr: {n: b for n, b in catalog.case_documents(dnr).items() if b != bundle_id})
            for earlier in row["registrations"]:
                if earlier["dnr"] == plan.entry["dnr"]:
                    log.info("bundle %s was already registered as %s", bundle_id, earlier["dnr"])
                    return {key: earlier[key] for key in ("dnr", "registered_by", "registered_at",
                                                          *registration.CASE_FIELDS)} | {"already": True}
            at = utcnow()
            entry = plan.entry | {"registered_at": iso(at)}
            manifest.setdefault("registrations", []).append(entry)
            data = manifest_io.dump(manifest)
            new_sha = hashlib.sha256(data).hexdigest()
            catalog.audit(request.by, recovery.REGISTERING, bundle_id,
                          {"dnr": entry["dnr"], "at": at.isoformat(), "manifest_sha256": new_sha, "entry": entry,
                           "case": plan.new_case})
            store.replace_manifest(bundle_id, data)
            stored = catalog.add_registration(bundle_id, entry, at, new_sha, case=plan.new_case)
        log.info("bundle %s registered as document %s of %s by %s%s", bundle_id, entry["document_no"], entry["dnr"],
                 entry["registered_by"], "".join(f"; {note}" for note in plan.notes))
        return stored | {"opened_case": plan.new_case is not None}

    def bundle_folder(self, bundle_id: str) -> Path:
        """Where a catalogued bundle's files are on this machine (an S3 bundle is fetched first)."""
        return self._folder_of(self.catalog.get_bundle(check_bundle_id(bundle_id)))

    def _folder_of(self, row: dict) -> Path:
        return self.store.local_copy(row["id"]) if row["location"].startswith("s3://") else Path(row["location"])

    def _previous_scheduled(self, bundle_id: str) -> tuple[dict | None, dict | None]:
        """A scheduled bundle's catalog row and the scheduled bundle before it (None where there is none)."""
        rows = [r for r in self.catalog.list_bundles() if r["kind"] == "scheduled"]
        row = next((r for r in rows if r["id"] == bundle_id), None)
        earlier = [r for r in rows if row is not None and r["created_at"] < row["created_at"]]
        return row, earlier[-1] if earlier else None

    def compare(self, old_id: str, new_id: str, *, page: str | None = None, out_dir: Path | None = None,
                by: str = "") -> tuple:
        """Compare two bundles (archiver/compare), both verified first, into a PDF/A report in `out_dir`
        (default the store's `reports/` folder) under a name no earlier report has. Returns (comparison,
        report path). A bundle that does not verify is a VerificationError (exit 1): nothing is compared."""
        from archiver.compare import compare_folders
        from archiver.compare.report import crops, write_report

        if old_id == new_id:
            raise BadInputError(f"both bundles are {old_id}: give two different bundles")
        for bundle_id in (old_id, new_id):
            result = self.verify(bundle_id)
            if not result.ok:
                failed = "; ".join(c.name for c in result.checks if not c.ok)
                raise VerificationError(f"bundle {bundle_id} is not what was stored ({failed}); nothing was "
                                        f"compared. `archiver bundles verify {bundle_id}` says more")
        comparison, shown = compare_folders(self.bundle_folder(old_id), self.bundle_folder(new_id), page,
                                            on_images=crops)
        out = Path(out_dir) if out_dir is not None else self.local_root / "reports"
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"cannot write the report into {out}: {exc.strerror}") from exc
        stem = f"jamforelse-{old_id}-{new_id}" + (f"-{page}" if page else "")
        for n in range(1, 1000):  # an earlier report is never overwritten, nor one written meanwhile
            dest = out / (f"{stem}.pdf" if n == 1 else f"{stem}-{n}.pdf")
            if dest.exists():
                continue
            try:
                write_report(comparison, shown, dest, self.register.bundle.pdfa)
                break
            except FileExistsError:
                continue
        else:
            raise BadInputError(f"{out} already holds 999 reports of {stem}; move some away")
        self.catalog.audit(by or "archiver", "bundles.compared", new_id, {"old": old_id, "report": str(dest),
                                                                          "page": page})
        return comparison, dest

    def changes_since_last_scheduled(self, bundle_id: str) -> dict | None:
        """For the mail after a scheduled run: what changed since the previous scheduled bundle (pages whose
        capture changed, posts gone), with the comparison's report. None when there is no earlier one; a
        comparison that cannot be made is {"error"}: the mail says so and the run is not affected."""
        _row, previous = self._previous_scheduled(bundle_id)
        if previous is None:
            return None
        since = previous["id"]
        try:
            comparison, report = self.compare(since, bundle_id, by="archiver (schemalagd körning)")
        except ArchiverError as exc:
            log.warning("bundle %s: not compared with %s for the mail: %s", bundle_id, since, exc)
            return {"since": since, "error": str(exc)}
        return {"since": since, "report": str(report), "pages": [
            {"key": p.key, "url": p.url, "changed_ratio": p.pixels.changed_ratio, "regions": len(p.pixels.regions),
             "posts_removed": p.posts.removed, "posts_added": len(p.posts.added)}
            for p in comparison.pages if not p.unchanged]}

    def collect(self, page_ids: tuple[str, ...] = ()) -> list[dict]:
        """One API collection of each page with `api:` (archiver/collect); a mail when one failed."""
        from archiver.collect import collect_pages
        from archiver.notify import notify_collection

        outcomes = collect_pages(self, page_ids)
        notify_collection(self.register, outcomes)  # a mail problem never raises
        return outcomes

    def collection_bundle_for_run(self, bundle_id: str) -> dict | None:
        """After a scheduled run (`collect: {bundle_with_scheduled_runs: true}`): a collection bundle of the
        posts published since the previous scheduled run (or the schedule's interval), until this one began.
        Nothing to bundle, or a failure, is logged and never affects the run."""
        from archiver.collect.bundle import make_bundle

        row, previous = self._previous_scheduled(bundle_id)
        if row is None:
            return None
        until = row["started_at"]
        since = previous["started_at"] if previous else until - timedelta(
            days=round(30.44 * self.register.schedule.interval_months))
        try:
            return make_bundle(self, (), since, until, "scheduler")
        except ArchiverError as exc:
            log.warning("no collection bundle with scheduled run %s: %s", bundle_id, exc)
            return None

    def check_tokens(self, page_ids: tuple[str, ...] = ()) -> list[dict]:
        """Whether each page's API token still works (`collect --check`); a mail when one does not."""
        from archiver.collect import check_tokens
        from archiver.notify import notify_collection

        found = check_tokens(self, page_ids)
        notify_collection(self.register, [{"status": "ok" if f["ok"] else "failed", **f} for f in found])
        return found

    def verify(self, bundle_id: str):
        """Verify a stored bundle against its manifest and the catalog (an S3 bundle is fetched first)."""
        from archiver.bundle.verify import verify_bundle

        row = self.catalog.get_bundle(check_bundle_id(bundle_id))
        stamp = self.register.bundle.timestamp
        return verify_bundle(self._folder_of(row), row, timestamp_ca=stamp.ca_file if stamp else None)
