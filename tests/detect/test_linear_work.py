"""No detector or record merge is worse than n log n in its input (issue 13, point 3): a
paragraph of one repeated identifier once took 35 s per MiB, because every line compared
itself with the whole record built so far. Measured in CPU time of this process (other
processes on a shared machine do not count) with a budget that never cuts the scan short."""

import random
import time

import pytest

from dlp import engine
from dlp.config import InspectSettings
from dlp.detect.registry import DETECTOR_IDS
from dlp.model import Transfer

ALL = frozenset(DETECTOR_IDS)
MIB = 2**20


def cpu_seconds(body: bytes) -> float:
    started = time.process_time()
    result = engine.scan(Transfer("http", body, content_type="text/plain"), InspectSettings(timeout=600), ALL)
    assert not result.uninspectable and not result.engine_error
    return time.process_time() - started


def repeated(line: str, size: int) -> bytes:
    raw = line.encode()
    return raw * (size // len(raw))


def distinct_phones(size: int, seed: int = 13) -> bytes:
    rnd = random.Random(seed)
    out: list[bytes] = []
    total = 0
    while total < size:
        line = f"tel: 090-{rnd.randrange(10_000):04d}-{rnd.randrange(10_000):04d}\n".encode()
        out.append(line)
        total += len(line)
    return b"".join(out)


BODIES = {
    "one phone repeated": lambda size: repeated("tel: 090-1234-5678\n", size),
    "one labelled phone repeated (Japanese)": lambda size: repeated("電話 090-1234-5678\n", size),
    "one person repeated": lambda size: repeated("山田太郎 090-1234-5678 taro@example.co.jp\n", size),
    "distinct phones": distinct_phones,
}


@pytest.mark.parametrize("kind", BODIES)
def test_one_mebibyte_scans_in_under_a_second(kind):
    engine.scan(Transfer("http", b"tel: 090-1234-5678\n", content_type="text/plain"), InspectSettings(), ALL)  # load
    assert cpu_seconds(BODIES[kind](MIB)) < 1.0


@pytest.mark.parametrize("kind", BODIES)
def test_work_grows_linearly(kind):
    """Four times the input, at most about four times the work (quadratic would be 16x)."""
    small = min(cpu_seconds(BODIES[kind](MIB // 4)) for _ in range(2))
    large = cpu_seconds(BODIES[kind](MIB))
    assert large < 7 * small
