"""The scan pool: a scan that overruns its budget is a timeout and its worker is stopped;
other scans survive the recycling."""

import asyncio
import time

from dlp import engine
from dlp.config import InspectSettings
from dlp.model import Transfer
from dlp.workers import ScanPool

ALL = frozenset({"email"})


def _slow_scan(transfer, limits, enabled):  # runs in the worker: stands in for a stuck library call
    if transfer.body.startswith(b"SLOW"):
        time.sleep(60)
    return engine.scan(transfer, limits, enabled)


def test_timeout_recycles_the_worker_and_others_still_get_answers(monkeypatch):
    monkeypatch.setattr("dlp.workers.engine.scan", _slow_scan)
    monkeypatch.setattr("dlp.workers.GRACE_SECONDS", 0.5)
    limits = InspectSettings(timeout=1.0, inline_max=0)
    pool = ScanPool(2)

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
