"""Jämför: a bundle compared with another capture of the same pages (`archiver bundles compare`), and the
reports, opened in the browser or downloaded.

The bundle's page offers the previous bundle that captured any of its pages as the default; a pre-change
snapshot's page offers the next capture of its page once there is one. A comparison takes seconds for a
long page, so it runs while the request waits; both bundles are verified first, and one that is not what
was stored is refused on the page.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from flask import Blueprint, g, redirect, request, send_file, url_for

from archiver.errors import ArchiverError, VerificationError
from archiver.web.shared import Refused, bundle_row, current_services

log = logging.getLogger(__name__)

bp = Blueprint("compare", __name__)

REPORT_NAME = re.compile(r"jamforelse-[0-9TZ]{16}-[0-9a-f]{6}-[0-9TZ]{16}-[0-9a-f]{6}(-[a-z0-9.-]+)?(-\d+)?\.pdf")


def _captured(row: dict) -> set[str]:
    return {p["page_id"] for p in row["pages"] if p["status"] == "ok"}


def neighbours(rows: list[dict], row: dict) -> tuple[list[dict], dict | None]:
    """The bundles sharing a captured page with `row` made before it (newest first), and the first one
    after it. Pure: `rows` is the catalog's list, oldest first."""
    pages = _captured(row)
    shared = [r for r in rows if r["id"] != row["id"] and _captured(r) & pages]
    earlier = [r for r in shared if r["created_at"] < row["created_at"]]
    later = [r for r in shared if r["created_at"] > row["created_at"]]
    return list(reversed(earlier)), (later[0] if later else None)


def comparisons(trail: list[dict], bundle_id: str) -> list[dict]:
    """The reports made with this bundle (as OLD or NEW), newest first, from the audit trail."""
    found = []
    for entry in trail:
        detail = entry.get("detail") or {}
        if entry["action"] != "bundles.compared" or not detail.get("report"):
            continue
        if bundle_id not in (entry["bundle_id"], detail.get("old")):
            continue
        name = Path(detail["report"]).name
        if REPORT_NAME.fullmatch(name):
            found.append({"name": name, "old": detail.get("old"), "new": entry["bundle_id"], "at": entry["at"],
                          "by": entry["actor"], "page": detail.get("page")})
    return found


@bp.post("/bundles/<bundle_id>/jamfor")
def compare(bundle_id: str):
    from archiver.web.views.bundles import bundle_page

    services = current_services()
    row = bundle_row(bundle_id)
    other = request.form.get("mot", "")
    try:
        other_row = bundle_row(other)
    except ArchiverError:
        return bundle_page(row["id"], "Välj ett paket att jämföra med.", 400)
    old, new = (other_row, row) if other_row["created_at"] < row["created_at"] else (row, other_row)
    try:
        _comparison, report = services.compare(old["id"], new["id"], by=g.session.user.name)
    except VerificationError as exc:
        log.warning("comparing %s with %s refused: %s", old["id"], new["id"], exc)
        return bundle_page(row["id"], "Jämförelsen gjordes inte: ett av paketen är inte det som lagrades. "
                                      "Verifiera paketen.", 400)
    except ArchiverError as exc:
        log.warning("comparing %s with %s failed: %s", old["id"], new["id"], exc)
        return bundle_page(row["id"], "Jämförelsen kunde inte göras.", 400)
    return redirect(url_for("compare.report", name=report.name), code=303)


@bp.get("/jamforelser/<name>")
def report(name: str):
    """A report, inline (the browser's PDF viewer) or, with ?ladda=ja, as a download."""
    if not REPORT_NAME.fullmatch(name):
        raise Refused(404)
    path = current_services().local_root / "reports" / name
    if not path.is_file():
        raise Refused(404)
    return send_file(path, mimetype="application/pdf", as_attachment=request.args.get("ladda") == "ja",
                     download_name=name, max_age=0)
