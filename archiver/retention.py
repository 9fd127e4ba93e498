"""The records plan (gallringsplan) applied to single-post bundles: what may be culled, and culling it.

- decision: leads to a decision; kept, and registered (diarieförs).
- action: leads to an action; may be culled once the action is marked done (`retention done`).
- evidence: criminal material kept for a police report; may be culled once released (`retention release`).

Never culled, whatever the class: a registered bundle, a bundle under S3 Object Lock retention, and every
page bundle (scheduled or pre-change runs, which rule 10 says are registered). Planning deletes nothing;
`apply` deletes exactly the planned bundles, checking each again first, and writes each deletion to the
audit trail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from archiver.errors import StoreError
from archiver.lock import edit_lock
from archiver.recovery import repair

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    bundle_id: str
    post_class: str
    page_id: str
    url: str
    created_at: datetime
    cull: bool
    why: str
    rule: str  # which rule decided: registered, decision, evidence_kept, action_open, locked, released, done

    def as_dict(self) -> dict:
        return {"bundle_id": self.bundle_id, "class": self.post_class, "page": self.page_id, "url": self.url,
                "created_at": self.created_at, "cull": self.cull, "why": self.why, "rule": self.rule}


def decide(row: dict, retained_until) -> Decision:
    """One post bundle's fate under the plan; `retained_until(bundle_id)` asks the store about its lock."""
    post = row["post"]
    cls = post["class"]

    def verdict(cull: bool, rule: str, why: str) -> Decision:
        return Decision(row["id"], cls, post["page_id"], post["url"], row["created_at"], cull, why, rule)

    if row["registrations"]:
        return verdict(False, "registered", "registered as " + ", ".join(r["dnr"] for r in row["registrations"]))
    if cls == "decision":
        return verdict(False, "decision", "decision: kept, awaits a diarienummer")
    if cls == "evidence" and post["released_at"] is None:
        return verdict(False, "evidence_kept", "evidence: kept until released (`archiver retention release`)")
    if cls == "action" and post["done_at"] is None:
        return verdict(False, "action_open",
                       "action: kept until the action is marked done (`archiver retention done`)")
    until = retained_until(row["id"])
    if until is not None:
        return verdict(False, "locked", f"under S3 Object Lock until {until:%Y-%m-%d}")
    if cls == "evidence":
        return verdict(True, "released",
                       f"evidence released on {post['released_at']:%Y-%m-%d} by {post['released_by']}")
    return verdict(True, "done", f"action done on {post['done_at']:%Y-%m-%d} by {post['done_by']}")


def plan(catalog, store) -> list[Decision]:
    """Every single-post bundle still stored, with whether the plan allows culling it and why."""
    return [decide(row, store.retained_until) for row in catalog.list_bundles() if row["post"] is not None]


@dataclass(frozen=True)
class Outcome:
    bundle_id: str
    deleted: bool
    error: str | None = None


def apply(catalog, store, by: str, now: datetime) -> list[Outcome]:
    """Delete every bundle the plan allows to cull, each decided again just before its deletion.

    Each culling first takes the bundle out of the catalog's lists (with the trail's `bundle.deleting`, in
    one transaction), then removes the store's copy, then records `bundle.deleted`: a crash between leaves
    nothing listed that is gone, and the next `sync` or `--apply` finishes it (archiver/recovery.py). A
    store that refuses puts the bundle back in the lists (`bundle.delete_failed`).
    """
    outcomes = []
    repair(store, catalog)  # a culling or registration a crash interrupted, first
    for decision in plan(catalog, store):
        if not decision.cull:
            continue
        with edit_lock(store.root):  # against a registration made meanwhile
            again = decide(catalog.get_bundle(decision.bundle_id), store.retained_until)
            begun = catalog.begin_delete(decision.bundle_id, by, now, again.why) if again.cull else None
        if begun is None:
            why = again.why if not again.cull else "registered or culled meanwhile"
            outcomes.append(Outcome(decision.bundle_id, False, f"no longer cullable: {why}"))
            continue
        try:
            store.delete(decision.bundle_id)
        except StoreError as exc:
            log.error("bundle %s not deleted: %s", decision.bundle_id, exc)
            catalog.undo_delete(decision.bundle_id, by, str(exc))
            outcomes.append(Outcome(decision.bundle_id, False, str(exc)))
            continue
        catalog.finish_delete(decision.bundle_id, by, again.why)
        log.info("bundle %s culled: %s", decision.bundle_id, again.why)
        outcomes.append(Outcome(decision.bundle_id, True))
    return outcomes
