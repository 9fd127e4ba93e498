"""An offline demo: a fake municipal social-media site and a register pointing at it.

`make run` uses it to show the whole pipeline on a fresh machine with no internet access.
"""

from __future__ import annotations

import json
from pathlib import Path

from archiver.demo.server import serve_directory

SITE_DIR = Path(__file__).resolve().parent / "site"

__all__ = ["SITE_DIR", "demo_register_yaml", "serve_directory"]

_PAGES = (
    ("facebook", "facebook", "Götene kommun på Facebook"),
    ("instagram", "instagram", "Götene kommun på Instagram"),
    ("youtube", "youtube", "Götene kommun på YouTube"),
)


def demo_register_yaml(base_url: str, store: str = "output") -> str:
    """A register (schedules/pages.yaml format) for the demo site served at `base_url`.

    Private networks are allowed because the demo server listens on loopback.
    """
    base = base_url.rstrip("/")
    lines = [
        "# Demo register: the offline demo site served locally (archiver.demo).",
        'organisation: "Götene kommun (demo)"',
        "schedule:",
        "  interval_months: 6",
        "capture:",
        "  viewport: {width: 1280, height: 900}",
        "  timeout_s: 60",
        "  max_height_px: 100000",
        "  allow_private_networks: true  # the demo server runs on 127.0.0.1",
        "  concurrency: 2",
        "storage:",
        f"  local: {json.dumps(store, ensure_ascii=False)}",
        "bundle:",
        "  pdfa: 2b",
        "pages:",
    ]
    for page_id, platform, name in _PAGES:
        lines += [
            f"  - id: {page_id}",
            f"    platform: {platform}",
            f"    url: {json.dumps(f'{base}/{page_id}.html')}",
            "    owner: Kommunikationsavdelningen",
            f"    name: {json.dumps(name, ensure_ascii=False)}",
        ]
    return "\n".join(lines) + "\n"
