"""The event loop never does unbounded work (issue 13, point 3): a 2.6 KB gzip body that
expands to 1 MiB of phone lines once froze the whole proxy for about a minute, because it
was small enough on the wire to be scanned inline. Through a real ``dlp run``: while such
bodies are scanned, other requests and the health endpoints are answered at once."""

from __future__ import annotations

import concurrent.futures
import gzip
import http.client
import time

import pytest
from servers import REPO, DlpProcess, Upstream

PHONES = gzip.compress(b"tel: 090-1234-5678\n" * 55_000, 9)


def _post_gzip(proxy_port: int, upstream_port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=60)
    conn.request("POST", f"http://127.0.0.1:{upstream_port}/upload", body=PHONES,
                 headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"})
    status = conn.getresponse().status
    conn.close()
    return status


def _timed_get(port: int, url: str) -> tuple[int, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", url)
    status = conn.getresponse().status
    conn.close()
    return status, time.monotonic() - started


@pytest.fixture
def dlp(tmp_path):
    proc = DlpProcess(REPO / "config" / "dlp.yaml", tmp_path / "var").start()
    time.sleep(2)  # the scanner processes start in the background
    yield proc
    assert proc.stop() == 0, proc.output()


def test_an_expanding_gzip_body_does_not_stall_other_requests(dlp, upstream: Upstream):
    assert len(PHONES) < 4096
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        attacks = [pool.submit(_post_gzip, dlp.port, upstream.port) for _ in range(2)]
        time.sleep(0.3)  # both are being scanned
        plain = [_timed_get(dlp.port, f"http://127.0.0.1:{upstream.port}/page{i}") for i in range(5)]
        health = [_timed_get(dlp.metrics_port, "/healthz") for _ in range(5)]
        statuses = [a.result(timeout=60) for a in attacks]
    assert all(status == 200 for status, _t in plain) and max(t for _s, t in plain) < 1.0
    assert all(status == 200 for status, _t in health) and max(t for _s, t in health) < 0.1
    assert statuses == [200, 200]  # a phone list without names is no person: allowed, after a full scan
    uploads = [r for r in upstream.received if r.path == "/upload"]
    assert len(uploads) == 2 and all(r.body == PHONES for r in uploads)
