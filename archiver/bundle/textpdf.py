"""What the PDFs made of text share (a comparison report, a collection bundle): an A4 document with the
embedded DejaVu font, and the PDF/A save a bundle gets, validated by `pikepdf.pdfa`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pikepdf
import pikepdf.pdfa
from fpdf import FPDF

from archiver import TOOL_NAME, __version__
from archiver.bundle.fonts import find_font


class TextDocument(FPDF):
    def __init__(self, font: Path | None = None):
        super().__init__(unit="pt", format="A4")
        self.set_auto_page_break(True, margin=40)
        self.set_margins(40, 40, 40)
        self.add_font("Body", "", str(font or find_font()))
        self.set_font("Body", size=10)

    def say(self, text: str, size: float = 10, indent: float = 0) -> None:
        """A paragraph, left-aligned; characters the embedded font lacks are left out (PDF/A forbids
        showing .notdef)."""
        known = self.current_font.cmap
        self.set_font_size(size)
        self.set_x(self.l_margin + indent)
        self.multi_cell(self.epw - indent, size * 1.35, "".join(ch for ch in text if ord(ch) in known or ch == "\n"),
                        align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_font_size(10)

    def heading(self, text: str, size: float = 14) -> None:
        self.say(text, size)
        self.ln(4)

    def close_fonts(self) -> None:
        """fontTools keeps the font file open; closed before pikepdf validates (see bundle/pdf.py)."""
        for font in self.fonts.values():
            if hasattr(font, "close"):
                font.close()


def save_pdfa(doc: TextDocument, dest: Path, level: str, *, title: str, creator: str, error: type[Exception],
              identifier: str | None = None) -> int:
    """`doc` as PDF/A-`level` at `dest` (nothing written if it does not validate: `error` is raised);
    returns its page count."""
    with tempfile.TemporaryDirectory(prefix="archiver-textpdf-") as scratch:
        draft = Path(scratch) / "draft.pdf"
        doc.output(str(draft))
        doc.close_fonts()
        with pikepdf.open(draft) as pdf:
            if "/OpenAction" in pdf.Root:  # fpdf2's "open at page 1, full width": outside PDF/A's allowlist
                del pdf.Root.OpenAction
            with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
                meta["dc:title"] = title
                meta["dc:creator"] = [creator]
                if identifier:
                    meta["dc:identifier"] = identifier
                meta["xmp:CreatorTool"] = f"{TOOL_NAME} {__version__}"
            pages = len(pdf.pages)
            try:
                pikepdf.pdfa.save(pdf, dest, level)
            except pikepdf.pdfa.PdfaError as exc:
                Path(dest).unlink(missing_ok=True)
                raise error(f"the PDF did not pass PDF/A-{level} validation:\n{exc.report.summary()}") from exc
    return pages
