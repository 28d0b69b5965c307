"""Memory stays bounded through hostile input: bombs that declare or expand to gigabytes (and a
42.zip-style one to 256 TiB) cost a few megabytes, and a large legitimate expansion costs
about its own size once (no second copy, no giant str). Each case runs in a fresh process so
its peak RSS (ru_maxrss) is its own."""

import json
import subprocess
import sys
from pathlib import Path

import formats as F
import pytest

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {tests!r})
from dlp.config import InspectSettings
from dlp.detect.registry import DETECTOR_IDS
from dlp.engine import scan
from dlp.model import Transfer
limits = InspectSettings(**json.loads(sys.argv[3]))
scan(Transfer("http", "氏名,電話\n山田 太郎,090-1234-5678\n".encode()), limits, frozenset(DETECTOR_IDS))
body = open(sys.argv[1], "rb").read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.monotonic()
r = scan(Transfer("http", body, content_encoding=sys.argv[2]), limits, frozenset(DETECTOR_IDS))
print(json.dumps({{"delta_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024,
                  "seconds": time.monotonic() - started, "uninspectable": r.uninspectable,
                  "errors": r.errors[:3], "engine_error": r.engine_error}}))
"""


def peak(tmp_path: Path, body: bytes, encoding: str = "", **limits: object) -> dict:
    path = tmp_path / "body.bin"
    path.write_bytes(body)
    code = CHILD.format(tests=str(Path(__file__).resolve().parent.parent))
    out = subprocess.run([sys.executable, "-c", code, str(path), encoding, json.dumps(limits)],
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def gzip_zeros(size: int) -> bytes:
    data, crc = F._deflate_zeros(size)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + data + struct_le(crc) + struct_le(size & 0xFFFFFFFF)


def struct_le(n: int) -> bytes:
    return n.to_bytes(4, "little")


@pytest.mark.parametrize("case", ["declared-4GiB", "expands-4GiB-lying", "nested-42", "gzip-body-4GiB",
                                  "content-encoding-4GiB", "overlap"])
def test_bombs_cost_megabytes(tmp_path, case):
    encoding = ""
    if case == "declared-4GiB":
        body = F.zeros_zip(4 << 30)
    elif case == "expands-4GiB-lying":
        body = F.lying_zip(4 << 30)
    elif case == "nested-42":
        body = F.nested_bomb(levels=4, fanout=16, leaf_size=4 << 30)
    elif case == "gzip-body-4GiB":
        body = gzip_zeros(4 << 30)
    elif case == "content-encoding-4GiB":
        body, encoding = gzip_zeros(4 << 30), "gzip"
    else:
        body = F.overlap_bomb(entries=500, kernel_size=64 << 20)
    got = peak(tmp_path, body, encoding)
    assert got["engine_error"] is None and got["uninspectable"], got
    assert got["delta_mb"] < 64, got
    assert got["seconds"] < 10, got


def test_large_expansion_is_held_once(tmp_path):
    """A 384 MiB expansion within the limits (ratio check off) costs about 384 MiB, not twice
    that: the time budget then ends the scan of it."""
    import zlib
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    unit = b"2026-11-27,SKU-1234,ordered,42\n" * 33825  # about 1 MiB of text without persons
    body = b"".join(c.compress(unit) for _ in range(384)) + c.flush()
    got = peak(tmp_path, body, max_ratio=10**9, timeout=2.0)
    assert got["engine_error"] is None, got
    assert got["delta_mb"] < 384 * 1.25 + 64, got


def test_a_form_of_a_million_pairs(tmp_path):
    """The form's shape regex kept a frame per pair (16 MB: 700 MB; 64 MB: 2.8 GB), the pairs
    became one list and one record that the detectors read with no deadline check in
    between. Now: searches, pairs in batches of RECORD_FIELDS, the deadline between them."""
    got = peak(tmp_path, b"a=b&" * (4 << 20), timeout=1.0)
    assert got["engine_error"] is None and set(got["uninspectable"]) <= {"timeout"}, got
    assert got["seconds"] < 2.5, got
    assert got["delta_mb"] < 160, got


def test_a_long_text_run_in_a_binary(tmp_path):
    """A greedy repeated group kept a backtracking frame per character: 484 MB for one 4 MB
    ASCII run in a binary file."""
    got = peak(tmp_path, b"\x01\x02\x03\x04" * 4096 + b"x" * (8 << 20) + b" 090-1234-5678 ")
    assert got["engine_error"] is None and got["uninspectable"] == [], got
    assert got["delta_mb"] < 96, got
