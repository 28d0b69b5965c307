import gzip
import zlib

import brotli
import pytest

from dlp.config import InspectSettings
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.content_encoding import decode_body, zstd

TEXT = "氏名,電話番号\n山田 太郎,090-1234-5678\n".encode() * 50


def budget(**kw) -> Budget:
    return Budget(InspectSettings(**kw))


@pytest.mark.parametrize("coding, encode", [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda d: zlib.compress(d, wbits=-15)),  # raw deflate, as many clients send
    ("br", brotli.compress),
    ("zstd", zstd.compress),
    ("identity", lambda d: d),
])
def test_each_coding_round_trips(coding, encode):
    assert decode_body(encode(TEXT), coding, budget()) == TEXT


def test_multi_member_gzip_and_stacked_codings():
    multi = gzip.compress(TEXT[:100]) + gzip.compress(TEXT[100:])
    assert decode_body(multi, "gzip", budget()) == TEXT
    stacked = brotli.compress(gzip.compress(TEXT))  # gzip applied first, then br
    assert decode_body(stacked, "gzip, br", budget()) == TEXT


def test_bomb_stops_at_the_cap_without_expanding_fully():
    bomb = gzip.compress(b"\0" * (50 << 20))
    with pytest.raises(Uninspectable) as e:
        decode_body(bomb, "gzip", budget(max_expanded=1 << 20))
    assert e.value.reason == "too_large" and "max_expanded" in str(e.value)


def test_ratio_limit_catches_bombs_under_the_size_cap():
    bomb = zstd.compress(b"A" * (8 << 20))
    with pytest.raises(Uninspectable) as e:
        decode_body(bomb, "zstd", budget(max_ratio=100))
    assert e.value.reason == "too_large" and "ratio" in str(e.value)


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd", "deflate"])
def test_corrupt_and_truncated_streams_are_corrupt(coding):
    good = {"gzip": gzip.compress, "br": brotli.compress, "zstd": zstd.compress,
            "deflate": zlib.compress}[coding](TEXT)
    with pytest.raises(Uninspectable) as e:
        decode_body(good[: len(good) // 2], coding, budget())
    assert e.value.reason == "corrupt"
    with pytest.raises(Uninspectable) as e:
        decode_body(b"not compressed at all", coding, budget())
    assert e.value.reason == "corrupt"


def test_unknown_coding_is_unsupported():
    with pytest.raises(Uninspectable) as e:
        decode_body(TEXT, "compress", budget())
    assert e.value.reason == "unsupported"
