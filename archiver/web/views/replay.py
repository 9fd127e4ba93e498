"""Spela upp: a bundle's pages replayed from its WACZ in the browser, offline.

ReplayWeb.page (archiver/web/replay_assets.py) runs in the person's browser: its service worker reads
the WACZ from this app with range requests and serves the recorded responses to a frame, so nothing is
fetched from the live site or a CDN. Same roles as downloading a bundle. The page needs scripts,
workers and a frame of our own origin, so it has a CSP of its own, still limited to 'self'.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, make_response, render_template, request, send_file
from warcio.timeutils import iso_date_to_timestamp

from archiver.bundle.wacz import WACZ_MEDIA_TYPE
from archiver.web import replay_assets
from archiver.web.shared import audit, bundle_row, current_services
from archiver.web.views.bundles import manifest_of

bp = Blueprint("replay", __name__)

REPLAY_CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval' 'unsafe-inline'; "
              "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; "
              "font-src 'self' data:; worker-src 'self'; frame-src 'self'; connect-src 'self' data:; object-src 'none'; "
              "base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
# What /replay/ answers when the replay frame reaches the server, which happens when it navigates before
# ReplayWeb.page's service worker (registered by ui.js a moment before) has taken over /replay/: wait
# for it and load the frame again, once, so the worker answers. Without this the frame can stay empty
# on a first visit.
FRAME_BOOTSTRAP = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Startar uppspelningen</title>
<script>
navigator.serviceWorker.register("sw.js?serveIndex=1", {scope: "./"})
  .then(() => navigator.serviceWorker.ready)
  .then(() => { if (!sessionStorage.getItem("archiver-replay-reloaded")) {
    sessionStorage.setItem("archiver-replay-reloaded", "1"); location.reload(); } });
</script></head><body><p>Startar uppspelningen …</p></body></html>
"""


def recorded_pages(manifest: dict | None) -> list[dict]:
    """The pages whose visit the bundle's WACZ holds, each with the URL and time to open it at."""
    if not manifest or not manifest.get("wacz"):
        return []
    return [{"key": page.get("key", page["id"]), "title": page.get("title") or page.get("key", page["id"]),
             "url": page["recording"]["page_url"], "ts": iso_date_to_timestamp(page["recording"]["page_ts"])}
            for page in manifest.get("pages", []) if page.get("recording")]


@bp.get("/bundles/<bundle_id>/spela-upp")
def replay(bundle_id: str):
    services = current_services()
    row = bundle_row(bundle_id)
    manifest = manifest_of(services.store, row)
    pages = recorded_pages(manifest)
    chosen = next((p for p in pages if p["key"] == request.args.get("sida")), pages[0] if pages else None)
    if chosen is not None:
        audit("bundle.replayed", row["id"], {"file": manifest["wacz"]["file"], "page": chosen["key"]})
    return _replay_page(render_template(
        "replay.html", b=row, pages=pages, chosen=chosen, ready=replay_assets.installed(),
        assets=replay_assets.assets_dir(), version=replay_assets.VERSION))


def _replay_page(body: str):
    """A page ReplayWeb.page runs in: its own CSP, and framed by our own origin only."""
    response = make_response(body)
    response.headers["Content-Security-Policy"] = REPLAY_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _wacz_path(bundle_id: str) -> tuple[dict, Path, str]:
    services = current_services()
    row = bundle_row(bundle_id)
    manifest = manifest_of(services.store, row)
    if not manifest or not manifest.get("wacz"):
        abort(404)
    name = manifest["wacz"]["file"]
    return row, Path(services.store.path(row["id"], name)), name


@bp.get("/bundles/<bundle_id>/arkiv.wacz")
def wacz_source(bundle_id: str):
    """What the replay reads, in ranges (not audited: the replay page is)."""
    _row, path, _name = _wacz_path(bundle_id)
    return send_file(path, mimetype=WACZ_MEDIA_TYPE, conditional=True, max_age=0)


@bp.get("/bundles/<bundle_id>/wacz")
def download_wacz(bundle_id: str):
    row, path, name = _wacz_path(bundle_id)
    if request.method == "GET":
        audit("bundle.downloaded", row["id"], {"file": name})
    return send_file(path, mimetype=WACZ_MEDIA_TYPE, as_attachment=True, download_name=name, max_age=0,
                     conditional=False, etag=False)


def _asset(name: str):
    folder = replay_assets.assets_dir()
    if not replay_assets.installed(folder):
        abort(404)
    return send_file(folder / name, mimetype="application/javascript", max_age=3600)


@bp.get("/replay/")
def frame():
    """The replay frame's first load, before ReplayWeb.page's service worker answers for /replay/ itself."""
    if not replay_assets.installed():
        abort(404)
    return _replay_page(FRAME_BOOTSTRAP)


@bp.get("/replay/ui.js")
def ui_js():
    return _asset("ui.js")


@bp.get("/replay/sw.js")
def sw_js():
    return _asset("sw.js")
