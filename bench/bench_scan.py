"""Scan throughput of ``dlp scan`` (engine + policy, one core, one process).

Targets (issue 3): a 31,429-row resident CSV in under 1 s; 50 MB of text without personal
data at >= 50 MB/s; time linear in input size (1x, 4x, 16x). Measures the whole command
(process start included, which is what the targets are judged on) and the engine alone, on
one core (the process pins itself to one CPU; the commands inherit it), and writes
bench/out/scan.json.
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from synthetic import BENIGN_KINDS, benign_corpus, people, resident_csv  # noqa: E402

from dlp.config import load_policy  # noqa: E402
from dlp.engine import scan  # noqa: E402
from dlp.model import Transfer  # noqa: E402


def engine_seconds(data: bytes, repeat: int = 3) -> float:
    pol = load_policy(ROOT / "config/dlp.yaml")
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        scan(Transfer("http", data), pol.inspect, pol.detectors_enabled)
        best = min(best, time.perf_counter() - t)
    return best


def command_seconds(path: Path, repeat: int = 5) -> float:
    """The median wall time of ``dlp scan --json FILE``, process start to exit."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dlp.cli", "scan", "--json", str(path)], cwd=ROOT,
                       check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def one_core() -> int:
    """Pin this process (and the commands it starts) to one CPU."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def main() -> None:
    report: dict[str, object] = {"cpu": one_core()}
    # As installed (a wheel, or any run without PYTHONDONTWRITEBYTECODE): with bytecode, so
    # the command's start-up is not spent compiling the package from source every time.
    compileall.compile_dir(ROOT / "dlp", quiet=1)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    residents = resident_csv(people(31429))
    (out / "residents.csv").write_bytes(residents)
    text = benign_corpus(50 * 10**6)
    (out / "text50mb.txt").write_bytes(text)
    report["residents_engine_s"] = engine_seconds(residents)
    report["residents_command_s"] = command_seconds(out / "residents.csv")
    t = engine_seconds(text, repeat=1)
    report["text50mb_engine_s"] = t
    report["text50mb_engine_MBps"] = 50 / t
    report["text50mb_command_s"] = command_seconds(out / "text50mb.txt")
    report["text50mb_command_MBps"] = 50 / report["text50mb_command_s"]
    # where the mixed corpus's time goes: 10 MB of each kind alone
    report["text_MBps_by_kind"] = {
        kind: round(10 / engine_seconds(benign_corpus(10 * 10**6, kinds=(kind,)), repeat=1), 1)
        for kind in BENIGN_KINDS
    }
    linear = {}
    for factor in (1, 4, 16):
        linear[f"{factor}x"] = engine_seconds(residents[: len(residents) // 16 * factor], repeat=2)
    report["linearity_residents_s"] = linear
    chunk = text[: len(text) // 16]
    report["linearity_text_s"] = {f"{f}x": engine_seconds(chunk * f, repeat=2) for f in (1, 4, 16)}
    (out / "scan.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"targets (whole dlp scan command, one core): "
          f"residents < 1 s: {'OK' if report['residents_command_s'] < 1 else 'MISSED'}; "
          f"text >= 50 MB/s: {'OK' if report['text50mb_command_MBps'] >= 50 else 'MISSED'}")


if __name__ == "__main__":
    main()
