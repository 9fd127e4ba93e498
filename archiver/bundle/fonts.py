"""Finding a TrueType font to embed: PDF/A forbids relying on the reader's fonts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from archiver.errors import ConfigurationError

CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
)


def find_font(env=None) -> Path:
    """ARCHIVER_FONT, else DejaVu Sans where distributions put it, else what fontconfig offers."""
    env = os.environ if env is None else env
    if env.get("ARCHIVER_FONT"):
        path = Path(env["ARCHIVER_FONT"])
        if not path.is_file():
            raise ConfigurationError(f"ARCHIVER_FONT={path}: no such font file")
        return path
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans:style=Book"],
                               capture_output=True, text=True, check=False).stdout.strip()
        if found.lower().endswith(".ttf") and Path(found).is_file():
            return Path(found)
    raise ConfigurationError("no TrueType font found for the PDF's text: install fonts-dejavu-core "
                             "or set ARCHIVER_FONT to a .ttf file")
