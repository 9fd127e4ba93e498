"""Each capture's tiles as a PDF of images, made as the capture finishes, and the run's PDF assembled
around those files without reading their images into memory.

img2pdf turns PNGs into image XObjects without re-encoding a pixel, one capture per file, so a run's
image PDFs are made while its later pages are still being captured. pikepdf's own `copy_foreign` would
then copy every image into the final document's memory (it asks QPDF for an immediate copy); QPDF's
page merge (`pikepdf.Job`, the `qpdf --pages` of the command line) instead reads each image from its
file at the moment it is written, so the assembly holds one image at a time however many pages a run has.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from archiver.models import PageCapture

log = logging.getLogger(__name__)


def write_image_pdf(tiles: Sequence, dest: Path) -> None:
    """One page per tile, each holding the tile's PNG as an image XObject, written to `dest`."""
    import img2pdf  # here, not above: a run makes its `ImagePdfs` before Chromium starts, this is imported after

    partial = dest.with_name(dest.name + ".part")
    with ExitStack() as files, partial.open("wb") as out:
        # Opened here: img2pdf takes a name it cannot open for image data, and fails on it as a type error.
        sources = [t.png if t.png is not None else files.enter_context(open(t.path, "rb")) for t in tiles]
        # No rotation: img2pdf would otherwise decode every PNG whole to look for an EXIF orientation in it.
        img2pdf.convert(sources, rotation=img2pdf.Rotation.none, outputstream=out)
    partial.replace(dest)  # a file that is there is whole


class ImagePdfs:
    """The image PDFs of one run's captures in `folder`, made in the background as captures finish.

    `add` queues a capture (one at a time on one thread: the work is reading PNG chunks and writing
    them, mostly I/O, and runs while Chromium captures other pages); `path_for` waits for a queued one,
    or makes it there and then, and raises what making it raised.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._made: dict[str, Future] = {}
        self._worker: ThreadPoolExecutor | None = None

    def _dest(self, capture: PageCapture) -> Path:
        return self.folder / f"images-{capture.key}.pdf"

    def add(self, capture: PageCapture) -> None:
        if not capture.ok or not capture.tiles:
            return
        with self._lock:
            if capture.key in self._made:
                return
            if self._worker is None:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-pdf")
            self._made[capture.key] = self._worker.submit(write_image_pdf, capture.tiles, self._dest(capture))

    def path_for(self, capture: PageCapture) -> Path:
        with self._lock:
            made = self._made.get(capture.key)
        if made is None:
            write_image_pdf(capture.tiles, self._dest(capture))
        else:
            made.result()
        return self._dest(capture)

    def close(self) -> None:
        """Stop the worker; one still writing finishes its file, which the run's folder removal takes."""
        if self._worker is not None:
            self._worker.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_) -> None:
        self.close()


def merge(parts: Sequence[Path], dest: Path) -> None:
    """`parts`' pages in order into `dest`, every stream copied as it is from its file when written."""
    import pikepdf

    pikepdf.Job(["qpdf", "--empty", "--stream-data=preserve", "--decode-level=none",
                 "--pages", *(str(p) for p in parts), "--", str(dest)]).run()
