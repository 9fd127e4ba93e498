"""glibc's malloc arenas, capped for this process: the captures' threads otherwise each grow their own.

A run decodes tiles, writes WARCs and builds PDFs on threads. glibc gives threads malloc arenas of their
own (up to eight per core) and keeps in each what was freed there, so our process's peak grew with the
threads rather than the work: a 100-page run with its WACZ peaked at 412-427 MB, and at 331-347 MB with
two arenas, for the same CPU time (2 cores, 2026-12-03). `MALLOC_ARENA_MAX` set by the operator wins;
elsewhere than glibc nothing is done.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def cap_arenas(count: int = ARENAS) -> bool:
    """Ask glibc for at most `count` arenas from now on; whether it took it."""
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the C library the interpreter runs on
    if mallopt is None:
        return False
    done = bool(mallopt(M_ARENA_MAX, count))
    log.debug("malloc arenas capped at %d: %s", count, done)
    return done
