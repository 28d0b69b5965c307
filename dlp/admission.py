"""How many bytes of request bodies the proxy holds at once (``inspect.max_in_flight``).

A proxy buffers every body it inspects, so twenty clients uploading 50 MB at once would hold
a gigabyte before the first scan ends (and mitmproxy copies each body once more when it
ends). Bodies from ``SMALL`` on ask for their size before they are read; while the total
would pass the capacity they wait, first come first served, and the front end stops reading
their bytes (TCP pushes back on the client). One body larger than the whole capacity is let
in alone. Small bodies never wait: they cannot make the total much larger, and they must not
queue behind files.

Pure asyncio, no proxy: the mitmproxy addon (``addons/admission.py``) and a future ICAP server
share it.
"""

from __future__ import annotations

import asyncio
from collections import deque

SMALL = 1 << 20
"""Bodies below this size are admitted at once and not counted."""


class Admission:
    """A byte semaphore with FIFO waiters."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.used = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        return sum(1 for _s, f in self._waiters if not f.done())

    def counted(self, size: int) -> int:
        """What a body of ``size`` bytes takes from the capacity (0: small, admitted at once)."""
        return 0 if size < SMALL else min(size, self.capacity)

    def try_acquire(self, size: int) -> bool:
        """Take ``counted(size)`` bytes now if they fit and nobody waits before."""
        need = self.counted(size)
        if need == 0:
            return True
        if not self._waiters and self.used + need <= self.capacity:
            self.used += need
            return True
        return False

    async def acquire(self, size: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``counted(size)`` bytes; False if they did not come."""
        if self.try_acquire(size):
            return True
        need = self.counted(size)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((need, future))
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            if future.done():
                return True  # granted just as the wait ran out
            future.cancel()
            self._wake()
            return False
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(need)  # granted, but nobody will use it
            else:
                future.cancel()
                self._wake()
            raise
        return True

    def release(self, counted: int) -> None:
        """Give back what ``counted`` returned for an admitted body."""
        self.used -= counted
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            need, future = self._waiters[0]
            if future.done():
                self._waiters.popleft()
                continue
            if self.used + need > self.capacity and self.used > 0:
                return
            self._waiters.popleft()
            self.used += need
            future.set_result(None)
