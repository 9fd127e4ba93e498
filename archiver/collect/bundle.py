"""A collection as a registrable bundle (`archiver collect --bundle --since DATE --until DATE`).

Every post the collections got that was published in the period, with its whole thread, rendered as a
PDF/A (render.py); beside it every version of every item exactly as received (`raw-<platform>-<id>-<n>.json`,
whose SHA-256 is the catalog's) and every attachment (`media-<sha256>`), each named in manifest.json with
its SHA-256 and size. Then the same steps as a capture's bundle: a trusted timestamp when the register has
one, the store (staging folder renamed into place), the catalog (kind `collection`); `bundles verify`
checks every file's hash, `register` and `bundles export` take it like any bundle.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from pathlib import Path

from archiver import TOOL_NAME, __version__
from archiver.bundle import manifest as manifest_io
from archiver.collect import api_pages
from archiver.collect.render import render
from archiver.errors import BadInputError
from archiver.models import iso, new_bundle_id, utcnow

log = logging.getLogger(__name__)


def _safe(item_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", item_id)


def _write(staging: Path, rel: str, data: bytes, files: list[dict], **facts) -> None:
    """One file into the (flat: stores and S3 keep a bundle as one folder of files) staging folder."""
    target = staging / rel
    if target.exists():
        return  # the same attachment on two items: one file
    target.write_bytes(data)
    files.append({"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), **facts})


def make_bundle(services, page_ids: tuple[str, ...], since: datetime, until: datetime, by: str) -> dict:
    """Build, store and catalogue the collection bundle of the period [since, until)."""
    from archiver.pipeline import trusted_timestamp

    if until <= since:
        raise BadInputError(f"--until ({until:%Y-%m-%d}) must be after --since ({since:%Y-%m-%d})")
    register, catalog, store = services.register, services.catalog, services.store
    pages = api_pages(register, page_ids)
    started = utcnow()
    rows = [r for p in pages for r in catalog.collected(p.id)]
    in_period = {r["item_id"] for r in rows if r["kind"] == "post" and r["created_at"] is not None
                 and since <= r["created_at"] < until}
    items = [r for r in rows if r["item_id"] in in_period or (r["kind"] != "post" and r["post_id"] in in_period)]
    if not in_period:
        raise BadInputError(f"no collected post of {', '.join(p.id for p in pages)} was published between "
                            f"{since:%Y-%m-%d} and {until:%Y-%m-%d}; run `archiver collect` first")
    history = {r["item_id"]: catalog.item_history(r["platform"], r["item_id"]) for r in items}
    files_by_item: dict[str, list[dict]] = {}
    for f in catalog.collected_files():
        files_by_item.setdefault(f["item_id"], []).append(f)
    bundle_id = new_bundle_id(started)
    store.sweep_stale()
    staging = store.staging_dir(bundle_id)
    try:
        files: list[dict] = []
        images: dict[str, list[bytes]] = {}
        for row in items:
            for number, version in enumerate(history[row["item_id"]], 1):
                rel = f"raw-{row['platform']}-{_safe(row['item_id'])}-{number}.json"
                _write(staging, rel, version["raw"].encode("utf-8"), files, role="raw", item=row["item_id"],
                       seen_at=iso(version["seen_at"]))
                if files[-1]["sha256"] != version["sha256"]:
                    raise BadInputError(f"the catalog's version {number} of {row['item_id']} does not match its "
                                        "SHA-256; the catalog was changed")
            for stored in files_by_item.get(row["item_id"], []):
                data = (services.local_root / stored["path"]).read_bytes()
                if hashlib.sha256(data).hexdigest() != stored["sha256"]:
                    raise BadInputError(f"{stored['path']} does not match its SHA-256 in the catalog")
                _write(staging, f"media-{stored['sha256']}", data, files, role="media", item=row["item_id"],
                       url=stored["url"], media_type=stored["media_type"])
                images.setdefault(row["item_id"], []).append(data)
        pdf_path = staging / f"{bundle_id}.pdf"
        described = [{"id": p.id, "platform": p.platform, "url": p.url, "account": p.api.id} for p in pages]
        pdf_pages = render(pdf_path, organisation=register.organisation, pages=described, period=(since, until),
                           items=items, history=history, images=images, pdfa=register.bundle.pdfa,
                           bundle_id=bundle_id)
        finished = utcnow()
        manifest = {
            "manifest_version": manifest_io.MANIFEST_VERSION, "kind": "collection", "bundle_id": bundle_id,
            "organisation": register.organisation, "reason": f"collection {since:%Y-%m-%d}–{until:%Y-%m-%d}",
            "requested_by": by, "completes": None, "run_start": iso(started), "run_end": iso(finished),
            "tool": {"name": TOOL_NAME, "version": __version__}, "browser": None,
            "period": {"since": iso(since), "until": iso(until)},
            "pdf": {"file": pdf_path.name, "sha256": manifest_io.sha256_file(pdf_path),
                    "bytes": pdf_path.stat().st_size, "pages": pdf_pages, "cover_pages": 1,
                    "pdfa": register.bundle.pdfa},
            "hash_definitions": {"pdf.sha256": "SHA-256 of the PDF file's bytes",
                                 "files[].sha256": "SHA-256 of the file's bytes (a raw/ file: the item's JSON "
                                                   "text as the API sent it, in UTF-8)"},
            "pages": [{"id": p["id"], "key": p["id"], "platform": p["platform"], "requested_url": p["url"],
                       "final_url": None, "status": "ok", "error": None, "capture_start": iso(since),
                       "capture_end": iso(until), "pixels_sha256": None, "tiles": [],
                       "collected": {"posts": sum(1 for i in items if i["page_id"] == p["id"] and i["kind"] == "post"),
                                     "comments": sum(1 for i in items if i["page_id"] == p["id"] and i["kind"] != "post"),
                                     "removed": sum(1 for i in items if i["page_id"] == p["id"]
                                                    and i["removed_at"] is not None)}}
                      for p in described],
            "files": files, "failures": [], "registrations": [],
        }
        manifest_path = staging / manifest_io.MANIFEST_NAME
        manifest_path.write_bytes(manifest_io.dump(manifest))
        stamp = trusted_timestamp(register.bundle.timestamp, manifest, manifest_path)
        manifest_sha = manifest_io.sha256_file(manifest_path)
        stored = store.put(bundle_id, staging)
    except BaseException:
        store.discard(staging)
        raise
    catalog.record_bundle(manifest, "collection", store.name, stored.location, manifest_sha)
    if store.name == "s3":
        stored = store.send(bundle_id)
    catalog.audit(by, "bundle.created", bundle_id, {"reason": manifest["reason"], "kind": "collection"})
    log.info("collection bundle %s: %d post(s), %d comment(s), %d file(s)", bundle_id, len(in_period),
             len(items) - len(in_period), len(files))
    return {"bundle_id": bundle_id, "location": stored.location, "posts": len(in_period),
            "comments": len(items) - len(in_period), "files": len(files), "timestamp": stamp}
