"""Emulated real-world conditions for tests and benchmarks: network latency and throughput, a slower CPU.

Not a register key: a capture for the archive runs as fast as the machine allows. Tests run the fidelity
pages a second time throttled, so that the capture's timing heuristics (consent waits, pop-up detection,
settling, image waits) are shown to hold on a slow phone-like connection too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Throttle:
    """Latency added to every request, throughput in kbit/s each way, and how many times slower the CPU runs."""

    latency_ms: float = 150.0
    download_kbps: float = 10_000.0
    upload_kbps: float = 5_000.0
    cpu_slowdown: float = 4.0

    def network_conditions(self) -> dict:
        """Chromium's `Network.emulateNetworkConditions` parameters (throughput in bytes per second)."""
        return {"offline": False, "latency": self.latency_ms,
                "downloadThroughput": self.download_kbps * 1000 / 8, "uploadThroughput": self.upload_kbps * 1000 / 8}


async def apply_throttle(context, page, throttle: Throttle):
    """Throttle `page` through a CDP session of its own, before it navigates.

    The emulation lasts as long as that session, which is never detached: it ends with the page. Frames
    Chromium runs in another process (cross-site iframes) are outside that session and may escape it.
    """
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send("Network.emulateNetworkConditions", throttle.network_conditions())
    await cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle.cpu_slowdown})
    log.debug("throttled: %s", throttle)
    return cdp
