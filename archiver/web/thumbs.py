"""Thumbnails of a bundle's PDF pages, made from the tile images inside the stored PDF.

They are cached in the store's cache folder for the bundle (`<store>/.cache/<bundle_id>/`), never inside
the bundle folder, so a bundle stays exactly as it was stored, and culling the bundle removes them too. Only a checked bundle id and a page number reach the file system.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
from pathlib import Path

import pikepdf
from PIL import Image

from archiver.errors import NotFoundError
from archiver.store.local import check_bundle_id

log = logging.getLogger(__name__)

THUMB_WIDTH = 240
THUMB_MAX_HEIGHT = 480
_lock = threading.Lock()


def page_thumbnail(store, bundle_id: str, pdf_name: str, page_no: int) -> Path:
    """The PNG thumbnail of PDF page `page_no` (1-based) of a bundle; NotFoundError when it has no tile."""
    folder = store.cache_dir(check_bundle_id(bundle_id))
    if not isinstance(page_no, int) or page_no < 1:
        raise NotFoundError(f"no page {page_no} in bundle {bundle_id}")
    target = folder / f"page-{page_no}.png"
    if target.is_file():
        return target
    with _lock:  # one writer at a time; a second request finds the file made by the first
        if target.is_file():
            return target
        pdf_path = store.path(bundle_id, pdf_name)
        data = _render(pdf_path, page_no)
        if data is None:
            raise NotFoundError(f"page {page_no} of bundle {bundle_id} has no captured image")
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".thumb-", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    return target


def _render(pdf_path: Path, page_no: int) -> bytes | None:
    with pikepdf.open(pdf_path) as pdf:
        if page_no > len(pdf.pages):
            return None
        page = pdf.pages[page_no - 1]
        xobjects = page.Resources.get("/XObject") if "/Resources" in page else None
        if xobjects is None:
            return None
        for obj in xobjects.values():
            if obj.get("/Subtype") == "/Image":
                image = pikepdf.PdfImage(obj).as_pil_image()
                break
        else:
            return None
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.thumbnail((THUMB_WIDTH, THUMB_MAX_HEIGHT), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
