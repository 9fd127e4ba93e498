"""ReplayWeb.page's two files (ui.js, sw.js), which let the web page replay a bundle's WACZ in the browser.

They come from the npm package `replaywebpage` (Webrecorder, AGPL-3.0-or-later): the registry's tarball of a
pinned version, its SHA-256 checked, unpacked (ui.js, sw.js and the licence) into a data folder
of their own, outside this package and the repository. `make install` runs this module
(`python -m archiver.web.replay_assets`).
They are served by our own app, so replay needs no CDN and works offline.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from archiver.errors import ConfigurationError

log = logging.getLogger(__name__)

PACKAGE = "replaywebpage"
VERSION = "2.4.6"
TARBALL_SHA256 = "6faef5c261e94b6e83cd6ee975bd0378fd4bc948bb14d36d45c709ffecb261b8"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
FILES = ("ui.js", "sw.js", "LICENSE")


def assets_dir(env: Mapping[str, str] | None = None) -> Path:
    """ARCHIVER_REPLAY_DIR, else $XDG_DATA_HOME/archiver/replaywebpage-VERSION, else ~/.local/share/..."""
    env = os.environ if env is None else env
    if env.get("ARCHIVER_REPLAY_DIR"):
        return Path(env["ARCHIVER_REPLAY_DIR"]).expanduser()
    data_home = env.get("XDG_DATA_HOME")
    base = Path(data_home) if data_home and Path(data_home).is_absolute() else Path.home() / ".local" / "share"
    return base / "archiver" / f"{PACKAGE}-{VERSION}"


def installed(folder: Path | None = None) -> bool:
    folder = folder or assets_dir()
    return all((folder / name).is_file() for name in FILES)


def unpack(tarball: bytes, folder: Path) -> None:
    """Check the tarball against TARBALL_SHA256 and put FILES into `folder`, all at once or not at all."""
    digest = hashlib.sha256(tarball).hexdigest()
    if digest != TARBALL_SHA256:
        raise ConfigurationError(f"{PACKAGE}-{VERSION}.tgz has SHA-256 {digest}, not the pinned {TARBALL_SHA256}; "
                                 "not installing it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            for name in FILES:
                member = archive.extractfile(f"package/{name}")
                if member is None:
                    raise ConfigurationError(f"{PACKAGE}-{VERSION}.tgz has no {name}")
                (staging / name).write_bytes(member.read())
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def tarball_url(env: Mapping[str, str] | None = None) -> str:
    """The pinned tarball on the npm registry (npm's own `npm_config_registry` when set, as npm would)."""
    env = os.environ if env is None else env
    registry = (env.get("npm_config_registry") or DEFAULT_REGISTRY).rstrip("/")
    return f"{registry}/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"


def install(folder: Path | None = None, url: str | None = None) -> Path:
    """Fetch the pinned tarball from the npm registry (the bytes `npm pack` gets) and unpack it; nothing in
    the package is run."""
    folder = folder or assets_dir()
    if installed(folder):
        return folder
    url = url or tarball_url()
    try:
        with urllib.request.urlopen(url, timeout=120) as answer:
            tarball = answer.read()
    except OSError as exc:
        raise ConfigurationError(f"could not fetch ReplayWeb.page from {url}: {exc}; run "
                                 "`python -m archiver.web.replay_assets` where the npm registry can be reached, or "
                                 "put ui.js, sw.js and LICENSE from that package into "
                                 "ARCHIVER_REPLAY_DIR") from exc
    unpack(tarball, folder)
    log.info("installed ReplayWeb.page %s into %s", VERSION, folder)
    return folder


def main() -> int:
    """`make install`: fetch the files once; a machine without npm gets a message, and replay says so too."""
    try:
        print(install())
    except ConfigurationError as exc:
        print(f"replay in the web page is not installed: {exc}", file=sys.stderr)
        return 0 if os.environ.get("ARCHIVER_REPLAY_OPTIONAL") else 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
