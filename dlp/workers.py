"""Scanning off the event loop, with an answer for every transfer in bounded time.

Regex scanning holds the GIL, so threads would stall every other user of the proxy; bodies
go to scanner processes instead (bytes in, a small ScanResult back). Tiny bodies are tried
inline first, because a round trip to a worker costs more than their scan; one that proves
bigger or slower than the event loop may carry (``Budget(inline=True)``) moves to a worker.

Scheduling, so that no upload waits behind another it need not:
- Two lanes by size. Small bodies may use every worker; large ones (``LARGE_BODY``) at most
  all but one, so a small upload never queues behind 30 MB files. In each lane a smaller
  body goes before a larger one that has not waited long (``SIZE_HEADSTART``): small ones
  overtake, and a large one is never starved by a stream of smaller ones.
- The queue is bounded in length (``inspect.queue_max``) and in time (``inspect.queue_wait``):
  past either, the transfer is answered at once as uninspectable ``overloaded``.
- ``inspect.timeout`` counts the scan, not the wait. Each scan's deadline (timeout plus
  ``GRACE_SECONDS``) is enforced here, outside the worker: a worker that overruns it is
  killed alone and replaced, and one that dies is replaced; only the transfer it carried
  gets its verdict (timeout, or an engine error), every other one keeps its place. A worker
  found dead while idle carried nothing: it is replaced and no transfer pays for it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from dlp import engine, memtrim
from dlp.config import InspectSettings
from dlp.extract.budget import Offload
from dlp.model import ScanResult, Transfer

log = logging.getLogger("sekimori.workers")

GRACE_SECONDS = 2.0
"""Extra time a worker gets past the scan budget before the result is declared a timeout."""

INLINE_HARD_MAX = 16 * 1024
"""Bodies up to this size (on the wire) are tried on the event loop's own thread."""

LARGE_BODY = 4 * 2**20
"""Bodies from this size on take the large lane, which leaves one worker to the small one."""

SIZE_HEADSTART = 4 * 2**20
"""Bytes per second of head start: a body waits as if it had arrived ``size / SIZE_HEADSTART``
seconds later than it did (1 s for 4 MiB, 8 s for 32 MiB), so it is overtaken only by
smaller bodies that arrive within that time (shortest-first alone let a 256 KiB body wait
until the stream of smaller ones ended, past ``queue_wait``)."""

DELIVERY_ATTEMPTS = 3
"""Workers a transfer is offered to when the one it was given had died before the job reached
it (a scanner killed while idle); then it is answered as an engine error."""


Job = tuple[Callable[[Transfer, InspectSettings, frozenset[str]], ScanResult], Transfer, InspectSettings,
            frozenset[str]]
"""What a worker receives: the scan function (``engine.scan``, sent by reference), its arguments."""


def _serve(conn: Connection) -> None:
    """A scanner process: one Job in, one ScanResult out, until the parent closes the pipe.
    Ignores Ctrl-C: the parent decides when it stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            scan, transfer, limits, enabled = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(scan(transfer, limits, enabled))
        if len(transfer.body) >= memtrim.LARGE:
            del transfer
            memtrim.trim()


class Undelivered(Exception):
    """A job could not be sent: the worker had died while idle. The transfer was never
    scanned, so it waits for another worker instead of taking that worker's death as its own."""


class _Worker:
    """One scanner process and the parent's end of its pipe."""

    def __init__(self, ctx: Any):
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child,), daemon=True, name="sekimori-scanner")
        self.process.start()
        child.close()
        self.conn: Connection = parent

    def roundtrip(self, job: Job) -> ScanResult:
        """Blocking: runs in a helper thread (sending a 60 MB body must not stall the loop).
        Raises ``Undelivered`` if the job never reached the worker (it had died before)."""
        try:
            self.conn.send(job)
        except (OSError, EOFError) as e:
            raise Undelivered(str(e)) from e
        result: ScanResult = self.conn.recv()
        return result

    def usage(self) -> tuple[float, int]:
        """(CPU seconds used, resident bytes) of the process, from /proc; zeros once it is gone."""
        try:
            with open(f"/proc/{self.process.pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0, 0
        return (int(fields[11]) + int(fields[12])) / _TICKS, int(fields[21]) * _PAGE

    def alive(self) -> bool:
        return self.process.is_alive()

    def exit_description(self) -> str:
        code = self.process.exitcode
        if code is None:
            return "still running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def kill(self) -> None:
        if self.process.is_alive() and self.process.pid is not None:
            os.kill(self.process.pid, signal.SIGKILL)
        # in a helper thread: wait for the fork server to report how it ended, even when the
        # machine is busy (a 2 s wait logged "still running" for a worker killed by SIGKILL)
        self.process.join(timeout=15)
        self.conn.close()


_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(order=True)
class _Waiting:
    turn: float      # when it arrived, plus its size's head start (SIZE_HEADSTART)
    seq: int
    granted: asyncio.Future[_Worker] = field(compare=False)


def _uninspectable(reason: str, message: str) -> ScanResult:
    result = ScanResult()
    result.mark_uninspectable(reason, message)
    return result


def _died() -> ScanResult:
    result = ScanResult()
    result.engine_error = "scanner worker died"
    result.errors.append("internal error: scanner worker died")
    return result


class ScanPool:
    """Scanner processes, the queue in front of them, and the inline and thread paths."""

    def __init__(self, workers: int, observe_wait: Callable[[float], None] | None = None):
        self.workers = workers
        self._observe_wait = observe_wait
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["dlp.warm"])  # workers fork with the engine and its data loaded
        self._threads = ThreadPoolExecutor(2 * max(1, workers) + 2, thread_name_prefix="sekimori-pipe")
        self._all: set[_Worker] = set()
        self._idle: list[_Worker] = []
        self._alive = 0  # workers running or being started
        self._retired_cpu = 0.0  # CPU seconds of workers killed since start
        self._busy_large = 0
        self._lanes: dict[bool, list[_Waiting]] = {False: [], True: []}  # large? -> heap
        self._seq = itertools.count()
        self._waiting = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.depth = 0
        """Transfers waiting for or in a worker scan (dlp_scan_queue_depth)."""
        self.scan_function = engine.scan
        """What workers run (a module-level function: sent by reference). Fault tests put
        a stuck or crashing scan here."""

    @property
    def waiting(self) -> int:
        """Transfers waiting for a worker (entries given up stay in the heaps until popped)."""
        return self._waiting

    def start(self) -> None:
        """Start the workers now, so the first upload does not wait for them."""
        if self.workers > 0:
            self._ensure()

    async def scan(self, transfer: Transfer, limits: InspectSettings, enabled: frozenset[str]) -> ScanResult:
        """Scan ``transfer`` without blocking the event loop for more than a tiny body."""
        if len(transfer.body) <= min(limits.inline_max, INLINE_HARD_MAX):
            try:
                return engine.scan(transfer, limits, enabled, inline=True)
            except Offload:
                pass  # bigger or slower than it looked: a worker scans it from the start
        if self.workers <= 0:  # scans in threads (tests, debugging): bounded by the budget only
            try:
                return await asyncio.wait_for(asyncio.to_thread(engine.scan, transfer, limits, enabled),
                                              limits.timeout + GRACE_SECONDS)
            except TimeoutError:
                return _uninspectable("timeout", f"scan exceeded its time budget of {limits.timeout:g}s")
        self.depth += 1
        try:
            return await self._queued(transfer, limits, enabled)
        finally:
            self.depth -= 1

    async def _queued(self, transfer: Transfer, limits: InspectSettings, enabled: frozenset[str]) -> ScanResult:
        if self.waiting >= limits.queue_max:
            return _uninspectable("overloaded", f"scan queue full ({limits.queue_max} transfers waiting)")
        large = len(transfer.body) >= LARGE_BODY and self.workers > 1
        for _attempt in range(DELIVERY_ATTEMPTS):
            worker = await self._wait(large, len(transfer.body), limits)
            if worker is None:
                return _uninspectable("overloaded",
                                      f"no scanner free within inspect.queue_wait ({limits.queue_wait:g}s)")
            try:
                return await self._run(worker, transfer, limits, enabled)
            except Undelivered:
                continue  # that worker was dead before the job reached it: wait for another
            finally:
                if large:
                    self._busy_large -= 1
                self._dispatch()
        return _died()

    async def _wait(self, large: bool, size: int, limits: InspectSettings) -> _Worker | None:
        """A worker for this transfer, or None if none came within ``queue_wait``."""
        queued = time.monotonic()
        entry = _Waiting(queued + size / SIZE_HEADSTART, next(self._seq), asyncio.get_running_loop().create_future())
        heapq.heappush(self._lanes[large], entry)
        self._waiting += 1
        self._ensure()
        self._dispatch()
        try:
            worker = await asyncio.wait_for(asyncio.shield(entry.granted), limits.queue_wait)
        except (TimeoutError, asyncio.CancelledError) as e:
            if not entry.granted.done():
                entry.granted.cancel()  # the dispatcher skips it
                self._waiting -= 1
                if isinstance(e, asyncio.CancelledError):
                    raise
                return None
            worker = entry.granted.result()  # granted just as the wait ended
            if isinstance(e, asyncio.CancelledError):
                self._busy_large -= large  # nobody will use it: back to the pool
                self._idle.append(worker)
                self._dispatch()
                raise
        if self._observe_wait is not None:
            self._observe_wait(time.monotonic() - queued)
        return worker

    async def _run(self, worker: _Worker, transfer: Transfer, limits: InspectSettings,
                   enabled: frozenset[str]) -> ScanResult:
        """One scan on ``worker`` within its deadline; afterwards the worker is idle again,
        or killed and replaced."""
        call = asyncio.get_running_loop().run_in_executor(self._threads, worker.roundtrip,
                                                          (self.scan_function, transfer, limits, enabled))
        try:
            result = await asyncio.wait_for(call, limits.timeout + GRACE_SECONDS)
        except TimeoutError:
            # The budget could not interrupt the scan (a library call that parses a whole
            # part at once): this worker alone is stopped; its pipe thread ends with it.
            self._replace(worker, f"overran the scan budget ({limits.timeout:g}s + {GRACE_SECONDS:g}s grace), "
                                  "so it was killed")
            return _uninspectable("timeout", f"scan exceeded its time budget of {limits.timeout:g}s")
        except Undelivered:
            self._replace(worker, "had died while idle")
            raise  # the transfer was not scanned: _queued finds it another worker
        except (EOFError, OSError):
            self._replace(worker, "died mid-scan; that transfer gets inspect.on_error")
            return _died()
        except BaseException:
            self._replace(worker)  # cancelled mid-scan: the pipe is in an unknown state
            raise
        self._idle.append(worker)
        return result

    def _dispatch(self) -> None:
        """Hand idle workers to waiting transfers: the small lane first, the large lane only
        while another worker stays free for small ones."""
        while self._idle and not self._closed:
            if not self._idle[-1].alive():  # died while idle (OOM killer, an operator): no transfer's fault
                self._replace(self._idle.pop(), "had died while idle")
                continue
            entry = self._next(self._lanes[False])
            if entry is None and self._busy_large < self.workers - 1:
                entry = self._next(self._lanes[True])
                if entry is not None:
                    self._busy_large += 1  # until the transfer's scan ends (see _queued)
            if entry is None:
                return
            self._waiting -= 1
            entry.granted.set_result(self._idle.pop())

    @staticmethod
    def _next(lane: list[_Waiting]) -> _Waiting | None:
        while lane:
            entry = heapq.heappop(lane)
            if not entry.granted.done():
                return entry
        return None

    def _ensure(self) -> None:
        """Start workers until ``workers`` are running or starting."""
        while self._alive < self.workers and not self._closed:
            self._alive += 1
            task = asyncio.get_running_loop().create_task(self._spawn())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _spawn(self) -> None:
        try:
            worker = await asyncio.get_running_loop().run_in_executor(self._threads, _Worker, self._ctx)
        except Exception as e:  # cannot fork (memory, process limit): the queue's wait limit answers
            self._alive -= 1
            log.error("could not start a scanner process: %s", e)
            return
        self._all.add(worker)
        if self._closed:
            self._kill(worker)
            return
        self._idle.append(worker)
        self._dispatch()

    def _replace(self, worker: _Worker, why: str = "") -> None:
        """Stop ``worker`` (in a helper thread: reaping it may take a moment) and start
        another; ``why`` is logged with how it ended."""
        self._alive -= 1
        self._threads.submit(self._kill, worker, why)
        self._ensure()

    def _kill(self, worker: _Worker, why: str = "") -> None:
        self._retired_cpu += worker.usage()[0]
        worker.kill()
        self._all.discard(worker)
        if why:
            log.error("scanner process %s %s (%s): replaced", worker.process.pid, why, worker.exit_description())

    def usage(self) -> tuple[float, int, int]:
        """(CPU seconds used by scanner processes since start, retired ones included; their
        resident bytes now; how many run): the proxy's own process metrics do not see them."""
        now = [w.usage() for w in list(self._all)]
        return self._retired_cpu + sum(c for c, _r in now), sum(r for _c, r in now), len(now)

    def close(self) -> None:
        """Stop every worker now (SIGTERM of the proxy must leave no child behind)."""
        self._closed = True
        for lane in self._lanes.values():
            for entry in lane:
                if not entry.granted.done():
                    entry.granted.cancel()
            lane.clear()
        self._waiting = 0
        for worker in list(self._all):
            worker.kill()
        self._all.clear()
        self._idle.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)
