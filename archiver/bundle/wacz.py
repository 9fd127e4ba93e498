"""The bundle's web archive: one WACZ 1.1.1 of every page's recorded visit, built by py-wacz, and its check.

Each captured page brought its own WARC (archiver/capture/record.py): the visit's requests and
responses, a page-info record of every URL it loaded, and the whole-page screenshot as a PNG resource
record whose decoded pixels are the page's `pixels_sha256` in the manifest. py-wacz indexes them
(cdxj-indexer), stores the WARCs and the index uncompressed in the ZIP (they are gzip already), and writes
datapackage.json with every file's SHA-256 and datapackage-digest.json. pages/pages.jsonl is ours: one
line per captured page with its title and time. The manifest names the WACZ with its SHA-256, so the
trusted timestamp over the manifest covers it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import tempfile
import zipfile
from pathlib import Path

from archiver.bundle.manifest import sha256_file
from archiver.errors import ArchiverError
from archiver.models import PageCapture

log = logging.getLogger(__name__)

WACZ_MEDIA_TYPE = "application/wacz"
PAGES_FORMAT = "json-pages-1.0"


class WaczError(ArchiverError):
    """py-wacz refused to build the web archive; the bundle is stored without it (pipeline._web_archive)."""


class _LogLines(io.TextIOBase):
    """py-wacz reports its progress on stdout, which is the CLI's `--json`; here it goes to the log."""

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                log.debug("py-wacz: %s", line.strip())
        return len(text)


def pages_jsonl(captures: list[PageCapture], title: str) -> str:
    """pages/pages.jsonl: a header, then each recorded page's URL, time, title and capture key as its id."""
    lines = [{"format": PAGES_FORMAT, "id": "pages", "title": title}]
    for capture in captures:
        recording = capture.recording
        lines.append({"id": capture.key, "url": recording["page_url"], "ts": recording["page_ts"],
                      "title": (capture.title or capture.page_id) + (" (mobil)" if capture.variant == "mobile" else "")})
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def build_wacz(captures: list[PageCapture], out_path: Path, title: str) -> dict | None:
    """The WACZ of the captures that were recorded and succeeded, at `out_path`; None when there is none."""
    recorded = [c for c in captures if c.ok and c.recording]
    if not recorded:
        return None
    from wacz.main import main as wacz_main

    with tempfile.TemporaryDirectory(prefix="archiver-wacz-") as scratch:
        pages = Path(scratch) / "pages.jsonl"
        pages.write_text(pages_jsonl(recorded, title), encoding="utf-8")
        first = recorded[0].recording
        args = ["create", *(str(c.recording["warc_path"]) for c in recorded), "-o", str(out_path),
                "-p", str(pages), "--copy-pages", "--hash-type", "sha256", "--title", title]
        if first["page_record"]:  # py-wacz refuses a main page the index lacks
            args += ["--url", first["page_url"], "--date", first["page_ts"]]
        try:
            with contextlib.redirect_stdout(_LogLines()):
                code = wacz_main(args)
        except (ValueError, KeyError, OSError) as exc:  # py-wacz's own refusals, and a full disk
            out_path.unlink(missing_ok=True)
            raise WaczError(f"py-wacz could not build {out_path.name}: {exc}") from exc
    if code != 0:
        out_path.unlink(missing_ok=True)
        raise WaczError(f"py-wacz could not build {out_path.name} (exit {code}); the debug log has its report")
    return {"file": out_path.name, "media_type": WACZ_MEDIA_TYPE, "sha256": sha256_file(out_path),
            "bytes": out_path.stat().st_size, "pages": len(recorded),
            "warcs": [f"archive/{Path(c.recording['warc_path']).name}" for c in recorded]}


def check_wacz(path: Path, manifest: dict) -> list[tuple[str, bool, str]]:
    """The WACZ against the manifest and itself: its SHA-256, every file against datapackage.json, the
    digest of datapackage.json, and each page's screenshot record against the page's pixel hash."""
    listed = manifest["wacz"]
    if not path.is_file():
        return [("WACZ present", False, str(path))]
    checks = [("WACZ present", True, str(path))]
    sha = sha256_file(path)
    checks.append(("WACZ SHA-256 matches manifest", sha == listed["sha256"],
                   f"computed {sha}, manifest says {listed['sha256']}"))
    try:
        with zipfile.ZipFile(path) as archive:
            checks += _check_package(archive)
            checks += [_check_screenshot(archive, page) for page in manifest["pages"]
                       if page.get("recording", {}).get("screenshot_record")]
    except (zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        checks.append(("WACZ readable", False, f"{path.name}: {exc}"))
    return checks


def _sha256_member(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as member:
        for block in iter(lambda: member.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _check_package(archive: zipfile.ZipFile) -> list[tuple[str, bool, str]]:
    package_bytes = archive.read("datapackage.json")
    package = json.loads(package_bytes)
    bad = []
    for resource in package.get("resources", []):
        try:
            sha, size = _sha256_member(archive, resource["path"])
        except KeyError:
            bad.append(f"{resource['path']}: missing")
            continue
        if f"sha256:{sha}" != resource.get("hash") or size != resource.get("bytes"):
            bad.append(f"{resource['path']}: computed sha256:{sha} ({size} bytes), datapackage.json says "
                       f"{resource.get('hash')} ({resource.get('bytes')} bytes)")
    unlisted = {info.filename for info in archive.infolist()} - {r["path"] for r in package.get("resources", [])} \
        - {"datapackage.json", "datapackage-digest.json"}
    bad += [f"{name}: in the WACZ but not in datapackage.json" for name in sorted(unlisted)]
    digest = json.loads(archive.read("datapackage-digest.json"))
    package_sha = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    return [
        ("WACZ files match datapackage.json", not bad,
         "; ".join(bad) if bad else f"{len(package.get('resources', []))} files"),
        ("WACZ datapackage-digest.json matches datapackage.json", digest.get("hash") == package_sha,
         f"computed {package_sha}, digest says {digest.get('hash')}"),
    ]


def _check_screenshot(archive: zipfile.ZipFile, page: dict) -> tuple[str, bool, str]:
    from PIL import Image
    from warcio.archiveiterator import ArchiveIterator

    recording = page["recording"]
    name = f"screenshot record of {page.get('key', page['id'])} matches its pixel hash"
    with archive.open(recording["warc"]) as warc:
        for record in ArchiveIterator(warc):
            if record.rec_headers.get_header("WARC-Record-ID") != recording["screenshot_record"]:
                continue
            image = Image.open(io.BytesIO(record.content_stream().read()))
            image.load()
            pixels = hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()
            return (name, pixels == page["pixels_sha256"],
                    f"{image.width}x{image.height} px; computed {pixels}, manifest says {page['pixels_sha256']}")
    return name, False, f"no record {recording['screenshot_record']} in {recording['warc']}"
