"""Writing files so that a crash leaves either the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename itself is still atomic
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o644, exact_mode: bool = False) -> Path:
    """Write `data` to a hidden temporary file beside `path`, flush it to disk, and rename it over `path`.

    The file has `mode` (less the umask) from its creation on, or exactly `mode` with `exact_mode`;
    symlinks at the temporary name are never followed.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        try:
            if exact_mode and hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def leftover_temps(path: Path) -> list[Path]:
    """Temporary files `write_atomic(path, ...)` left beside `path` when a crash stopped it before the rename."""
    path = Path(path)
    return sorted(p for p in path.parent.glob(f".{path.name}.*.tmp") if p.is_file())
