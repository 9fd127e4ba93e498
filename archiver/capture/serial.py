"""Blocking work run in order, one piece at a time, on the event loop's own thread pool.

A capture's WARC writes must run in order and one at a time, off the event loop. A thread of their own
per capture would do that too, but a run of a hundred pages would start a hundred more threads; the
loop's pool keeps the same few (see also archiver/malloc.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Serial:
    """`submit(work, *args)` returns a future; each piece starts once the one before it has ended."""

    def __init__(self) -> None:
        self._tail: asyncio.Future | None = None
        self._pending: set[asyncio.Future] = set()
        self._failure: BaseException | None = None  # the first piece that raised

    def submit(self, work: Callable, *args) -> asyncio.Future:
        before = self._tail

        async def run():
            if before is not None:
                await asyncio.wait([before])  # its failure is its own future's, not this one's
            return await asyncio.to_thread(work, *args)

        task = asyncio.ensure_future(run())
        self._tail = task
        self._pending.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Future) -> None:
        self._pending.discard(task)
        if self._failure is None and not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()

    async def drain(self, check: bool = True) -> None:
        """Wait for everything submitted; with `check`, raise the first failure among them."""
        if self._pending:
            await asyncio.wait(set(self._pending))
        if check and self._failure is not None:
            raise self._failure

    def cancel(self) -> None:
        """Drop what has not started; a piece already in a thread ends by itself."""
        for task in self._pending:
            task.cancel()
