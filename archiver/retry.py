"""`run --retry-failed BUNDLE`: which captures of a stored bundle to try again, as a run request.

The new bundle records the bundle it completes (`completes` in its manifest and in the catalog's runs
table). A retry of a retry completes the same first bundle, so a chain always points at its start, and
captures that an earlier retry already got are not captured again.
"""

from __future__ import annotations

from dataclasses import dataclass

from archiver.models import RunRequest


@dataclass(frozen=True)
class RetryPlan:
    bundle_id: str  # the bundle named on the command line
    completes: str  # the first bundle of the chain, which the new one completes
    failed: tuple[str, ...]  # capture keys ("id" or "id.mobile") still without a good capture
    dropped: tuple[str, ...]  # of those, pages no longer in the register: not retried
    request: RunRequest | None  # None: nothing to retry

    def as_dict(self) -> dict:
        return {"retry_of": self.bundle_id, "completes": self.completes, "failed": list(self.failed),
                "not_in_register": list(self.dropped), "nothing_to_retry": self.request is None}


def plan_retry(catalog, register, bundle_id: str, requested_by: str, reason: str | None = None) -> RetryPlan:
    """The captures of `bundle_id` that failed and were not captured by a later retry; raises
    NotFoundError (exit 2) for a bundle the catalog does not know."""
    row = catalog.get_bundle(bundle_id)
    first_id = row.get("completes") or bundle_id
    first = row if first_id == bundle_id else catalog.find_bundle(first_id) or row
    done = {page["page_id"] for other in catalog.list_bundles() if other.get("completes") == first_id
            for page in other["pages"] if page["status"] == "ok"}
    failed = tuple(p["page_id"] for p in row["pages"] if p["status"] != "ok" and p["page_id"] not in done)
    known = {page.id for page in register.pages}
    keep = tuple(key for key in failed if key.split(".")[0] in known)
    dropped = tuple(key for key in failed if key not in keep)
    request = None
    if keep:
        why = reason.strip() if reason and reason.strip() else first["reason"]
        request = RunRequest(reason=f"retry of {first_id}: {why}", requested_by=requested_by,
                             page_ids=tuple(dict.fromkeys(key.split(".")[0] for key in keep)),
                             capture_keys=keep, completes=first_id)
    return RetryPlan(bundle_id, first_id, failed, dropped, request)
