"""Pass-through throughput of ``dlp run`` against plain ``mitmdump``, measured in one run.

Target (issue 12): ordinary browsing stays >= 0.9x plain mitmdump after the request line and
headers are inspected. Two loads, each through both proxies with the same clients and the
same upstream: ``plain`` (browser GETs with standard headers: the fast path) and
``browsing`` (the same with a query string, cookies and a custom header, all inspected).
Writes bench/out/proxy.json.
"""

from __future__ import annotations

import http.client
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import DLP, Upstream, free_port  # noqa: E402

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
LOADS = {
    "plain": ("/news/{i}/index.html", BROWSER),
    "browsing": ("/search?q=%E5%A4%A9%E6%B0%97%E4%BA%88%E5%A0%B1&hl=ja&start={i}&utm_source=mail",
                 {**BROWSER, "Cookie": "_ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; "
                                       "session=eyJhbGciOiJIUzI1NiJ9.eyJ1aWQiOjQyfQ.c2lnbmF0dXJl; lang=ja",
                  "X-Requested-By": "portal", "X-Csrf-Token": "4f3b2a1c9d8e7f6a"}),
}


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


def _client(proxy: int, upstream: int, path: str, headers: dict[str, str], out: list[float]) -> None:
    """One keep-alive connection; every request line of the run differs (a page number), as
    in browsing, so nothing is remembered across requests but what a browser repeats (its
    headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=30)
    for _ in range(REQUESTS):
        conn.request("GET", f"http://127.0.0.1:{upstream}{path.format(i=next(_pages))}", headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"status {resp.status}")
    conn.close()
    out.append(1.0)


def requests_per_second(proxy: int, upstream: int, load: str) -> float:
    path, headers = LOADS[load]
    done: list[float] = []
    threads = [threading.Thread(target=_client, args=(proxy, upstream, path, headers, done)) for _ in range(CLIENTS)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    if len(done) != CLIENTS:
        raise RuntimeError("a client failed")
    return CLIENTS * REQUESTS / elapsed


def main() -> None:
    upstream = Upstream().start()
    upstream.received = _Discard()
    report: dict[str, object] = {}
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
            for load in LOADS:
                rates: dict[str, list[float]] = {"mitmdump": [], "dlp": []}
                for name in rates:  # warm-up: connections, certificates, first scans
                    requests_per_second(ports[name], upstream.port, load)
                for n in range(ROUNDS):  # interleaved, in turns first, so drift hits both alike
                    for name in sorted(rates, reverse=n % 2 == 1):
                        rates[name].append(requests_per_second(ports[name], upstream.port, load))
                plain, dlp = statistics.median(rates["mitmdump"]), statistics.median(rates["dlp"])
                report[load] = {"mitmdump_rps": round(plain), "dlp_rps": round(dlp), "ratio": round(dlp / plain, 3)}
                print(f"{load:9s} mitmdump {plain:6.0f} req/s   dlp run {dlp:6.0f} req/s   ratio {dlp / plain:.2f}"
                      f"   (target >= 0.90)", flush=True)
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(timeout=15)
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
