"""Ta ögonblicksbild and Spara inlägg: the forms that start a snapshot or a post, and the job's page."""

from __future__ import annotations

import logging
import re

from flask import Blueprint, g, redirect, render_template, request, url_for

from archiver.errors import BadInputError, BusyError
from archiver.models import PostRequest
from archiver.register.rules import AmbiguousPostError, allowed_hosts, page_for_post
from archiver.web.shared import MAX_DNR, Refused, audit, current_jobs, current_services
from archiver.web.words import BUSY_TEXT, POST_CLASS_NAMES

log = logging.getLogger(__name__)

bp = Blueprint("capture", __name__)

JOB_ID = re.compile(r"^[A-Za-z0-9_-]{16}$")
MAX_REASON = 500


def snapshot_page(error: str | None = None, status: int = 200, page_id: str = "", reason: str = ""):
    return render_template("snapshot.html", pages=current_services().register.pages, error=error,
                           page_id=page_id, reason=reason, jobs=current_jobs().recent()), status


@bp.get("/snapshot")
def snapshot_form():
    return snapshot_page(page_id=request.args.get("page", ""))


@bp.post("/snapshot")
def snapshot_start():
    page_id = request.form.get("page", "")
    reason = " ".join(request.form.get("reason", "").split())
    if page_id not in {p.id for p in current_services().register.pages}:
        return snapshot_page("Välj en av de registrerade sidorna.", 400, "", reason)
    if not reason:
        return snapshot_page("Skriv varför ögonblicksbilden tas (orsak).", 400, page_id, reason)
    if len(reason) > MAX_REASON:
        return snapshot_page(f"Orsaken får vara högst {MAX_REASON} tecken.", 400, page_id, reason)
    try:
        job = current_jobs().start(page_id, reason, g.session.user.name)
    except BusyError:
        return snapshot_page(BUSY_TEXT, 409, page_id, reason)
    audit("snapshot.requested", None, {"page": page_id, "reason": reason, "job": job.id})
    return redirect(url_for("capture.job", job_id=job.id), code=303)


@bp.get("/snapshot/jobs/<job_id>")
def job(job_id: str):
    found = current_jobs().get(job_id) if JOB_ID.match(job_id) else None
    if found is None:
        raise Refused(404, "Det finns ingen sådan körning (körningar glöms när servern startas om; "
                           "färdiga paket finns under Paket).")
    return render_template("job.html", job=found)


def post_page(error: str | None = None, status: int = 200, **values):
    register = current_services().register
    return render_template("post.html", pages=register.pages, error=error, v=values,
                           hosts=allowed_hosts(register), classes=POST_CLASS_NAMES,
                           jobs=[j for j in current_jobs().recent() if j.kind == "post"]), status


@bp.get("/post")
def post_form():
    return post_page()


@bp.post("/post")
def post_start():
    form = request.form
    values = {key: " ".join(form.get(key, "").split()) for key in ("url", "post_class", "reason", "dnr", "page")}
    if values["post_class"] not in POST_CLASS_NAMES:
        return post_page("Välj vilken sorts inlägg det är (klass).", 400, **values)
    if not values["reason"]:
        return post_page("Skriv varför inlägget sparas (orsak).", 400, **values)
    if len(values["reason"]) > MAX_REASON or len(values["dnr"]) > MAX_DNR or len(values["url"]) > 2000:
        return post_page("Något fält är för långt.", 400, **values)
    try:
        page = page_for_post(current_services().register, values["url"], values["page"] or None)
    except AmbiguousPostError as exc:
        return post_page("Adressen visar inte vilken av kommunens sidor inlägget hör till. Välj sidan i listan "
                         f"”Sida inlägget hör till” ({', '.join(exc.candidates)}).", 400, **values)
    except BadInputError as exc:
        return post_page("Adressen godtas inte: den måste gå till ett inlägg på en av kommunens registrerade "
                         f"sidor. ({exc})", 400, **values)
    post = PostRequest(url=values["url"], post_class=values["post_class"], reason=values["reason"],
                       requested_by=g.session.user.name, dnr=values["dnr"] or None)
    try:
        job = current_jobs().start_post(post, page.id)
    except BusyError:
        return post_page(BUSY_TEXT, 409, **values)
    audit("post.requested", None, {"url": post.url, "class": post.post_class, "page": page.id, "job": job.id})
    return redirect(url_for("capture.job", job_id=job.id), code=303)
