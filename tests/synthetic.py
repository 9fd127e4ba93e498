"""Real bundles from a synthetic capture (one tile of one colour), for tests of what happens after capture:
the PDF/A, manifest, store and catalog are the pipeline's own; only the browser is left out."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

from PIL import Image

from archiver import pipeline
from archiver.models import PageCapture, PostRequest, RunRequest, Tile, new_bundle_id, utcnow
from archiver.services import Services


def capture(page_id: str, url: str, colour: tuple[int, int, int], post: dict | None) -> PageCapture:
    """A small real capture without a browser: one 320×200 tile of one colour."""
    image = Image.new("RGB", (320, 200), colour)
    png = io.BytesIO()
    image.save(png, "PNG")
    digest = hashlib.sha256(image.tobytes()).hexdigest()
    now = utcnow()
    return PageCapture(page_id=page_id, platform="generic", requested_url=url, owner="Kommunikation",
                       status="ok", final_url=url, started_at=now, finished_at=now, width=320, height=200,
                       tiles=[Tile(0, 0, 320, 200, png.getvalue(), digest)], pixels_sha256=digest,
                       viewport={"width": 320, "height": 200}, post=post)


def store_bundle(services: Services, post_class: str | None, n: int, started=None) -> str:
    """A post bundle of `post_class` (or a page bundle when None) through the pipeline's real last steps;
    `started`: when its run began (default now, plus `n` seconds so ids are distinct and ordered)."""
    url = f"http://127.0.0.1:8123/kommun/{'post' if post_class else 'page'}-{n}"
    post = {"url": url, "permalink": url, "author": "Götene kommun", "shown_time": "2 tim"} if post_class else None
    started = (started or utcnow()) + timedelta(seconds=n)  # distinct, ordered ids
    bundle_id = new_bundle_id(started)
    request = (PostRequest(url, post_class, "test", "Anna") if post_class
               else RunRequest(reason="scheduled", requested_by="scheduler"))
    info = pipeline.run_info(services.register, bundle_id, request, started, "0.test", post_class=post_class)
    pipeline.bundle_store_catalog(services.register, info, [capture("kommun", url, (30 + n, 90, 200), post)],
                                   request.kind, store=services.store, catalog=services.catalog)
    return bundle_id
