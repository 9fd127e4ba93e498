"""Helpers for the fault tests: running archiver under tests/kill_at.py, hashing a store, killing a run's
Chromium through /proc, and a small real disk in a private mount namespace."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archiver.store.local import BUNDLE_ID

TESTS = Path(__file__).resolve().parent
KILL_AT = TESTS / "kill_at.py"


def command(*args: str, point: str | None = None, stop: bool = False) -> list[str]:
    """`python -m archiver ARGS`, or under kill_at.py when a point is given."""
    if point is None:
        return [sys.executable, "-m", "archiver", *args]
    return [sys.executable, str(KILL_AT), *(["--stop"] if stop else []), point, "--", *args]


def env_for(registry: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "ARCHIVER_REGISTRY": str(registry), "PYTHONUNBUFFERED": "1", **extra}


def archiver(registry: Path, *args: str, point: str | None = None, prefix: tuple[str, ...] = (),
             **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, *command(*args, point=point)], capture_output=True, text=True,
                          env=env_for(registry, **extra_env), timeout=300, check=False)


def snapshot(store: Path) -> dict[str, str]:
    """SHA-256 of every file in every complete bundle folder (`YYYY/<id>/*`), by path relative to the store."""
    found = {}
    for path in sorted(store.glob("[0-9][0-9][0-9][0-9]/*/*")):
        if BUNDLE_ID.match(path.parent.name) and path.is_file():
            found[str(path.relative_to(store))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def wait_stopped(proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until `proc` has stopped itself (kill_at.py --stop): state T in /proc/PID/stat."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _out, err = proc.communicate()
            pytest.fail(f"the process ended (exit {proc.returncode}) instead of stopping:\n{err}")
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("T", "t"):
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the process did not reach its stop point in time")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_chromium_of(pid: int) -> list[int]:
    """SIGKILL every Chromium process the archiver process `pid` started (through Playwright's driver):
    those below it with Playwright's --user-data-dir. Other runs' browsers on the machine are not touched."""
    killed = []
    for child in descendants(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.startswith(b"--user-data-dir=") for arg in cmdline):
            try:
                os.kill(child, signal.SIGKILL)
                killed.append(child)
            except ProcessLookupError:
                pass
    return killed


class SmallDisk:
    """A real tmpfs of `size` mounted over `path` in a private mount namespace (`unshare --mount`), so nothing
    leaks into the machine's mounts even if the test dies: the namespace ends with its holder process, which
    ends when pytest closes (or loses) its stdin. Archiver runs inside it through `nsenter`; the test reads
    and writes its files through /proc/HOLDER/root."""

    def __init__(self, path: Path, size: str):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self.holder = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount -t tmpfs -o size="$1" archiver-test "$0" && echo mounted && exec cat >/dev/null',
                 str(self.path), size], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True)
        except FileNotFoundError:
            pytest.skip("unshare (util-linux) is not installed: no private mount namespace for a small disk")
        if self.holder.stdout.readline().strip() != "mounted":
            reason = self.holder.communicate(timeout=10)[1].strip()
            pytest.skip(f"cannot mount a small tmpfs in a private mount namespace here ({reason})")
        self.seen = Path(f"/proc/{self.holder.pid}/root") / self.path.relative_to("/")

    def prefix(self) -> tuple[str, ...]:
        return ("nsenter", f"--target={self.holder.pid}", "--mount", "--")

    def fill(self, name: str = "filler") -> Path:
        """Write a file until the disk refuses: nothing is left for anything else."""
        filler = self.seen / name
        with open(filler, "ab", buffering=0) as fh:
            block = b"\0" * 4096
            try:
                while True:
                    fh.write(block)
            except OSError:
                pass
        return filler

    def close(self) -> None:
        self.holder.stdin.close()
        try:
            self.holder.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.holder.kill()
