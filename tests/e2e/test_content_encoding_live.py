"""Content-Encoding through a real `dlp run`: benign gzip, brotli and zstd uploads larger than
one decoding slice pass byte-identical (the upstream's sha256 is the client's), a list under
any coding is still found, and bombs under each coding are refused within the budget."""

from __future__ import annotations

import gzip
import hashlib
import json

import brotli
import pytest
from benign_logs import access_log as make_access_log
from servers import DlpProcess, send_http
from synthetic import people, resident_csv

from dlp.extract.content_encoding import zstd

pytestmark = pytest.mark.e2e

POLICY = """\
version: 1
rules:
  - name: bulk-personal-data
    when: {persons: 1000}
    action: block
notify: {contact: "security@example.jp"}
"""


@pytest.fixture(scope="module")
def dlp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("codings")
    cfg = tmp / "dlp.yaml"
    cfg.write_text(POLICY)
    proc = DlpProcess(cfg, tmp / "var").start()
    yield proc
    assert proc.stop() == 0, proc.output()
    assert "Traceback" not in proc.output() and "has crashed" not in proc.output()


@pytest.fixture(scope="module")
def access_log() -> bytes:
    """A 2.5 MB web server access log: no personal data, very compressible."""
    return make_access_log()


ENCODERS = {
    "br": lambda d: brotli.compress(d, quality=6),
    "zstd": zstd.compress,
    "gzip": gzip.compress,
    "gzip, br": lambda d: brotli.compress(gzip.compress(d), quality=6),
    "multi-member gzip": lambda d: gzip.compress(d[:1_000_000]) + gzip.compress(d[1_000_000:]),
}


@pytest.mark.parametrize("name", list(ENCODERS))
def test_benign_encoded_log_passes_byte_identical(dlp, upstream, access_log, name):
    wire = ENCODERS[name](access_log)
    assert len(wire) > 64 * 1024
    coding = "gzip" if name == "multi-member gzip" else name
    status, _h, data = send_http(dlp.port, upstream.port, wire, {"Content-Type": "text/plain",
                                                                 "Content-Encoding": coding},
                                 method="PUT", path="/logs/access.log")
    assert status == 200, data[:500]
    [got] = upstream.received
    assert got.sha256 == hashlib.sha256(wire).hexdigest()
    assert got.headers["Content-Encoding"] == coding


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip"])
def test_bulk_list_under_each_coding_is_blocked(dlp, upstream, coding):
    csv = resident_csv(people(1000, seed=21))
    wire = {"br": brotli.compress, "zstd": zstd.compress, "gzip": gzip.compress}[coding](csv)
    status, _h, data = send_http(dlp.port, upstream.port, wire, {"Content-Type": "text/csv", "Content-Encoding": coding,
                                                                 "Accept": "application/json"})
    assert status == 403 and json.loads(data)["rules"] == ["bulk-personal-data"]
    assert upstream.received == []


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip"])
def test_bomb_under_each_coding_is_refused_as_too_large(dlp, upstream, coding):
    zeros = bytes(256 << 20)
    wire = {"br": lambda: brotli.compress(zeros, quality=1), "zstd": lambda: zstd.compress(zeros),
            "gzip": lambda: gzip.compress(zeros, 1)}[coding]()
    status, _h, data = send_http(dlp.port, upstream.port, wire, {"Content-Encoding": coding,
                                                                 "Accept": "application/json"})
    assert status == 403 and json.loads(data)["uninspectable"] == ["too_large"]
    assert upstream.received == []
