"""What the page has in flight on the network, for the waits that must tell "still loading" from "done"."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

RECENT_REQUEST_S = 2.0  # requests older than this are long polls and streams, not a feed loading
# Requests that may run code or bring a document: a feed's next batch, a consent manager's dialog. Images,
# media and fonts only fill in what is already there.
FEED_REQUEST_TYPES = frozenset({"fetch", "xhr", "script", "document", "other"})
SLOW_REQUEST_S = 6.0  # a feed request still in flight when the settle window ends gets this long more


@dataclass
class NetworkWatch:
    """Requests in flight, so the feed-end wait can tell "still loading" from "polling for ever"."""

    started: dict = field(default_factory=dict)
    finished: deque = field(default_factory=lambda: deque(maxlen=64))  # (type, started, ended), the latest

    def attach(self, page) -> None:
        loop = asyncio.get_running_loop()
        page.on("request", lambda request: self.started.__setitem__(request, loop.time()))
        page.on("requestfinished", lambda request: self._ended(request, loop.time()))
        page.on("requestfailed", lambda request: self._ended(request, loop.time()))

    def _ended(self, request, now: float) -> None:
        started = self.started.pop(request, None)
        if started is not None:
            self.finished.append((request.resource_type, started, now))

    def _in_flight(self, types: frozenset[str] | None, younger_than_s: float = float("inf"),
                   started_at_or_after: float = float("-inf")) -> bool:
        now = asyncio.get_running_loop().time()
        return any(now - t < younger_than_s and t >= started_at_or_after
                   and (types is None or request.resource_type in types) for request, t in self.started.items())

    def loading(self, types: frozenset[str] | None = None) -> bool:
        """A request (of `types`, or any) in flight that started less than RECENT_REQUEST_S ago."""
        return self._in_flight(types, younger_than_s=RECENT_REQUEST_S)

    def quiet_since(self, moment: float, types: frozenset[str]) -> bool:
        """No request of `types` in flight that started less than SLOW_REQUEST_S ago (older ones are long polls
        and streams), and none ended after `moment` (its handler may not have run yet); loop times."""
        return not self._in_flight(types, younger_than_s=SLOW_REQUEST_S) \
            and not any(end > moment for kind, _, end in self.finished if kind in types)

    def loading_since(self, mark: float, types: frozenset[str]) -> bool:
        """A request of one of `types` that started at or after `mark` (loop time) is still in flight."""
        return self._in_flight(types, started_at_or_after=mark)
