"""Wall and CPU seconds per named step of a run and of each page's capture script.

Every step's wall time is noted always (one clock read; the log shows it at debug level). CPU time is read
only when a run is profiled (`archiver run --profile FILE`, `make bench`), because it asks the operating
system about every process: ours is this process (`time.process_time`: the event loop and the threads that
decode PNGs); the browser's is the sum over this process's descendants, Playwright's driver (node) and
Chromium's processes separately. With several pages at once their steps overlap in time, so a step's CPU
figures belong to it alone only when one page is captured at a time, as in the bench's per-page runs.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DRIVER_PREFIX = "node"  # Playwright's driver ("node-MainThread" on Linux); everything else below us is Chromium


@dataclass
class Step:
    name: str
    wall_s: float
    cpu_s: float | None = None  # this process
    driver_cpu_s: float | None = None
    browser_cpu_s: float | None = None
    within: str | None = None  # a part of that step, already counted in it


class CpuSampler:
    """CPU seconds so far of this process, of Playwright's driver and of Chromium.

    A child that has exited keeps the last figure read for it, so the sums never go down when a page's
    renderer process ends with its context.
    """

    def __init__(self) -> None:
        import psutil  # only when profiling: it is not needed to capture

        self._psutil = psutil
        self._me = psutil.Process(os.getpid())
        self._children: dict[int, tuple[bool, float]] = {}  # pid -> (is the driver, CPU seconds)

    def sample(self) -> tuple[float, float, float]:
        try:
            children = self._me.children(recursive=True)
        except self._psutil.Error:
            children = []
        for child in children:
            try:
                with child.oneshot():
                    times = child.cpu_times()
                    self._children[child.pid] = (child.name().startswith(DRIVER_PREFIX), times.user + times.system)
            except self._psutil.Error:
                continue  # exited between listing and reading: its last figure stays
        driver = sum(cpu for is_driver, cpu in self._children.values() if is_driver)
        browser = sum(cpu for is_driver, cpu in self._children.values() if not is_driver)
        return time.process_time(), driver, browser


class StepClock:
    """Notes each `step(name)` it times; with a `CpuSampler`, the CPU spent in it too."""

    def __init__(self, sampler: CpuSampler | None = None, label: str = "") -> None:
        self.sampler = sampler
        self.label = label
        self.steps: list[Step] = []

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        before = self.sampler.sample() if self.sampler else None
        started = time.perf_counter()
        try:
            yield
        finally:
            wall = time.perf_counter() - started
            step = Step(name, round(wall, 4))
            if before is not None:
                after = self.sampler.sample()
                step.cpu_s, step.driver_cpu_s, step.browser_cpu_s = (round(b - a, 4) for a, b in zip(before, after))
            self.steps.append(step)
            log.debug("%s%s: %.3f s", f"{self.label}: " if self.label else "", name, wall)

    def add_part(self, name: str, wall_s: float, within: str) -> None:
        """A part of a step timed by the caller (interleaved with the step's other work, so not a step)."""
        self.steps.append(Step(name, round(wall_s, 4), within=within))

    def as_list(self) -> list[dict]:
        return [{k: v for k, v in asdict(step).items() if v is not None} for step in self.steps]


def process_age_s() -> float:
    """Seconds since this process started: the interpreter's start and the imports before `run` begins.

    On Linux from /proc (the start in clock ticks since boot, against the boot-time clock: 10 ms steps);
    psutil's creation time elsewhere, which adds the boot time rounded to a second on Linux.
    """
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, counted after the command name
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import psutil

        return max(0.0, time.time() - psutil.Process(os.getpid()).create_time())
    except ImportError:
        return 0.0
