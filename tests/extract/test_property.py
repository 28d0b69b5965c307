"""Property: random bytes, and random mutations of every valid generated file, never raise out
of the engine (engine_error stays None), never hit a handler failure the extractor did not
turn into a specific error, and finish within the time budget. Derandomized, so a failure
reproduces; modest example counts keep the suite fast."""

import json

import formats as F
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic import people

from dlp.config import InspectSettings

LIMITS = InspectSettings(timeout=5.0)
_PS = people(12, seed=21)
_CSV = F.csv_text(_PS).encode("cp932")
SEEDS = {
    "xlsx": F.xlsx(_PS), "xls": F.xls(_PS), "ods": F.ods(_PS, pad=False), "docx": F.docx(_PS),
    "pptx": F.pptx(_PS), "odt": F.odt(_PS), "rtf": F.rtf(_PS[:3]), "pdf": F.pdf(_PS), "msg": F.msg(_PS, _CSV),
    "eml": F.eml(_PS, _CSV), "zip": F.cp932_zip({"名簿.csv": _CSV}), "tar": F.tar_of({"a.csv": _CSV}),
    "7z": F.sevenz_of({"a.csv": _CSV}), "gzip": F.COMPRESSORS["gzip"](_CSV),
    "json": json.dumps({"mail": {"attachments": [{"filename": "a.csv", "data": F.b64(_CSV)}]}}).encode(),
    "html": F.html(_PS), "xml": "".join(f"<p><n>{p.name}</n><t>{p.phone}</t></p>" for p in _PS).encode(),
    "csv": _CSV,
}
def examples(n: int) -> settings:
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def check(body: bytes) -> None:
    r = F.scan_bytes(body, limits=LIMITS)
    assert r.engine_error is None, r.engine_error
    assert not any("extractor failed" in e for e in r.errors), r.errors
    assert r.seconds < LIMITS.timeout + 1
    assert set(r.uninspectable) <= {"too_large", "corrupt", "encrypted", "timeout", "unsupported"}


@examples(200)
@given(st.binary(max_size=8192))
def test_random_bytes(body):
    check(body)


@examples(150)
@given(st.sampled_from([b"PK\x03\x04", b"%PDF-1.7\n", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"7z\xbc\xaf\x27\x1c",
                        b"{\\rtf1 ", b"\x1f\x8b\x08", b"<?xml version='1.0'?><a>", b"{\"a\": ["]),
       st.binary(max_size=4096))
def test_random_bytes_behind_a_magic_number(magic, body):
    check(magic + body)


_MUTATION = st.lists(st.tuples(st.sampled_from(["set", "delete", "insert", "truncate"]),
                               st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=16)),
                     min_size=1, max_size=6)


@pytest.mark.parametrize("kind", sorted(SEEDS))
@examples(40)
@given(mutations=_MUTATION)
def test_mutations_of_valid_files(kind, mutations):
    data = bytearray(SEEDS[kind])
    for op, where, chunk in mutations:
        if not data:
            break
        i = int(where * len(data))
        if op == "set":
            data[i:i + len(chunk)] = chunk
        elif op == "delete":
            del data[i:i + len(chunk) * 8]
        elif op == "insert":
            data[i:i] = chunk
        else:
            del data[i:]
    check(bytes(data))
