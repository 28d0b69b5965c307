"""Content-Encoding bodies larger than one input slice (64 KiB compressed): a benign 2.5 MB
access log must decode to the exact original under every coding, however the encoder framed
it; brotli once stopped after the first slices' output and called every such body corrupt."""

import functools
import gzip
import zlib

import brotli
import pytest
from benign_logs import access_log

from dlp.config import InspectSettings
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.content_encoding import decode_body, zstd

LOG = access_log()

LOG_1M = LOG[: LOG.index(b"\n", 1_200_000) + 1]


@functools.cache
def br11() -> bytes:
    """brotli's default quality (11) is slow (seconds for LOG): a shorter log, compressed once."""
    return brotli.compress(LOG_1M)


def budget(**kw) -> Budget:
    return Budget(InspectSettings(**kw))


@pytest.mark.parametrize("coding, encode", [
    ("br", None),
    ("br", lambda d: brotli.compress(d, quality=1)),
    ("br", lambda d: brotli.compress(d, quality=5, lgwin=10)),  # many small meta-blocks
    ("br", lambda d: brotli.compress(d, quality=9, mode=brotli.MODE_TEXT)),
    ("zstd", zstd.compress),
    ("gzip", gzip.compress),
    ("gzip", lambda d: gzip.compress(d, 1)),
    ("deflate", zlib.compress),
], ids=["br", "br-q1", "br-lgwin10", "br-text", "zstd", "gzip", "gzip-1", "deflate"])
def test_large_benign_body_round_trips(coding, encode):
    plain, wire = (LOG_1M, br11()) if encode is None else (LOG, encode(LOG))
    assert len(wire) > 64 * 1024  # more than one input slice
    assert decode_body(wire, coding, budget()) == plain


def test_brotli_of_highly_compressible_text_under_the_ratio_limit():
    text = b"GET /index.html 200\n" * 100_000  # 2 MB; brotli shrinks it ~1000x
    wire = brotli.compress(text)
    assert decode_body(wire, "br", budget(max_ratio=10**6)) == text


def test_multi_member_gzip_of_large_parts():
    parts = [LOG[:900_000], LOG[900_000:1_700_000], LOG[1_700_000:]]
    assert decode_body(b"".join(gzip.compress(p) for p in parts), "gzip", budget()) == LOG


def test_multi_frame_zstd():
    assert decode_body(zstd.compress(LOG[:1_000_000]) + zstd.compress(LOG[1_000_000:]), "zstd", budget()) == LOG


@pytest.mark.parametrize("coding, encode", [
    ("gzip, br", lambda d: brotli.compress(gzip.compress(d))),
    ("br, gzip", lambda d: gzip.compress(brotli.compress(d, quality=6))),
    ("zstd, br", lambda d: brotli.compress(zstd.compress(d))),
    ("gzip, zstd", lambda d: zstd.compress(gzip.compress(d))),
])
def test_stacked_codings_of_a_large_body(coding, encode):
    assert decode_body(encode(LOG), coding, budget()) == LOG


def test_truncated_large_brotli_is_corrupt():
    wire = br11()
    with pytest.raises(Uninspectable) as e:
        decode_body(wire[: len(wire) - 100], "br", budget())
    assert e.value.reason == "corrupt"


def test_bytes_after_the_brotli_stream_are_corrupt():
    with pytest.raises(Uninspectable) as e:
        decode_body(br11() + b"trailing junk", "br", budget())
    assert e.value.reason == "corrupt"


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip"])
def test_large_bomb_still_stops_early(coding):
    zeros = bytes(128 << 20)
    wire = {"br": lambda: brotli.compress(zeros, quality=1), "zstd": lambda: zstd.compress(zeros),
            "gzip": lambda: gzip.compress(zeros, 1)}[coding]()
    with pytest.raises(Uninspectable) as e:
        decode_body(wire, coding, budget(max_expanded=4 << 20, max_ratio=10**9))
    assert e.value.reason == "too_large" and "max_expanded" in str(e.value)
