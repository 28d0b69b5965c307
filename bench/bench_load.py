"""Load on ``dlp run`` as the issue 14 benchmarks 2 and 5 describe, against plain mitmdump
in the same run where a baseline applies. Writes bench/out/load.json.

- head-of-line: the p99 of 1-64 KiB benign POSTs (one client, one after another) while 4
  clients upload 30 MB benign files in a loop. Target: < 100 ms, no timeout.
- memory: peak resident memory of ``dlp run`` and its scanner processes together while 20
  clients upload 50 MB bodies at once, three rounds. Target: < 1.5 GB, no growth over the
  rounds.

``--memory-only`` skips the head-of-line measure.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import Upstream  # noqa: E402
from synthetic import benign_corpus  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from bench_proxy import _Discard, p99, proxies  # noqa: E402

MIB = 2**20


def _post(port: int, upstream: int, body: bytes, path: str, timeout: float = 120) -> tuple[int, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("POST", f"http://127.0.0.1:{upstream}{path}", body=body, headers={"Content-Type": "text/plain"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status, time.perf_counter() - started


def head_of_line(port: int, upstream: int, big: bytes, small: list[bytes]) -> dict[str, float]:
    stop = threading.Event()
    statuses: list[int] = []

    def uploader(n: int) -> None:
        while not stop.is_set():
            statuses.append(_post(port, upstream, big, f"/big/{n}")[0])

    threads = [threading.Thread(target=uploader, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    time.sleep(3)  # the large uploads are being scanned
    results = [_post(port, upstream, body, f"/small/{i}") for i, body in enumerate(small)]
    stop.set()
    for th in threads:
        th.join()
    times = [t for _s, t in results]
    return {"small_p50_ms": round(statistics.median(times) * 1000, 1),
            "small_p99_ms": round(p99(times) * 1000, 1),
            "small_refused": sum(1 for s, _t in results if s != 200),
            "large_refused": sum(1 for s in statuses if s != 200), "large_done": len(statuses)}


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (the scanners are children of the fork
    server, itself a child of dlp run)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
        todo.extend(children.get(p, ()))
    return total


def _sample(pid: int, done: threading.Event, seen: list[int]) -> None:
    while not done.is_set():
        seen.append(_tree_rss(pid))
        time.sleep(0.1)


def memory(port: int, upstream: int, pid: int, body: bytes, rounds: int = 3) -> dict[str, object]:
    peaks: list[int] = []
    for r in range(rounds):
        done = threading.Event()
        seen: list[int] = []
        sampler = threading.Thread(target=_sample, args=(pid, done, seen))
        sampler.start()
        clients = [threading.Thread(target=_post, args=(port, upstream, body, f"/mem/{r}/{n}", 300))
                   for n in range(20)]
        for th in clients:
            th.start()
        for th in clients:
            th.join()
        done.set()
        sampler.join()
        peaks.append(max(seen))
        print(f"  memory round {r + 1}: peak {peaks[-1] / MIB:.0f} MiB", flush=True)
    return {"peak_mib": [round(p / MIB) for p in peaks], "after_mib": round(_tree_rss(pid) / MIB)}


def main() -> None:
    upstream = Upstream().start()
    upstream.received = _Discard()
    rnd = random.Random(7)
    big = benign_corpus(30 * MIB, seed=7)
    small = [benign_corpus(rnd.randint(1024, 64 * 1024), seed=rnd.randint(0, 10**6)) for _ in range(200)]
    report: dict[str, object] = {"cpus": os.cpu_count()}
    try:
        with proxies() as running:
            time.sleep(3)  # the scanner processes start in the background
            for name in ([] if "--memory-only" in sys.argv else running):
                hol = head_of_line(running[name][0], upstream.port, big, small)
                report[f"head_of_line_{name}"] = hol
                print(f"head-of-line {name:8s} small p50 {hol['small_p50_ms']} ms  p99 {hol['small_p99_ms']} ms"
                      f" (target < 100 ms)  refused small {hol['small_refused']} large {hol['large_refused']}"
                      f" of {hol['large_done']}", flush=True)
            port, pid = running["dlp"]
            mem = memory(port, upstream.port, pid, benign_corpus(50 * MIB, seed=9))
            report["memory_dlp"] = mem
            print(f"memory dlp run + scanners: peaks {mem['peak_mib']} MiB (target < 1536, no growth)", flush=True)
    finally:
        upstream.stop()
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "load.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
