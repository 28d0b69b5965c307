"""Pass-through of ``dlp run`` against plain ``mitmdump``, measured in one run.

Targets: ordinary browsing stays >= 0.9x plain mitmdump after the request line and headers
are inspected (issue 12); small GETs and 100 KB benign POSTs >= 0.9x requests/s with p99
within +5 ms (issue 14). Three loads, each through both proxies with the same clients and the
same upstream: ``plain`` (browser GETs with standard headers: the fast path), ``browsing``
(the same with a query string, cookies and a custom header, all inspected) and ``upload``
(100 KB POSTs of ordinary text: logs, prose, orders, source; every one scanned by a scanner
process). Writes bench/out/proxy.json.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import DLP, Upstream, free_port  # noqa: E402
from synthetic import benign_corpus  # noqa: E402

CLIENTS = 4
REQUESTS = 400
"""Requests per client per round (keep-alive connections, like a browser's)."""
ROUNDS = 5

BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "ja,en-US;q=0.9,en;q=0.8",
    "Accept-Encoding": "gzip, deflate",
    "Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "same-origin",
    "Upgrade-Insecure-Requests": "1",
}
UPLOAD = benign_corpus(100 * 1024, seed=5)
LOADS: dict[str, tuple[str, dict[str, str]]] = {
    "plain": ("/news/{i}/index.html", BROWSER),
    "browsing": ("/search?q=%E5%A4%A9%E6%B0%97%E4%BA%88%E5%A0%B1&hl=ja&start={i}&utm_source=mail",
                 {**BROWSER, "Cookie": "_ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; "
                                       "session=eyJhbGciOiJIUzI1NiJ9.eyJ1aWQiOjQyfQ.c2lnbmF0dXJl; lang=ja",
                  "X-Requested-By": "portal", "X-Csrf-Token": "4f3b2a1c9d8e7f6a"}),
    "upload": ("/upload/{i}", {**BROWSER, "Content-Type": "text/plain; charset=utf-8"}),
}
REQUESTS_PER_LOAD = {"upload": 100}
"""Fewer requests per client where each one is larger."""


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"proxy exited {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("proxy did not start")


_pages = itertools.count()
"""Page numbers, unique over the whole run."""


def _client(proxy: int, upstream: int, load: str, out: list[float]) -> None:
    """One keep-alive connection; every request line of the run differs (a page number), as
    in browsing, so nothing is remembered across requests but what a browser repeats (its
    headers). Appends each request's latency to ``out``."""
    path, headers = LOADS[load]
    method, body = ("POST", UPLOAD) if load == "upload" else ("GET", None)
    conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=30)
    for _ in range(REQUESTS_PER_LOAD.get(load, REQUESTS)):
        started = time.perf_counter()
        conn.request(method, f"http://127.0.0.1:{upstream}{path.format(i=next(_pages))}", body=body,
                     headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"status {resp.status}")
        out.append(time.perf_counter() - started)
    conn.close()


def requests_per_second(proxy: int, upstream: int, load: str) -> tuple[float, list[float]]:
    """Requests per second of CLIENTS keep-alive clients, and every request's latency."""
    latencies: list[float] = []
    threads = [threading.Thread(target=_client, args=(proxy, upstream, load, latencies)) for _ in range(CLIENTS)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    if len(latencies) != CLIENTS * REQUESTS_PER_LOAD.get(load, REQUESTS):
        raise RuntimeError("a client failed")
    return len(latencies) / elapsed, latencies


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


@contextlib.contextmanager
def proxies() -> Iterator[dict[str, tuple[int, int]]]:
    """Plain mitmdump and ``dlp run`` on the shipped policy, side by side on free ports and
    serving: (port, pid) by name. Both are stopped on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        ports = {"mitmdump": free_port(), "dlp": free_port()}
        procs = {
            "mitmdump": subprocess.Popen([str(Path(sys.executable).parent / "mitmdump"), "-q", "--listen-host",
                                          "127.0.0.1", "--listen-port", str(ports["mitmdump"]),
                                          "--set", f"confdir={tmp}/mitm"], stdout=subprocess.DEVNULL),
            "dlp": subprocess.Popen([*DLP, "run", "--config", str(ROOT / "config/dlp.yaml"), "--listen",
                                     f"127.0.0.1:{ports['dlp']}", "--metrics", f"127.0.0.1:{free_port()}",
                                     "--data-dir", f"{tmp}/var"], cwd=ROOT, stdout=subprocess.DEVNULL),
        }
        try:
            for name, proc in procs.items():
                _wait_port(ports[name], proc)
            yield {name: (ports[name], proc.pid) for name, proc in procs.items()}
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(timeout=30)


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", choices=list(LOADS), action="append",
                        help="measure only this load (repeatable; default: all)")
    loads = parser.parse_args().load or list(LOADS)
    upstream = Upstream().start()
    upstream.received = _Discard()
    report: dict[str, object] = {}
    try:
        with proxies() as running:
            ports = {name: port for name, (port, _pid) in running.items()}
            for load in loads:
                rates: dict[str, list[float]] = {"mitmdump": [], "dlp": []}
                latencies: dict[str, list[float]] = {"mitmdump": [], "dlp": []}
                for name in rates:  # warm-up: connections, certificates, first scans
                    requests_per_second(ports[name], upstream.port, load)
                for n in range(ROUNDS):  # interleaved, in turns first, so drift hits both alike
                    for name in sorted(rates, reverse=n % 2 == 1):
                        rps, lat = requests_per_second(ports[name], upstream.port, load)
                        rates[name].append(rps)
                        latencies[name].extend(lat)
                plain, dlp = statistics.median(rates["mitmdump"]), statistics.median(rates["dlp"])
                p99_plain, p99_dlp = p99(latencies["mitmdump"]) * 1000, p99(latencies["dlp"]) * 1000
                report[load] = {"mitmdump_rps": round(plain), "dlp_rps": round(dlp), "ratio": round(dlp / plain, 3),
                                "mitmdump_p99_ms": round(p99_plain, 1), "dlp_p99_ms": round(p99_dlp, 1)}
                print(f"{load:9s} mitmdump {plain:6.0f} req/s   dlp run {dlp:6.0f} req/s   ratio {dlp / plain:.2f}"
                      f" (target >= 0.90)   p99 {p99_plain:6.1f} ms vs {p99_dlp:6.1f} ms (target +5 ms)", flush=True)
    finally:
        upstream.stop()
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "proxy.json").write_text(json.dumps(report, indent=2))


class _Discard(list):
    """The upstream's record of requests, kept empty: a benchmark sends thousands."""

    def append(self, _item: object) -> None:
        pass


if __name__ == "__main__":
    main()
