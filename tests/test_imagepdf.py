"""The run's PDF is assembled around its captures' image PDFs on disk: its memory does not grow with its
pages, an image PDF made in the background that failed says why, and every image lands on its page."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from archiver.bundle import pdf as pdf_step
from archiver.bundle.imagepdf import ImagePdfs
from archiver.models import PageCapture, Tile, utcnow

TILE = (1280, 1810)


def _capture(key: str, pngs: list[Path]) -> PageCapture:
    now = utcnow()
    tiles = [Tile(i, i * TILE[1], TILE[0], TILE[1], None, "0" * 64, p) for i, p in enumerate(pngs)]
    return PageCapture(page_id=key, platform="generic", requested_url=f"http://127.0.0.1:9/{key}", status="ok",
                       final_url=f"http://127.0.0.1:9/{key}", started_at=now, finished_at=now, width=TILE[0],
                       height=TILE[1] * len(pngs), tiles=tiles, pixels_sha256="0" * 64,
                       viewport={"width": TILE[0], "height": 900})


def _run_info() -> pdf_step.RunInfo:
    now = datetime.now(UTC)
    return pdf_step.RunInfo("20261202T000000Z-test", "Götene kommun", "scheduled", "scheduler", now, now,
                            "archiver test", "Chromium test", "2b")


PEAK_SCRIPT = textwrap.dedent("""
    import json, os, resource, sys
    from pathlib import Path
    sys.path[:0] = [sys.argv[1], sys.argv[2]]
    from PIL import Image
    from test_imagepdf import _capture, _run_info, TILE
    from archiver.bundle import pdf as pdf_step
    folder = Path(sys.argv[3])
    noise = folder / "noise.png"  # incompressible: each tile's image stream is as large as its PNG
    Image.effect_noise(TILE, 60).convert("RGB").save(noise, compress_level=1)
    captures = []
    for c in range(int(sys.argv[4])):
        pngs = [folder / f"p{c}-{i}.png" for i in range(2)]
        for png in pngs:
            os.link(noise, png)
        captures.append(_capture(f"p{c}", pngs))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pdf_step.build_pdf(_run_info(), captures, folder / "out.pdf")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"grew_mb": (after - before) / 1024, "png_mb": noise.stat().st_size / 2**20,
                      "pdf_mb": (folder / "out.pdf").stat().st_size / 2**20}))
""")


def test_building_the_pdf_holds_no_more_than_a_few_images_however_many_pages(tmp_path):
    """Measured in a process of its own: the peak RSS while building a 40-tile PDF grows by a small part of
    the images' size (pikepdf's copy_foreign, used before, took all of them in: it grew by more than that)."""
    tests = Path(__file__).parent
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(tests.parent), str(tests), str(tmp_path), "20"],
                         capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    images_mb = figures["png_mb"] * 40
    assert figures["pdf_mb"] >= images_mb * 0.95, figures  # the images are in it, not re-encoded smaller
    assert figures["grew_mb"] < images_mb / 4, figures


def test_an_image_pdf_that_failed_in_the_background_says_why_and_leaves_no_file(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", TILE, (10, 120, 200)).save(good)
    images = ImagePdfs(tmp_path)
    try:
        broken = _capture("broken", [good, tmp_path / "missing.png"])
        images.add(broken)
        with pytest.raises(FileNotFoundError, match="missing.png"):
            images.path_for(broken)
        assert not (tmp_path / "images-broken.pdf").exists()
        fine = _capture("fine", [good])
        images.add(fine)
        images.add(fine)  # once only
        assert images.path_for(fine) == tmp_path / "images-fine.pdf"
    finally:
        images.close()


def test_each_image_lands_on_its_own_label_page_and_nothing_else_is_left(tmp_path):
    """Three captures of different sizes in, their tiles' pages out in order, each page holding exactly its
    own tile (the merged image pages are gone), and the PDF/A valid."""
    captures = []
    for c, colours in enumerate([[(200, 0, 0)], [(0, 200, 0), (0, 0, 200)], [(90, 90, 90)]]):
        pngs = []
        for i, colour in enumerate(colours):
            png = tmp_path / f"c{c}-{i}.png"
            Image.new("RGB", TILE, colour).save(png)
            pngs.append(png)
        captures.append(_capture(f"c{c}", pngs))
    images = ImagePdfs(tmp_path)
    try:
        images.add(captures[1])  # one made in the background, the others when the PDF is built
        layout = pdf_step.build_pdf(_run_info(), captures, tmp_path / "out.pdf", images=images)
    finally:
        images.close()
    assert layout.pages == layout.cover_pages + 4
    assert layout.first_pages == {"c0": layout.cover_pages + 1, "c1": layout.cover_pages + 2,
                                  "c2": layout.cover_pages + 4}
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        seen = []
        for page in pdf.pages[layout.cover_pages:]:
            (name,) = page.Resources.XObject.keys()
            assert name == str(pdf_step.TILE_NAME)
            image = pikepdf.PdfImage(page.Resources.XObject[name]).as_pil_image()
            seen.append(image.getpixel((5, 5)))
        assert seen == [(200, 0, 0), (0, 200, 0), (0, 0, 200), (90, 90, 90)]
    assert pikepdf.pdfa.validate_written(tmp_path / "out.pdf", "2b").passed
