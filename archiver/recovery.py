"""Completing what a crash left half-done, from what is on disk and the audit trail.

Two changes a person makes touch two places, so a process killed between them leaves the two disagreeing:

- **Registering** (`archiver register`, the web page): the trail first records `bundle.registering` with the
  diarienummer and the SHA-256 the new manifest will have; then the manifest is replaced (the commit point:
  what the stored bundle says); then one catalog transaction adds the registration and the manifest's new
  hash (`bundle.registered`). Repair: a stored manifest with the announced hash is a registration that
  happened, so the catalog is completed; a manifest still as catalogued is one that never happened, so the
  intent is closed as `bundle.register_abandoned` (the person registers again; nothing was half done).
  Anything else (a manifest changed otherwise) is left for `bundles verify` to report: repair never makes
  the catalog agree with bytes it cannot account for.
- **Culling** (`retention --apply`): one catalog transaction takes the bundle out of the lists and records
  `bundle.deleting`; then the store's copy is removed; then `bundle.deleted`. Repair removes what is left
  of the store's copy and records `bundle.deleted`; if the store refuses, the bundle is listed again
  (`bundle.delete_failed`), as when `--apply` itself fails.

Every repair is written to the trail under the name of the person whose action it completes, saying it
was completed after an interruption. Runs repair first (the `sync` step), as do `archiver sync`,
`register` and `retention --apply`; all of it under the store's edit lock (`archiver.lock.edit_lock`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archiver.bundle import manifest as manifest_io
from archiver.errors import NotFoundError, StoreError
from archiver.fileio import leftover_temps
from archiver.lock import edit_lock

log = logging.getLogger(__name__)

REGISTERING = "bundle.registering"
REGISTER_CLOSERS = ("bundle.registered", "bundle.register_abandoned")
DELETING = "bundle.deleting"
DELETE_CLOSERS = ("bundle.deleted", "bundle.delete_failed")
REPAIRED = "completed after the command that began it was interrupted"


@dataclass(frozen=True)
class Repair:
    bundle_id: str
    action: str  # "register" | "delete"
    outcome: str  # "completed" | "abandoned" | "restored" | "unresolved"
    detail: str

    def as_dict(self) -> dict:
        return {"bundle_id": self.bundle_id, "action": self.action, "outcome": self.outcome, "detail": self.detail}


def repair(store, catalog) -> list[Repair]:
    """Every registration and culling a crash left half-done, completed or closed, under the store's edit
    lock; the lock (and its file) is taken only when the trail shows something to repair."""
    if not (catalog.open_intents(REGISTERING, REGISTER_CLOSERS) or catalog.open_intents(DELETING, DELETE_CLOSERS)):
        return []
    with edit_lock(store.root):
        return finish_interrupted(store, catalog)


def finish_interrupted(store, catalog, bundle_id: str | None = None) -> list[Repair]:
    """Every registration and culling a crash left half-done (or only those of `bundle_id`), completed or
    closed. The caller holds the store's edit lock."""
    return finish_registrations(store, catalog, bundle_id) + finish_deletions(store, catalog, bundle_id)


def _stored_manifest_sha(store, bundle_id: str) -> str | None:
    try:
        return manifest_io.sha256_file(store.path(bundle_id, manifest_io.MANIFEST_NAME))
    except (NotFoundError, StoreError, OSError) as exc:
        log.warning("bundle %s: cannot read its stored manifest: %s", bundle_id, exc)
        return None


def _remove_temps(store, bundle_id: str) -> None:
    """A manifest's temporary copy a crash left inside the bundle folder (before its rename) goes."""
    stored = getattr(store, "spool", store).find(bundle_id)  # S3 writes a manifest in place only while spooled
    if stored is None:
        return
    for tmp in leftover_temps(Path(stored.location) / manifest_io.MANIFEST_NAME):
        tmp.unlink(missing_ok=True)
        log.info("removed %s, left by an interrupted registration", tmp)


def finish_registrations(store, catalog, bundle_id: str | None = None) -> list[Repair]:
    repairs = []
    for intent in catalog.open_intents(REGISTERING, REGISTER_CLOSERS):
        target, by, detail = intent["bundle_id"], intent["actor"], intent["detail"]
        if bundle_id is not None and target != bundle_id:
            continue
        dnr = detail.get("dnr")
        row = catalog.find_bundle(target)
        stored = None
        if row is not None:
            _remove_temps(store, target)
            stored = _stored_manifest_sha(store, target)
        if stored is not None and stored == detail.get("manifest_sha256"):
            entry = detail.get("entry") or {"dnr": dnr, "registered_by": by}  # older versions announced the dnr only
            catalog.add_registration(target, entry, datetime.fromisoformat(detail["at"]), stored,
                                     {"repaired": REPAIRED}, case=detail.get("case"))
            repair = Repair(target, "register", "completed",
                            f"registered as {dnr} by {by}: the manifest already said so, the catalog now does too")
        elif row is None or stored == row["manifest_sha256"]:
            why = "interrupted before the manifest was written" if row is not None else "the bundle was culled"
            catalog.audit(by, "bundle.register_abandoned", target,
                          {"dnr": dnr, "why": f"{why}; nothing was registered"})
            repair = Repair(target, "register", "abandoned", f"{dnr} by {by}: {why}; nothing was registered")
        else:
            repair = Repair(target, "register", "unresolved",
                            f"the stored manifest matches neither the catalog nor the registration of {dnr} "
                            "that was begun; `archiver bundles verify` says more")
        (log.error if repair.outcome == "unresolved" else log.warning)(
            "bundle %s: interrupted registration %s: %s", target, repair.outcome, repair.detail)
        repairs.append(repair)
    return repairs


def finish_deletions(store, catalog, bundle_id: str | None = None) -> list[Repair]:
    repairs = []
    for intent in catalog.open_intents(DELETING, DELETE_CLOSERS):
        target, by = intent["bundle_id"], intent["actor"]
        why = intent["detail"].get("why", "")
        if bundle_id is not None and target != bundle_id:
            continue
        try:
            row = catalog.get_bundle(target, include_deleted=True)
        except NotFoundError:
            continue
        if row["deleted_at"] is None and store.find(target) is not None:
            # Begun by a version that wrote the catalog last, and stopped before the store: still all there.
            catalog.audit(by, "bundle.delete_failed", target,
                          {"error": "interrupted before the bundle left the store; it is kept"})
            repairs.append(Repair(target, "delete", "restored", "interrupted before it left the store; kept"))
            continue
        if row["deleted_at"] is None:
            catalog.begin_delete(target, by, intent["at"], why)
        try:
            store.delete(target)
        except StoreError as exc:
            catalog.undo_delete(target, by, str(exc))
            repairs.append(Repair(target, "delete", "restored", f"the store refused to delete it: {exc}"))
            log.error("bundle %s: interrupted culling could not be completed, it is listed again: %s", target, exc)
            continue
        catalog.finish_delete(target, by, why, {"repaired": REPAIRED})
        repairs.append(Repair(target, "delete", "completed", f"culled by {by}: {why}"))
        log.warning("bundle %s: interrupted culling completed", target)
    return repairs
