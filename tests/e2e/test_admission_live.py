"""Large bodies wait, unread, while the proxy holds inspect.max_in_flight bytes of them
(issue 14, point 4), through a real ``dlp run``. A slow destination keeps each admitted
upload's flow open (admission is released when the flow ends), so the test can see the
others wait: with a short queue_wait they are refused as 'overloaded' and never reach the
destination; with a long one they all arrive, byte-identical, one after another."""

from __future__ import annotations

import concurrent.futures
import json
import random
import time

import pytest
import yaml
from servers import REPO, DlpProcess, Upstream, metric, send_http

pytestmark = pytest.mark.e2e

MIB = 2**20


def bodies(n: int) -> list[bytes]:
    rnd = random.Random(1401)  # benign: log lines of request ids and sizes, no personal data
    return [b"".join(b"GET /static/app.%d.js 200 %d\n" % (rnd.randrange(10**6), rnd.randrange(10**5))
                     for _ in range(50_000))[: int(1.5 * MIB)] for _ in range(n)]


def start(tmp_path, queue_wait: str) -> DlpProcess:
    policy = yaml.safe_load((REPO / "config" / "dlp.yaml").read_text())
    policy["inspect"].update(max_in_flight="2MiB", queue_wait=queue_wait)
    cfg = tmp_path / "dlp.yaml"
    cfg.write_text(yaml.safe_dump(policy, allow_unicode=True))
    return DlpProcess(cfg, tmp_path / "var").start()


def upload_all(proc: DlpProcess, upstream: Upstream, payloads: list[bytes]) -> list[tuple[int, bytes]]:
    def one(i: int) -> tuple[int, bytes]:
        time.sleep(0.3 * i)  # in this order
        status, _h, data = send_http(proc.port, upstream.port, payloads[i],
                                     {"Content-Type": "text/plain", "Accept": "application/json"}, path=f"/u{i}")
        return status, data

    with concurrent.futures.ThreadPoolExecutor(len(payloads)) as pool:
        return list(pool.map(one, range(len(payloads))))


def test_uploads_beyond_max_in_flight_that_wait_too_long_are_refused_unsent(tmp_path):
    upstream = Upstream(reply_delay=4.0).start()
    proc = start(tmp_path, queue_wait="1s")
    try:
        payloads = bodies(3)
        results = upload_all(proc, upstream, payloads)
        refused = metric(proc.metrics_port, "dlp_uninspectable_total", {"reason": "overloaded"})
    finally:
        upstream.stop()
        assert proc.stop() == 0, proc.output()
    assert [s for s, _d in results] == [200, 403, 403]
    assert all(json.loads(d)["uninspectable"] == ["overloaded"] for _s, d in results[1:]), results[1][1][:300]
    assert [r.path for r in upstream.received] == ["/u0"] and upstream.received[0].body == payloads[0]
    assert refused == 2


def test_uploads_beyond_max_in_flight_wait_their_turn_and_all_arrive(tmp_path):
    upstream = Upstream(reply_delay=1.0).start()
    proc = start(tmp_path, queue_wait="30s")
    try:
        payloads = bodies(3)
        started = time.monotonic()
        results = upload_all(proc, upstream, payloads)
        took = time.monotonic() - started
    finally:
        upstream.stop()
        assert proc.stop() == 0, proc.output()
    assert [s for s, _d in results] == [200, 200, 200]
    assert {r.path: r.body for r in upstream.received} == {f"/u{i}": p for i, p in enumerate(payloads)}
    assert took >= 3.0  # one at a time: each held its room until the destination answered
