"""Scanning off the event loop.

Regex scanning holds the GIL, so threads would stall every other user of the proxy; large
bodies go to a process pool instead (bytes in, a small ScanResult back). Tiny bodies are
scanned inline because a round trip to a worker costs more than the scan. A scan that does
not come back in time, or a worker that dies, yields a defined result (timeout or engine
error), never a silent pass.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from dlp import engine
from dlp.config import InspectSettings
from dlp.model import ScanResult, Transfer

GRACE_SECONDS = 2.0
"""Extra time a worker gets past the scan budget before the result is declared a timeout."""

INLINE_HARD_MAX = 16 * 1024
"""Bodies up to this size are scanned in the event loop's process (a few milliseconds)."""


def _worker_init() -> None:
    # Workers ignore Ctrl-C; the parent decides when they stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ScanPool:
    """A pool of scanner processes with inline and thread fallbacks."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self.depth = 0

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["dlp.warm"])  # workers fork with the engine and its data loaded
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_worker_init)
        return self._pool

    async def scan(self, transfer: Transfer, limits: InspectSettings, enabled: frozenset[str]) -> ScanResult:
        """Scan ``transfer`` without blocking the event loop for more than a tiny body."""
        if len(transfer.body) <= min(limits.inline_max, INLINE_HARD_MAX):
            return engine.scan(transfer, limits, enabled)
        self.depth += 1
        try:
            for attempt in (1, 2):
                try:
                    return await self._offload(transfer, limits, enabled)
                except TimeoutError:
                    # The budget could not interrupt the scan (a library call that parses a
                    # whole part at once): stop the runaway worker rather than let it burn on.
                    if self.workers > 0:
                        self._discard()
                    result = ScanResult()
                    result.mark_uninspectable("timeout", f"scan exceeded its time budget of {limits.timeout:g}s")
                    return result
                except BrokenProcessPool:
                    # Another transfer's timeout recycled the pool, or a worker died: try once
                    # more on a fresh pool before calling it an engine error.
                    self._discard()
                    if attempt == 2:
                        result = ScanResult()
                        result.engine_error = "scanner worker died"
                        result.errors.append("internal error: scanner worker died")
                        return result
            raise AssertionError("unreachable")
        finally:
            self.depth -= 1

    async def _offload(self, transfer: Transfer, limits: InspectSettings, enabled: frozenset[str]) -> ScanResult:
        if self.workers <= 0:
            fut = asyncio.to_thread(engine.scan, transfer, limits, enabled)
        else:
            loop = asyncio.get_running_loop()
            fut = loop.run_in_executor(self._executor(), engine.scan, transfer, limits, enabled)
        return await asyncio.wait_for(fut, limits.timeout + GRACE_SECONDS)

    def _discard(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            self._kill(pool)

    @staticmethod
    def _kill(pool: ProcessPoolExecutor) -> None:
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
        for p in procs:
            p.join(timeout=2)

    def close(self) -> None:
        """Stop every worker now (SIGTERM of the proxy must leave no child behind)."""
        self._discard()
