"""Seed documents and mutations shared by the property tests (tests/extract/test_property.py)
and the atheris fuzz targets (fuzz/): one valid input per format handler and parser, the
transfer fields that route it (a multipart boundary, a Content-Encoding), and what every
result must satisfy.

Seeds are generated (seeded, small) on first use, never stored.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import json
import lzma
import random
import zlib
from dataclasses import dataclass, field
from functools import cache

import brotli
import formats as F
from synthetic import Person, people

from dlp.config import InspectSettings

LIMITS = InspectSettings(timeout=5.0)
SLACK = 1.5
"""Seconds a scan may run past its deadline (checked between steps)."""
REASONS = frozenset({"too_large", "corrupt", "encrypted", "timeout", "unsupported"})


@dataclass(frozen=True)
class Seed:
    body: bytes
    transfer: dict[str, object] = field(default_factory=dict)   # content_type, content_encoding, …


BOUNDARY = "----fuzzXyZ"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _persons() -> list[Person]:
    return people(12, seed=21)


def multipart_body(persons: list[Person]) -> bytes:
    csv = F.csv_text(persons).encode("cp932")
    parts = [
        ('form-data; name="note"', "text/plain; charset=utf-8", f"{persons[0].name} {persons[0].phone}".encode()),
        ('form-data; name="tel"', "", persons[1].phone.encode()),
        ("form-data; name=\"f\"; filename*=UTF-8''%E5%90%8D%E7%B0%BF.csv", "text/csv", csv),
        ('form-data; name="x"; filename="a.zip"', "application/zip", F.zip_of({"a.csv": csv})),
        ('form-data; name="j"', "application/json", json.dumps({"name": persons[2].name}).encode()),
    ]
    out = b"preamble\r\n"
    for disposition, ctype, data in parts:
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\nepilogue\r\n".encode()


def mail_body(persons: list[Person]) -> bytes:
    """A MIME message with encoded-word headers, recipients, text, HTML, an attachment and a
    forwarded message: every branch of ``mail.eml_items``."""
    csv = F.csv_text(persons).encode("cp932")
    subject = "=?ISO-2022-JP?B?" + base64.b64encode("名簿の送付".encode("iso-2022-jp")).decode() + "?="
    to = ", ".join(f'"{p.name}" <{p.email}>' for p in persons[:4])
    inner = (f"From: a@example.jp\r\nTo: {persons[5].email}\r\nSubject: fwd\r\n\r\n"
             f"{persons[5].name} {persons[5].phone}\r\n").encode()
    return (f"From: sender@example.jp\r\nTo: {to}\r\nCc: {persons[4].email}\r\nSubject: {subject}\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
            f"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n"
            f"--b2\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{base64.encodebytes(F.csv_text(persons[:3]).encode()).decode()}\r\n"
            f"--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{persons[6].name} {persons[6].phone}</p>\r\n"
            f"--b2--\r\n--b1\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"list.csv\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{base64.encodebytes(csv).decode()}\r\n"
            f"--b1\r\nContent-Type: message/rfc822\r\n\r\n").encode() + inner + b"\r\n--b1--\r\n"


def form_body(persons: list[Person]) -> bytes:
    from urllib.parse import quote
    pairs = [("name", persons[0].name), ("tel", persons[0].phone), ("addr", persons[0].address),
             ("list", F.csv_text(persons[:4])), ("sj", persons[1].name)]
    return "&".join(f"{k}={quote(v.encode('cp932') if k == 'sj' else v)}" for k, v in pairs).encode()


@cache
def seeds() -> dict[str, Seed]:
    """One valid input per handler (sniffed kind) and parser, keyed by a name."""
    from dlp.extract.content_encoding import zstd
    ps = _persons()
    csv = F.csv_text(ps).encode("cp932")
    text = "\n".join(f"{p.name} {p.phone} {p.address}" for p in ps).encode()
    doc_text = "\r".join(f"{p.name} {p.phone}" for p in ps).encode("utf-16-le")
    return {
        # containers
        "zip": Seed(F.cp932_zip({"名簿.csv": csv, "dir/": b""})),
        "tar": Seed(F.tar_of({"a.csv": csv})),
        "7z": Seed(F.sevenz_of({"a.csv": csv})),
        "gzip": Seed(gzip.compress(csv)),
        "bz2": Seed(bz2.compress(csv)),
        "xz": Seed(lzma.compress(csv)),
        "zstd": Seed(zstd.compress(csv)),
        # office, PDF, RTF
        "docx": Seed(F.docx(ps)),
        "pptx": Seed(F.pptx(ps, per_slide=6)),
        "xlsx": Seed(F.xlsx(ps)),
        "xls": Seed(F.xls(ps)),
        "odt": Seed(F.odt(ps)),
        "odp": Seed(F.odp(ps)),
        "ods": Seed(F.ods(ps, pad=False)),
        "ole": Seed(F.cfb({"WordDocument": b"\0" * 512 + doc_text, "1Table": b"\0" * 512})),
        "ooxml-encrypted": Seed(_encrypted_ooxml()),
        "msg": Seed(F.msg(ps, csv)),
        "pdf": Seed(F.pdf(ps)),
        "rtf": Seed(F.rtf(ps[:3])),
        # text
        "eml": Seed(mail_body(ps)),
        "multipart": Seed(multipart_body(ps), {"content_type": MULTIPART}),
        "urlencoded": Seed(form_body(ps), {"content_type": "application/x-www-form-urlencoded"}),
        "json": Seed(json.dumps({"users": [{"name": p.name, "tel": p.phone} for p in ps[:4]],
                                 "rows": [["氏名", "電話"], *[[p.name, p.phone] for p in ps[4:8]]],
                                 "file": {"filename": "a.csv", "data": F.b64(csv)}}, ensure_ascii=False).encode()),
        "ndjson": Seed("\n".join(json.dumps({"n": p.name, "t": p.phone}, ensure_ascii=False) for p in ps).encode()),
        "html": Seed(F.html(ps)),
        "xml": Seed(("<?xml version='1.0' encoding='Shift_JIS'?><list>" + "".join(
            f'<p id="{i}"><n>{p.name}</n><t>{p.phone}</t></p>' for i, p in enumerate(ps)) + "</list>").encode("cp932")),
        "csv": Seed(csv),
        "euc-text": Seed(text.decode().encode("euc_jp")),
        "utf16-text": Seed(text.decode().encode("utf-16-le")),
        "base64": Seed(base64.encodebytes(F.zip_of({"a.csv": csv}))),
        "pgp": Seed(b"-----BEGIN PGP MESSAGE-----\n\nhQEMA3abc\n=abcd\n-----END PGP MESSAGE-----\n"),
        "binary": Seed(bytes(range(256)) * 4 + b"\x00\x01 " + text + bytes(range(64))),
        # Content-Encoding
        "ce-gzip": Seed(gzip.compress(csv), {"content_encoding": "gzip"}),
        "ce-deflate": Seed(zlib.compress(csv), {"content_encoding": "deflate"}),
        "ce-br": Seed(brotli.compress(csv), {"content_encoding": "br"}),
        "ce-zstd": Seed(zstd.compress(csv), {"content_encoding": "zstd"}),
        "ce-stacked": Seed(brotli.compress(gzip.compress(csv)), {"content_encoding": "gzip, br"}),
    }


def _encrypted_ooxml() -> bytes:
    """An OOXML file with a password (msoffcrypto spins 100,000 hashes: made once)."""
    return F.encrypted_ooxml(F.docx(_persons()[:2]))


# -- mutations ---------------------------------------------------------------------------------

OPS = ("flip", "set", "insert", "delete", "truncate", "duplicate")


def mutate(data: bytes, ops: list[tuple[str, float, float, bytes]]) -> bytes:
    """``data`` after each (op, where, extent, bytes): flip bits of a byte, overwrite, insert,
    delete a span, truncate, or duplicate a section (the span ``where``..``where+extent``
    copied to after itself: repeated parts, records and headers)."""
    out = bytearray(data)
    for op, where, extent, chunk in ops:
        if not out:
            break
        i = int(where * len(out))
        span = max(1, int(extent * min(len(out) - i, 4096)))
        if op == "flip":
            out[i] ^= chunk[0] or 0x80
        elif op == "set":
            out[i:i + len(chunk)] = chunk
        elif op == "insert":
            out[i:i] = chunk
        elif op == "delete":
            del out[i:i + span]
        elif op == "truncate":
            del out[i:]
        else:
            out[i + span:i + span] = out[i:i + span]
    return bytes(out)


def random_ops(rnd: random.Random, n: int | None = None) -> list[tuple[str, float, float, bytes]]:
    return [(rnd.choice(OPS), rnd.random(), rnd.random(), rnd.randbytes(rnd.randint(1, 16)))
            for _ in range(n or rnd.randint(1, 6))]


# -- what every result satisfies -----------------------------------------------------------------

def check(result: object, limits: InspectSettings = LIMITS) -> None:
    """The engine did not fail (engine_error), no handler failure went unexplained
    ("extractor failed": a library exception the handler did not turn into a specific
    error), every error carries a defined uninspectable reason, and the scan kept to its
    time budget."""
    r = result
    assert r.engine_error is None, r.engine_error  # type: ignore[attr-defined]
    assert not any("extractor failed" in e for e in r.errors), r.errors  # type: ignore[attr-defined]
    assert set(r.uninspectable) <= REASONS, r.uninspectable  # type: ignore[attr-defined]
    assert not r.errors or r.uninspectable, r.errors  # type: ignore[attr-defined]
    assert r.seconds < limits.timeout + SLACK, r.seconds  # type: ignore[attr-defined]


def scan(body: bytes, limits: InspectSettings = LIMITS, **transfer: object) -> object:
    return F.scan_bytes(body, limits=limits, **transfer)


