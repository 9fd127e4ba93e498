"""manifest.json: the bundle's metadata and hashes, readable without the PDF or the tool."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from archiver import TOOL_NAME, __version__
from archiver.models import PageCapture, iso

if TYPE_CHECKING:  # the PDF libraries load only where a PDF is built
    from archiver.bundle.pdf import RunInfo

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_manifest(run: RunInfo, captures: list[PageCapture], pdf_path: Path, pdf_pages: int,
                   first_pages: dict[str, int], cover_pages: int, completes: str | None = None,
                   wacz: dict | None = None) -> dict:
    """Everything the spec asks of a bundle's metadata; `first_pages` maps capture key → 1-based PDF page.

    `completes` names the bundle whose failed pages this one captures again (`run --retry-failed`);
    `wacz` is the web archive beside the PDF (archiver/bundle/wacz.py), when the register asks for one.
    """
    pages = []
    for capture in captures:
        entry = capture.provenance()
        if capture.ok:
            first = first_pages[capture.key]
            entry["pdf_pages"] = [first, first + len(capture.tiles) - 1]
            for offset, tile in enumerate(entry["tiles"]):
                tile["pdf_page"] = first + offset
        pages.append(entry)
    return {
        "manifest_version": MANIFEST_VERSION,
        "bundle_id": run.bundle_id,
        "organisation": run.organisation,
        "reason": run.reason,
        "requested_by": run.requested_by,
        "completes": completes,
        "run_start": iso(run.started_at),
        "run_end": iso(run.finished_at),
        "tool": {"name": TOOL_NAME, "version": __version__},
        "browser": run.browser,
        "pdf": {
            "file": pdf_path.name,
            "sha256": sha256_file(pdf_path),
            "bytes": pdf_path.stat().st_size,
            "pages": pdf_pages,
            "cover_pages": cover_pages,
            "pdfa": run.pdfa,
        },
        "hash_definitions": {
            "pdf.sha256": "SHA-256 of the PDF file's bytes",
            "pixels_sha256": "SHA-256 of the image's pixels as 8-bit RGB, row by row from the top "
                             "(for a page: its tiles' pixels stacked in order, which are also the pixels of "
                             "its screenshot record in the WACZ)",
        } | ({"wacz.sha256": "SHA-256 of the WACZ file's bytes"} if wacz else {}),
        "pages": pages,
        "failures": [{"id": c.page_id, "variant": c.variant, "failure": c.failure, "error": c.error}
                     for c in captures if not c.ok],
        "registrations": [],
    } | ({"wacz": wacz} if wacz else {}) \
      | ({"post": next((c.post for c in captures if c.post is not None), {}) | {"class": run.post_class}}
         if run.post_class else {})


def dump(manifest: dict) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_checked(path: Path) -> dict:
    """A stored manifest, or ValueError saying in words what is wrong with it (empty, cut short, not UTF-8,
    not JSON, not a bundle's manifest), for a person looking at a damaged bundle rather than a traceback."""
    data = Path(path).read_bytes()
    if not data.strip():
        raise ValueError("the manifest is empty")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"the manifest is not UTF-8 text (byte {exc.start}): garbage, not a manifest") from exc
    except json.JSONDecodeError as exc:
        cut = "" if exc.doc.rstrip().endswith("}") else " - it ends in the middle, cut short"
        raise ValueError(f"the manifest is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                         f"{cut}") from exc
    missing = [key for key in ("bundle_id", "pdf", "pages") if not isinstance(manifest, dict) or key not in manifest]
    if missing or not isinstance(manifest["pdf"], dict) or "file" not in manifest["pdf"]:
        raise ValueError("the file is JSON but not a bundle's manifest (it lacks "
                         f"{', '.join(missing) or 'pdf.file'})")
    return manifest
