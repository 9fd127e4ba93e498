"""What a case-management system (Public 360°, Platina, Ciceron, W3D3) needs to create the document for a
bundle: `archiver bundles export ID... --format registry-json|registry-csv`.

One record per bundle and case it is registered in (one with an empty diarienummer for a bundle not yet
registered, so the diarium can create the document first): diarienummer, document number, title, date,
classification, secrecy, creator, and the files with their SHA-256, each hashed again from the stored
bytes and refused when it is not what the manifest says. The README's field table is the contract.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

from archiver.bundle import manifest as manifest_io
from archiver.bundle.timestamp import TOKEN_NAME
from archiver.errors import VerificationError
from archiver.registration import TIME_ZONE, document_title, secrecy_words

FORMATS = ("registry-json", "registry-csv")
CSV_FIELDS = ("dnr", "document_no", "title", "date", "case_title", "classification", "secrecy",
              "secrecy_basis", "creator", "registered_by", "registered_at", "bundle_id", "pdf_file", "pdf_sha256",
              "wacz_file", "wacz_sha256", "manifest_file", "manifest_sha256")


def _files(folder: Path, manifest: dict) -> list[dict]:
    """The bundle's files, hashed from the bytes; the PDF and WACZ must be what the manifest says."""
    named = [(manifest["pdf"]["file"], "application/pdf", manifest["pdf"]["sha256"], "pdf")]
    if manifest.get("wacz"):
        named.append((manifest["wacz"]["file"], manifest["wacz"].get("media_type") or "application/wacz",
                      manifest["wacz"]["sha256"], "wacz"))
    named.append((manifest_io.MANIFEST_NAME, "application/json", None, "manifest"))
    if (folder / TOKEN_NAME).is_file():
        named.append((TOKEN_NAME, "application/timestamp-reply", None, "timestamp"))
    files = []
    for name, media_type, expected, role in named:
        path = folder / name
        digest = manifest_io.sha256_file(path)
        if expected is not None and digest != expected:
            raise VerificationError(f"{path} does not match the manifest's SHA-256; run `archiver bundles verify`")
        files.append({"name": name, "role": role, "media_type": media_type, "size": path.stat().st_size,
                      "sha256": digest})
    return files


def records(folder: Path, catalog_row: dict | None = None) -> list[dict]:
    """The registry records of the bundle in `folder` (its manifest names the registrations)."""
    folder = Path(folder)
    manifest = manifest_io.load(folder / manifest_io.MANIFEST_NAME)
    if catalog_row is not None and manifest_io.sha256_file(folder / manifest_io.MANIFEST_NAME) != catalog_row.get(
            "manifest_sha256"):
        raise VerificationError(f"{folder / manifest_io.MANIFEST_NAME} does not match the catalog's SHA-256; "
                                "run `archiver bundles verify` before exporting")
    files = _files(folder, manifest)
    started = datetime.fromisoformat(manifest["run_start"]).astimezone(TIME_ZONE)
    base = {"bundle_id": manifest["bundle_id"], "creator": manifest.get("organisation"),
            "date": started.date().isoformat(), "captured_from": manifest.get("run_start"),
            "captured_to": manifest.get("run_end"), "files": files}
    registrations = manifest.get("registrations") or [{}]
    found = []
    for reg in registrations:
        secrecy = reg.get("secrecy") or "none"
        found.append({
            "dnr": reg.get("dnr"), "document_no": reg.get("document_no"),
            "title": reg.get("document_title") or document_title(manifest),
            "case_title": reg.get("case_title"), "classification": reg.get("classification"),
            "secrecy": secrecy, "secrecy_basis": secrecy_words(secrecy),
            "registered_by": reg.get("registered_by"), "registered_at": reg.get("registered_at"), **base})
    return found


def to_json(all_records: list[dict]) -> str:
    return json.dumps(all_records, ensure_ascii=False, indent=2) + "\n"


def to_csv(all_records: list[dict]) -> str:
    """Semicolon-separated UTF-8 with a byte-order mark: what Swedish Excel opens as it is, and what the
    case-management systems' CSV imports read. The files are columns by role (pdf, wacz, manifest)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    for record in all_records:
        row = {key: record.get(key) for key in CSV_FIELDS if not key.startswith(("pdf_", "wacz_", "manifest_"))}
        for file in record["files"]:
            if file["role"] in ("pdf", "wacz", "manifest"):
                row[f"{file['role']}_file"], row[f"{file['role']}_sha256"] = file["name"], file["sha256"]
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return out.getvalue()
