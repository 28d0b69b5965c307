"""The scan pool (issues 13 and 14): a scan that overruns its budget is a timeout and its
worker alone is stopped; a worker that dies costs only its own transfer; small uploads never
wait behind large ones; the budget counts the scan, not the wait; a full queue or a long wait
answers 'overloaded'; a tiny body that expands moves off the event loop. Real scanner
processes; the scan function they run is replaced by one that sleeps where a test needs a
slow scan (a stuck library call)."""

import asyncio
import gzip
import os
import signal
import time

import pytest

from dlp import engine
from dlp.config import InspectSettings
from dlp.detect.registry import DETECTOR_IDS
from dlp.extract.budget import Offload
from dlp.model import Transfer
from dlp.workers import LARGE_BODY, ScanPool

ALL = frozenset({"email"})


def _slow_scan(transfer, limits, enabled):  # runs in the worker: stands in for a stuck library call
    if transfer.body.startswith(b"SLOW"):
        time.sleep(60)
    return engine.scan(transfer, limits, enabled)


def test_timeout_recycles_the_worker_and_others_still_get_answers(monkeypatch):
    monkeypatch.setattr("dlp.workers.GRACE_SECONDS", 0.5)
    limits = InspectSettings(timeout=1.0, inline_max=0)
    pool = ScanPool(2)
    pool.scan_function = _slow_scan

    async def run():
        slow = Transfer("http", b"SLOW" + b"x" * 20000)
        fine = Transfer("http", b"a.person@example.jp\n" * 2000)
        return await asyncio.gather(pool.scan(slow, limits, ALL), pool.scan(fine, limits, ALL))

    started = time.monotonic()
    try:
        slow_result, fine_result = asyncio.run(run())
    finally:
        pool.close()
    assert slow_result.uninspectable == ["timeout"]
    assert fine_result.engine_error is None and fine_result.findings == {"email": 1}
    assert time.monotonic() - started < 20


def _sleepy_scan(transfer, limits, enabled):  # in the worker: a scan as slow as its body asks
    head, _sep, _rest = transfer.body.partition(b"\n")
    if head.startswith(b"SLEEP "):
        time.sleep(float(head.split()[1]))
    return engine.scan(transfer, limits, enabled)


def _body(seconds: float, size: int) -> bytes:
    head = f"SLEEP {seconds}\n".encode()
    return head + b"x" * (size - len(head))


def _run(pool: ScanPool, coro_factory):
    async def main():
        pool.start()
        return await coro_factory()
    try:
        return asyncio.run(main())
    finally:
        pool.close()


def test_a_small_upload_never_waits_behind_large_ones():
    """Three large scans hold at most one of two workers; the small upload gets the other."""
    limits = InspectSettings(timeout=30, inline_max=0)
    pool = ScanPool(2)
    pool.scan_function = _sleepy_scan

    async def scenario():
        await asyncio.sleep(1.5)  # workers up
        large = [asyncio.create_task(pool.scan(Transfer("http", _body(2, LARGE_BODY)), limits, ALL))
                 for _ in range(3)]
        await asyncio.sleep(0.2)
        started = time.monotonic()
        small = await pool.scan(Transfer("http", b"a.person@example.jp\n" * 2000), limits, ALL)
        small_took = time.monotonic() - started
        return small, small_took, await asyncio.gather(*large)

    small, small_took, large = _run(pool, scenario)
    assert small.findings == {"email": 1} and small_took < 1.5
    assert all(r.engine_error is None and not r.uninspectable for r in large)


def test_the_budget_counts_the_scan_not_the_wait():
    """One worker: the second transfer waits 1.5 s behind the first, then scans; its 2 s
    budget starts when its scan does."""
    limits = InspectSettings(timeout=2, inline_max=0)
    pool = ScanPool(1)
    pool.scan_function = _sleepy_scan

    async def scenario():
        await asyncio.sleep(1.5)
        return await asyncio.gather(pool.scan(Transfer("http", _body(1.5, 20_000)), limits, ALL),
                                    pool.scan(Transfer("http", _body(1.0, 20_000)), limits, ALL))

    first, second = _run(pool, scenario)
    assert not first.uninspectable and not second.uninspectable


def test_a_full_queue_and_a_long_wait_answer_overloaded():
    limits = InspectSettings(timeout=30, inline_max=0, queue_max=2, queue_wait=1.0)
    pool = ScanPool(1)
    pool.scan_function = _sleepy_scan

    async def scenario():
        await asyncio.sleep(1.5)
        busy = asyncio.create_task(pool.scan(Transfer("http", _body(3, 20_000)), limits, ALL))
        await asyncio.sleep(0.2)
        waiting = [asyncio.create_task(pool.scan(Transfer("http", _body(0, 20_000)), limits, ALL)) for _ in range(2)]
        await asyncio.sleep(0.1)
        started = time.monotonic()
        refused = await pool.scan(Transfer("http", _body(0, 20_000)), limits, ALL)  # the queue holds 2
        refused_took = time.monotonic() - started
        return await busy, await asyncio.gather(*waiting), refused, refused_took

    busy, waited, refused, refused_took = _run(pool, scenario)
    assert not busy.uninspectable
    assert refused.uninspectable == ["overloaded"] and refused_took < 0.5
    assert [r.uninspectable for r in waited] == [["overloaded"], ["overloaded"]]  # 3 s busy > 1 s queue_wait


def test_a_worker_killed_mid_scan_costs_only_its_own_transfer():
    limits = InspectSettings(timeout=30, inline_max=0)
    pool = ScanPool(2)
    pool.scan_function = _sleepy_scan

    async def scenario():
        await asyncio.sleep(1.5)
        pids = {w.process.pid for w in pool._all}
        victim = asyncio.create_task(pool.scan(Transfer("http", _body(5, 20_000)), limits, ALL))
        await asyncio.sleep(0.5)
        busy = pids - {w.process.pid for w in pool._idle}
        assert len(busy) == 1
        os.kill(busy.pop(), signal.SIGKILL)
        others = await asyncio.gather(*(pool.scan(Transfer("http", b"a.person@example.jp\n" * 2000), limits, ALL)
                                        for _ in range(4)))
        return await victim, others

    victim, others = _run(pool, scenario)
    assert victim.engine_error == "scanner worker died"
    assert all(r.findings == {"email": 1} for r in others)


def test_a_small_body_that_expands_is_scanned_by_a_worker_not_on_the_loop():
    """2.6 KB of gzip that expands to 1 MiB of phone lines (the stall of issue 13): offloaded,
    scanned in full, and the event loop keeps ticking meanwhile."""
    body = gzip.compress(b"tel: 090-1234-5678\n" * 55_000, 9)  # just under the ratio check's floor
    assert len(body) < 16 * 1024
    transfer = Transfer("http", body, content_type="text/plain", content_encoding="gzip")
    limits = InspectSettings()
    with pytest.raises(Offload):
        engine.scan(transfer, limits, frozenset(DETECTOR_IDS), inline=True)
    pool = ScanPool(1)

    async def scenario():
        await asyncio.sleep(1.5)
        gaps: list[float] = []

        async def ticker():
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.005)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        result = await pool.scan(transfer, limits, frozenset(DETECTOR_IDS))
        tick.cancel()
        return result, max(gaps)

    result, worst_gap = _run(pool, scenario)
    assert result.findings.get("phone") == 1 and not result.uninspectable
    assert worst_gap < 0.1


def test_waits_given_up_do_not_fill_the_queue():
    """Transfers that stopped waiting leave their entries in the queue until a worker pops
    them; they must not count as waiting, or the queue would report itself full."""
    limits = InspectSettings(timeout=30, inline_max=0, queue_max=2, queue_wait=0.5)
    pool = ScanPool(1)
    pool.scan_function = _sleepy_scan

    async def scenario():
        await asyncio.sleep(1.5)
        busy = asyncio.create_task(pool.scan(Transfer("http", _body(2.5, 20_000)), limits, ALL))
        await asyncio.sleep(0.2)
        gave_up = await asyncio.gather(*(pool.scan(Transfer("http", _body(0, 20_000)), limits, ALL)
                                         for _ in range(2)))
        later = await asyncio.gather(*(pool.scan(Transfer("http", _body(0, 20_000)), limits, ALL)
                                       for _ in range(2)))
        return gave_up, later, await busy

    gave_up, later, busy = _run(pool, scenario)
    assert not busy.uninspectable
    for result in gave_up + later:
        assert result.uninspectable == ["overloaded"]
        assert not any("queue full" in e for e in result.errors), result.errors


@pytest.mark.parametrize("dead", [1, 2])
def test_a_worker_that_died_while_idle_costs_no_transfer(dead):
    """A scanner killed while idle (the OOM killer, an operator) carried no transfer: the next
    uploads are scanned by the others or by its replacement, none answered as an engine error.
    With both killed, the transfers wait for the replacements."""
    limits = InspectSettings(timeout=30, inline_max=0)
    pool = ScanPool(2)

    async def scenario():
        await asyncio.sleep(1.5)
        victims = [w.process for w in list(pool._idle)[:dead]]
        for process in victims:
            os.kill(process.pid, signal.SIGKILL)
        for process in victims:
            while process.is_alive():
                await asyncio.sleep(0.01)
        results = await asyncio.gather(*(pool.scan(Transfer("http", b"a.person@example.jp\n" * 2000), limits, ALL)
                                         for _ in range(4)))
        return results, {w.process.pid for w in pool._all}, {p.pid for p in victims}

    results, pids, victims = _run(pool, scenario)
    assert [r.engine_error for r in results] == [None] * 4
    assert all(r.findings == {"email": 1} for r in results)
    assert not pids & victims


def test_a_job_sent_to_a_worker_that_just_died_goes_to_another(monkeypatch):
    """The race the liveness check cannot close: the worker dies between the check and the
    send. The send fails, the job was never received, and another worker scans it."""
    limits = InspectSettings(timeout=30, inline_max=0)
    pool = ScanPool(1)
    monkeypatch.setattr("dlp.workers._Worker.alive", lambda self: True)  # the check sees it alive

    async def scenario():
        await asyncio.sleep(1.5)
        victim = pool._idle[0].process
        os.kill(victim.pid, signal.SIGKILL)
        while victim.is_alive():
            await asyncio.sleep(0.01)
        result = await pool.scan(Transfer("http", b"a.person@example.jp\n" * 2000), limits, ALL)
        return result, victim.pid, {w.process.pid for w in pool._all}

    result, victim, pids = _run(pool, scenario)
    assert result.engine_error is None and result.findings == {"email": 1}
    assert victim not in pids


def test_a_larger_body_is_not_starved_by_a_stream_of_smaller_ones():
    """Smaller bodies may go first, but not for ever: one worker, a steady stream of small
    scans, and a 3 MiB body that arrived early. Smallest-first alone kept it waiting until
    the stream ended (in a soak, until inspect.queue_wait made it 'overloaded')."""
    limits = InspectSettings(timeout=30, inline_max=0)
    pool = ScanPool(1)
    pool.scan_function = _sleepy_scan

    async def scenario():
        await asyncio.sleep(1.5)
        done: dict[str, float] = {}
        started = time.monotonic()

        async def scan(name: str, body: bytes) -> None:
            await pool.scan(Transfer("http", body), limits, ALL)
            done[name] = time.monotonic() - started

        busy = asyncio.create_task(scan("first", _body(0.3, 20_000)))
        await asyncio.sleep(0.05)
        big = asyncio.create_task(scan("big", _body(0.1, 3 * 2**20)))
        stream = []
        for i in range(40):  # 4 s of small scans, two waiting at any time
            stream.append(asyncio.create_task(scan(f"small{i}", _body(0.1, 20_000))))
            await asyncio.sleep(0.1)
        await asyncio.gather(busy, big, *stream)
        return done

    done = _run(pool, scenario)
    assert done["big"] < 2.5, done["big"]
