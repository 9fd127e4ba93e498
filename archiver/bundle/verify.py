"""Verifying a bundle: every hash recomputed from the bytes, and the PDF/A validated again."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
import pikepdf.pdfa

from archiver.bundle import manifest as manifest_io
from archiver.bundle import timestamp
from archiver.bundle.pdf import TILE_NAME
from archiver.bundle.pdfa_rules import explain

log = logging.getLogger(__name__)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class VerifyResult:
    bundle_id: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def as_dict(self) -> dict:
        return {"bundle_id": self.bundle_id, "ok": self.ok,
                "checks": [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks]}


def verify_bundle(folder: Path, catalog_row: dict | None = None, *,
                  timestamp_ca: str | Path | None = None) -> VerifyResult:
    """Check a bundle folder (PDF + manifest.json) against itself and, if given, the catalog.

    `timestamp_ca`: the trusted CA file (register `bundle.timestamp.ca_file`) a trusted timestamp's TSA
    certificate must chain to; without it only the token's own signature is checked.
    """
    result = VerifyResult(None)
    manifest_path = folder / manifest_io.MANIFEST_NAME
    try:
        manifest = manifest_io.load_checked(manifest_path)
    except (OSError, ValueError) as exc:
        result.bundle_id = catalog_row["id"] if catalog_row is not None else None
        result.add("manifest readable", False, f"{manifest_path}: {exc}")
        if catalog_row is not None and manifest_path.is_file():
            manifest_sha = manifest_io.sha256_file(manifest_path)
            result.add("manifest SHA-256 matches catalog", manifest_sha == catalog_row["manifest_sha256"],
                       f"computed {manifest_sha}, catalog says {catalog_row['manifest_sha256']}")
        return result
    result.bundle_id = manifest.get("bundle_id")
    result.add("manifest readable", True, str(manifest_path))
    # --- trusted timestamp (RFC 3161) over manifest.json: see archiver/bundle/timestamp.py ---
    result.add(*timestamp.check_bundle(folder, manifest, timestamp_ca))
    pdf_path = folder / manifest["pdf"]["file"]
    if not result.add("PDF present", pdf_path.is_file(), str(pdf_path)):
        return result
    pdf_sha = manifest_io.sha256_file(pdf_path)
    result.add("PDF SHA-256 matches manifest", pdf_sha == manifest["pdf"]["sha256"],
               f"computed {pdf_sha}, manifest says {manifest['pdf']['sha256']}")
    if catalog_row is not None:
        result.add("PDF SHA-256 matches catalog", pdf_sha == catalog_row["pdf_sha256"],
                   f"catalog says {catalog_row['pdf_sha256']}")
        manifest_sha = manifest_io.sha256_file(manifest_path)
        result.add("manifest SHA-256 matches catalog", manifest_sha == catalog_row["manifest_sha256"],
                   f"computed {manifest_sha}, catalog says {catalog_row['manifest_sha256']}")
    try:
        pdf = pikepdf.open(pdf_path)
    except pikepdf.PdfError as exc:
        result.add("PDF readable", False, str(exc))
        return result
    with pdf:
        _check_pixels(pdf, manifest, result)
    if manifest.get("kind") == "collection":
        _check_files(folder, manifest, result)
    report = pikepdf.pdfa.validate_written(pdf_path, manifest["pdf"]["pdfa"])
    result.add(f"PDF/A-{manifest['pdf']['pdfa']} valid (pikepdf allowlist validator)", report.passed,
               "passed" if report.passed else _findings_in_words(report))
    if manifest.get("wacz"):  # the web archive of the same visit (archiver/bundle/wacz.py)
        from archiver.bundle.wacz import check_wacz

        for check in check_wacz(folder / manifest["wacz"]["file"], manifest):
            result.add(*check)
    return result


def _findings_in_words(report) -> str:
    """Each finding as rule id, what it means for the document, and where the validator saw it."""
    lines = [f"{len(report.violations)} violation(s), {len(report.unsupported)} construct(s) not checkable"]
    for finding in report.findings[:20]:
        lines.append(f"  {finding.rule}: {explain(finding.rule)} — {finding.where}: {finding.message}")
    if len(report.findings) > 20:
        lines.append(f"  … and {len(report.findings) - 20} more")
    return "\n".join(lines)


def _check_files(folder: Path, manifest: dict, result: VerifyResult) -> None:
    """A collection bundle's raw JSON and media (manifest `files`): each file's SHA-256 and size."""
    files = manifest.get("files") or []
    bad = []
    for entry in files:
        path = folder / entry["path"]
        if not path.is_file():
            bad.append(f"{entry['path']}: missing")
        elif manifest_io.sha256_file(path) != entry["sha256"] or path.stat().st_size != entry["bytes"]:
            bad.append(f"{entry['path']}: changed")
    result.add("collected files match manifest", not bad,
               "; ".join(bad[:20]) + (f"; … {len(bad) - 20} more" if len(bad) > 20 else "") if bad
               else f"{len(files)} files")


def _check_pixels(pdf: pikepdf.Pdf, manifest: dict, result: VerifyResult) -> None:
    for page in manifest["pages"]:
        if page["status"] != "ok" or (manifest.get("kind") == "collection" and not page.get("tiles")):
            continue  # a collection's pages are listed as collected, not captured: no pixels
        stacked = hashlib.sha256()
        bad = []
        for tile in page["tiles"]:
            try:
                xobject = pdf.pages[tile["pdf_page"] - 1].Resources.XObject[TILE_NAME]
                image = pikepdf.PdfImage(xobject).as_pil_image().convert("RGB")
            except (IndexError, KeyError, AttributeError, pikepdf.PdfError) as exc:
                bad.append(f"tile {tile['index'] + 1}: unreadable ({exc})")
                continue
            data = image.tobytes()
            stacked.update(data)
            if hashlib.sha256(data).hexdigest() != tile["pixels_sha256"] or image.size != (
                    tile["width_px"], tile["height_px"]):
                bad.append(f"tile {tile['index'] + 1} (PDF page {tile['pdf_page']})")
        whole_ok = stacked.hexdigest() == page["pixels_sha256"]
        detail = "; ".join(bad) if bad else f"{len(page['tiles'])} tiles, {page['height_px']} px"
        result.add(f"pixels of {page.get('key', page['id'])} match manifest", not bad and whole_ok, detail)
