"""Gallring: what the records plan allows to cull and what it keeps, and marking a post's action done
or its evidence released (as `archiver retention done`/`release`)."""

from __future__ import annotations

import logging

from flask import Blueprint, g, redirect, render_template, url_for

from archiver import retention as retention_plan
from archiver.errors import BadInputError
from archiver.models import utcnow
from archiver.web.shared import bundle_row, current_services
from archiver.web.views.bundles import bundle_page
from archiver.web.words import RETENTION_RULES

log = logging.getLogger(__name__)

bp = Blueprint("retention", __name__)


@bp.get("/gallring")
def retention():
    services = current_services()
    decisions = sorted(retention_plan.plan(services.catalog, services.store),
                       key=lambda d: (not d.cull, d.created_at))
    return render_template("retention.html", decisions=decisions, rules=RETENTION_RULES)


def mark(bundle_id: str, state: str, notice: str):
    row = bundle_row(bundle_id)
    try:
        current_services().catalog.mark_post(row["id"], state, g.session.user.name, utcnow())
    except BadInputError as exc:
        log.warning("marking %s %s refused: %s", row["id"], state, exc)
        return bundle_page(row["id"], "Det går inte för det här paketet (fel klass eller redan gjort).", 400)
    return redirect(url_for("bundles.bundle", bundle_id=row["id"], klart=notice, _anchor="gallring"), code=303)


@bp.post("/bundles/<bundle_id>/done")
def post_done(bundle_id: str):
    return mark(bundle_id, "done", "utford")


@bp.post("/bundles/<bundle_id>/release")
def post_release(bundle_id: str):
    return mark(bundle_id, "released", "frigjord")
