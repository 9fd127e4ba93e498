"""Paket: the filtered list, a bundle's page with its preview and trail, thumbnails, downloads of the
stored bytes, verifying, and registering it as a document in a case."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from pathlib import Path

from flask import Blueprint, g, redirect, render_template, request, send_file, url_for

from archiver.bundle import manifest as manifest_io
from archiver.errors import ArchiverError
from archiver.registration import RegistrationRefused, RegistrationRequest, capture_year, secrecy_words
from archiver.web import thumbs
from archiver.web.shared import MAX_DNR, audit, bundle_row, current_services
from archiver.web.views import compare
from archiver.web.words import LOCAL_TZ, NOTICES, reason_text

log = logging.getLogger(__name__)

bp = Blueprint("bundles", __name__)


def manifest_of(store, row: dict) -> dict | None:
    try:
        return manifest_io.load(store.path(row["id"], manifest_io.MANIFEST_NAME))
    except (ArchiverError, OSError, ValueError):
        log.warning("cannot read the manifest of %s", row["id"])
        return None


def captured_pages(manifest: dict | None) -> list[dict]:
    """Each captured page of a manifest with the PDF page numbers of its tiles."""
    if manifest is None:
        return []
    found = []
    for page in manifest.get("pages", []):
        span = page.get("pdf_pages")
        if page.get("status") == "ok" and span:
            found.append({"key": page.get("key", page.get("id")), "url": page.get("requested_url"),
                          "pdf_pages": list(range(span[0], span[1] + 1))})
    return found


def parse_day(value: str, field: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{field}: skriv datumet som ÅÅÅÅ-MM-DD.")
        return None


@bp.get("/bundles")
def bundles():
    services = current_services()
    args = request.args
    errors: list[str] = []
    start = parse_day(args.get("from", ""), "Från", errors)
    end = parse_day(args.get("to", ""), "Till", errors)
    page_id, text = args.get("page", ""), args.get("q", "").strip()
    kind, registered = args.get("kind", ""), args.get("registered", "")
    rows = services.catalog.list_bundles()
    all_page_ids = sorted({p.id for p in services.register.pages}
                          | {pg["page_id"].split(".", 1)[0] for r in rows for pg in r["pages"]})
    selected = []
    for row in reversed(rows):
        created = row["created_at"].astimezone(LOCAL_TZ)
        if start and created < datetime.combine(start, time.min, LOCAL_TZ):
            continue
        if end and created >= datetime.combine(end + timedelta(days=1), time.min, LOCAL_TZ):
            continue
        if page_id and page_id not in {pg["page_id"].split(".", 1)[0] for pg in row["pages"]}:
            continue
        if text and text.casefold() not in reason_text(row["reason"]).casefold():
            continue
        if kind and row["kind"] != kind:
            continue
        if registered == "ja" and not row["registrations"]:
            continue
        if registered == "nej" and row["registrations"]:
            continue
        selected.append(row)
    shown = selected[:200]
    thumbs_by_bundle = {row["id"]: captured_pages(manifest_of(services.store, row)) for row in shown}
    return render_template("bundles.html", rows=shown, total=len(selected), thumbs=thumbs_by_bundle,
                           errors=errors, page_ids=all_page_ids,
                           f={"from": args.get("from", ""), "to": args.get("to", ""), "page": page_id,
                              "q": text, "kind": kind, "registered": registered})


def bundle_page(bundle_id: str, error: str | None = None, status: int = 200, form: dict | None = None):
    """A bundle's page; also the answer to a refused form on it (registering, marking), with the error."""
    services = current_services()
    row = bundle_row(bundle_id)
    trail = services.catalog.audit_log(bundle_id=row["id"], limit=200)
    verified = next((e for e in trail if e["action"] == "bundle.verified" and isinstance(e["detail"], dict)),
                    None)
    notice = NOTICES.get(request.args.get("klart", ""))
    manifest = manifest_of(services.store, row)
    earlier, following = compare.neighbours(services.catalog.list_bundles(), row)
    return render_template("bundle.html", b=row, pages=captured_pages(manifest),
                           wacz=(manifest or {}).get("wacz"), trail=trail, verified=verified, error=error,
                           notice=notice, form=form or {}, year_case=_year_case(services, manifest),
                           secrecy_words=secrecy_words, earlier=earlier, following=following,
                           compared=compare.comparisons(services.catalog.audit_log(limit=2000), row["id"])), status


def _year_case(services, manifest: dict | None) -> dict | None:
    """The open collective case the bundle would join without a diarienummer, if the register keeps one."""
    if manifest is None or services.register.registration.collective_case != "yearly":
        return None
    return services.catalog.collective_case(capture_year(manifest))


@bp.get("/bundles/<bundle_id>")
def bundle(bundle_id: str):
    return bundle_page(bundle_id)


@bp.get("/bundles/<bundle_id>/thumbs/<int:page_no>.png")
def thumbnail(bundle_id: str, page_no: int):
    row = bundle_row(bundle_id)
    path = thumbs.page_thumbnail(current_services().store, row["id"], row["pdf_name"], page_no)
    return send_file(path, mimetype="image/png", max_age=0)


def download(bundle_id: str, which: str):
    row = bundle_row(bundle_id)
    name = row["pdf_name"] if which == "pdf" else manifest_io.MANIFEST_NAME
    path = Path(current_services().store.path(row["id"], name))
    if request.method == "GET":  # a HEAD fetches nothing
        audit("bundle.downloaded", row["id"], {"file": name})
    return send_file(path, mimetype="application/pdf" if which == "pdf" else "application/json",
                     as_attachment=True, download_name=name, max_age=0, conditional=False, etag=False)


@bp.get("/bundles/<bundle_id>/pdf")
def download_pdf(bundle_id: str):
    return download(bundle_id, "pdf")


@bp.get("/bundles/<bundle_id>/manifest.json")
def download_manifest(bundle_id: str):
    return download(bundle_id, "manifest")


@bp.post("/bundles/<bundle_id>/verify")
def verify(bundle_id: str):
    row = bundle_row(bundle_id)
    result = current_services().verify(row["id"])
    audit("bundle.verified", row["id"], {"ok": result.ok, "checks": [
        {"check": c.name, "ok": c.ok, "detail": c.detail} for c in result.checks]})
    return redirect(url_for("bundles.bundle", bundle_id=row["id"], klart="verifierad", _anchor="verifiering"),
                    code=303)


@bp.post("/bundles/<bundle_id>/register")
def register(bundle_id: str):
    """The registration form: a diarienummer (optional when the year's collective case is open), and the
    case and document details a registrar files with it (archiver/registration.py)."""
    row = bundle_row(bundle_id)
    form = {key: " ".join(request.form.get(key, "").split())
            for key in ("dnr", "case_title", "classification", "document_no", "secrecy", "osl_chapter", "osl_section")}
    if len(form["dnr"]) > MAX_DNR:
        return bundle_page(row["id"], f"Diarienumret får vara högst {MAX_DNR} tecken.", 400, form)
    if form["document_no"] and not form["document_no"].isdigit():
        return bundle_page(row["id"], "Löpnumret ska vara ett heltal.", 400, form)
    secrecy = "none"
    if form["secrecy"] == "osl":
        secrecy = f"OSL:{form['osl_chapter']}:{form['osl_section']}"
    try:
        current_services().register_bundle(row["id"], RegistrationRequest(
            g.session.user.name, form["dnr"] or None, case_title=form["case_title"] or None,
            classification=form["classification"] or None,
            document_no=int(form["document_no"]) if form["document_no"] else None, secrecy=secrecy))
    except RegistrationRefused as exc:
        return bundle_page(row["id"], exc.sv, 400, form)
    except ArchiverError as exc:  # a damaged manifest, a locked catalog: said on the page
        log.warning("registering %s failed: %s", row["id"], exc)
        return bundle_page(row["id"], "Diarienumret kunde inte registreras.", 400, form)
    return redirect(url_for("bundles.bundle", bundle_id=row["id"], klart="registrerad", _anchor="diarienummer"),
                    code=303)
