"""Property: random bytes, and random mutations of a valid input of every format handler and
parser (flipped, overwritten, inserted and deleted bytes, truncation, duplicated sections),
never raise out of the engine (engine_error stays None), never hit a handler failure the
extractor did not turn into a specific error, always end in a defined verdict (scanned, or
errors with an uninspectable reason) and keep to the time budget (``fuzzing.check``).

The parsers are also driven with generated structure: multipart bodies of random parts and
headers, MIME messages of random headers and nesting, urlencoded forms, request lines and
headers, Content-Encoding streams. Deterministic (the ``ci`` profile in tests/conftest.py:
derandomize, no example database), so a failure reproduces and none comes by chance;
example counts keep all of it within ~30 s. ``make fuzz`` runs the same inputs unbounded.
"""

from __future__ import annotations

import string

import fuzzing as Z
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlp.extract.forms import _FORM, is_form, multipart_parts, urlencoded_fields
from dlp.extract.mail import decode_words
from dlp.extract.text import split_lines


def examples(n: int) -> settings:
    return settings(max_examples=n, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check(body: bytes, **transfer: object) -> None:
    Z.check(Z.scan(body, **transfer))


# -- random and mutated inputs -----------------------------------------------------------------

@examples(200)
@given(st.binary(max_size=8192))
def test_random_bytes(body):
    check(body)


MAGIC = [b"PK\x03\x04", b"%PDF-1.7\n", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"7z\xbc\xaf\x27\x1c", b"{\\rtf1 ",
         b"\x1f\x8b\x08", b"BZh91AY&SY", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"<?xml version='1.0'?><a>",
         b"{\"a\": [", b"<html><body>", b"From: a@b.c\r\nTo: d@e.f\r\n", b"-----BEGIN PGP MESSAGE-----\n"]


@examples(150)
@given(st.sampled_from(MAGIC), st.binary(max_size=4096))
def test_random_bytes_behind_a_magic_number(magic, body):
    check(magic + body)


MUTATIONS = st.lists(st.tuples(st.sampled_from(Z.OPS), st.floats(0, 1, exclude_max=True),
                               st.floats(0, 1), st.binary(min_size=1, max_size=16)), min_size=1, max_size=6)


@pytest.mark.parametrize("kind", sorted(Z.seeds()))
@examples(60)
@given(mutations=MUTATIONS)
def test_mutations_of_valid_inputs(kind, mutations):
    seed = Z.seeds()[kind]
    check(Z.mutate(seed.body, mutations), **seed.transfer)


@pytest.mark.parametrize("kind", ["multipart", "eml", "urlencoded", "ce-gzip", "ce-br", "ce-zstd", "ce-deflate"])
@examples(25)
@given(mutations=MUTATIONS)
def test_mutations_with_another_label(kind, mutations):
    """The same bodies under labels that do not fit (a multipart type on a mail, an encoding
    on a body that is not encoded): the label never decides alone, and never breaks."""
    seed = Z.seeds()[kind]
    body = Z.mutate(seed.body, mutations)
    check(body, content_type=Z.MULTIPART)
    check(body, content_encoding="gzip, br")


# -- multipart/form-data -------------------------------------------------------------------------

TOKEN = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=12)
HEADER_VALUE = st.one_of(
    st.text(max_size=60).map(lambda s: s.replace("\r", " ").replace("\n", " ")),
    st.builds(lambda n, f: f'form-data; name="{n}"' + (f'; filename="{f}"' if f else ""), TOKEN,
              st.one_of(st.none(), TOKEN, st.just("=?utf-8?b?5ZCN57C/?=.csv"))),
    st.builds(lambda f: f"form-data; name=x; filename*=UTF-8''{f}", st.sampled_from(["%E5%90%8D.csv", "%ZZ", "''"])),
)
PART_HEADERS = st.lists(st.tuples(st.sampled_from(["Content-Disposition", "Content-Type", "Content-Transfer-Encoding",
                                                   "content-disposition", "X-Other", ""]), HEADER_VALUE), max_size=4)
PART_BODIES = st.one_of(st.binary(max_size=300),
                        st.sampled_from([Z.seeds()[k].body for k in ("csv", "zip", "json", "xls")]))


@st.composite
def multipart(draw) -> tuple[bytes, str]:
    boundary = draw(st.one_of(st.just(Z.BOUNDARY), TOKEN))
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    out = draw(st.binary(max_size=40))
    for headers, body in draw(st.lists(st.tuples(PART_HEADERS, PART_BODIES), max_size=6)):
        out += b"--" + boundary.encode() + eol
        out += b"".join(f"{k}: {v}".encode("utf-8", "replace") + eol for k, v in headers)
        out += eol + body + eol
    if draw(st.booleans()):
        out += b"--" + boundary.encode() + b"--" + eol
    ctype = draw(st.sampled_from([f"multipart/form-data; boundary={boundary}",
                                  f'multipart/form-data; boundary="{boundary}"', "multipart/form-data",
                                  "multipart/form-data; boundary=", f"MULTIPART/FORM-DATA;BOUNDARY={boundary}"]))
    return out, ctype


@examples(300)
@given(multipart(), MUTATIONS)
def test_generated_multipart_bodies(body_type, mutations):
    body, ctype = body_type
    check(body, content_type=ctype)
    check(Z.mutate(body, mutations), content_type=ctype)


@examples(200)
@given(st.binary(max_size=2000), st.text(max_size=80))
def test_multipart_parser_raises_only_what_it_declares(body, ctype):
    from dlp.extract.budget import Uninspectable
    from dlp.extract.events import Mismatch
    try:
        for part in multipart_parts(body, "multipart/form-data; " + ctype):
            assert isinstance(part.data, bytes)
    except (Mismatch, Uninspectable):
        pass


# -- MIME messages -------------------------------------------------------------------------------

MAIL_HEADER_VALUE = st.one_of(
    st.text(max_size=80).map(lambda s: s.replace("\r", "").replace("\n", "")),
    st.lists(st.sampled_from(["=?utf-8?b?5bGx55Sw?=", "=?ISO-2022-JP?B?GyRCOzNFRBsoQg==?=",
                              "=?shift_jis?q?=8ER=93c?=", "=?x-unknown?b?AAAA?=", "=?utf-8?q?a_b?=", "=?utf-8?b?!!?=",
                              "<a@b.c>", '"Sato, H"', ","]), max_size=8).map(" ".join),
    st.builds(lambda b, p: f"multipart/{p}; boundary={b}", TOKEN, st.sampled_from(["mixed", "alternative", "related"])),
    st.sampled_from(["text/plain; charset=iso-2022-jp", "text/html; charset=shift_jis", "message/rfc822",
                     "text/plain; charset=idna", "text/plain; charset=zlib", "=?undefined?q?x?=",
                     "application/pkcs7-mime; smime-type=enveloped-data", "application/octet-stream; name=a.zip",
                     "base64", "quoted-printable", "attachment; filename*=utf-8''%E5%90%8D.csv"]),
)
MAIL_HEADERS = st.lists(st.tuples(st.sampled_from(["From", "To", "Cc", "Bcc", "Subject", "Content-Type",
                                                   "Content-Transfer-Encoding", "Content-Disposition", "MIME-Version"]),
                                  MAIL_HEADER_VALUE), min_size=1, max_size=8)


@st.composite
def mail(draw, depth: int = 0) -> bytes:
    headers = draw(MAIL_HEADERS)
    head = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers)
    if depth < 2 and draw(st.booleans()):
        boundary = draw(TOKEN)
        head += f"Content-Type: multipart/mixed; boundary={boundary}\r\n".encode()
        parts = draw(st.lists(st.one_of(mail(depth + 1), PART_BODIES), max_size=4))
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
        if draw(st.booleans()):
            body += b"--" + boundary.encode() + b"--\r\n"
    else:
        body = draw(PART_BODIES)
    return head + b"\r\n" + body


@examples(300)
@given(mail(), MUTATIONS)
def test_generated_mail_messages(message, mutations):
    check(message, content_type="message/rfc822")
    check(Z.mutate(message, mutations))


@examples(300)
@given(st.text(max_size=200))
def test_header_decoding_never_raises(value):
    assert isinstance(decode_words(value), str)
    raw = value.encode("utf-8", "surrogatepass").decode("ascii", "surrogateescape")
    assert isinstance(decode_words(raw), str)


# -- urlencoded forms --------------------------------------------------------------------------

FORM_ALPHABET = [b"a", b"=", b"&", b" ", b"\n", b"%", b"%E5", b"%8E", b"+", b"\t", b"\x00", b"\xff", b"a" * 257]


@examples(400)
@given(st.lists(st.sampled_from(FORM_ALPHABET), max_size=14).map(b"".join))
def test_the_form_shape_check_is_the_form_regex(body):
    """``is_form`` decides by searches what ``_FORM.fullmatch`` decides (the regex needs a
    backtracking frame per pair: gigabytes for a large body)."""
    assert is_form(body) == bool(_FORM.fullmatch(body))
    fields = urlencoded_fields(body)
    assert (fields is not None) == is_form(body)


@st.composite
def form(draw) -> bytes:
    pairs = draw(st.lists(st.tuples(st.text(min_size=1, max_size=10), st.one_of(
        st.text(max_size=40), st.sampled_from([Z.seeds()["csv"].body.decode("cp932"), Z.seeds()["base64"].body.decode(),
                                               '{"a": [1, "山田 太郎"]}', "data:text/csv;base64,YSxiCjEsMgo="]))),
        min_size=1, max_size=8))
    from urllib.parse import quote
    encoding = draw(st.sampled_from(["utf-8", "cp932", "euc_jp"]))
    return "&".join(f"{quote(k.encode(encoding, 'replace'))}={quote(v.encode(encoding, 'replace'))}"
                    for k, v in pairs).encode()


@examples(200)
@given(form(), MUTATIONS)
def test_generated_forms(body, mutations):
    check(body, content_type="application/x-www-form-urlencoded")
    check(Z.mutate(body, mutations), content_type="application/x-www-form-urlencoded")


# -- the request line and headers ----------------------------------------------------------------

@examples(150)
@given(st.text(max_size=300), st.lists(st.tuples(st.sampled_from(["Cookie", "X-Data", "User-Agent", "Authorization",
                                                                    "X-Forwarded-For", "x-token"]),
                                                   st.text(max_size=200)), max_size=5))
def test_request_lines_and_headers(query, headers):
    from urllib.parse import quote
    path = "/upload?" + "&".join(f"{quote(k)}={v}" for k, v in (p.partition("=")[::2] for p in query.split("&")))
    Z.check(Z.scan(b"", path=path, headers=tuple(headers), method="GET"))


# -- Content-Encoding --------------------------------------------------------------------------

@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd", "gzip, br", "identity", "compress", "br, br"])
@examples(30)
@given(st.binary(max_size=2048))
def test_random_bytes_as_every_content_encoding(coding, body):
    check(body, content_encoding=coding)


# -- line splitting ----------------------------------------------------------------------------

@examples(400)
@given(st.lists(st.text(alphabet="ab,\"\r\n\x0c\u2028\x85", max_size=10), max_size=10))
def test_lines_of_a_text_in_pieces_are_the_lines_of_the_text(pieces):
    lines = [line for chunk in split_lines(pieces) for line in chunk]
    assert lines == "".join(pieces).splitlines(keepends=True)


@examples(400)
@given(st.lists(st.text(alphabet="ab,\"\r\n\x0c", max_size=10), max_size=10), st.integers(1, 12))
def test_a_line_past_max_line_comes_in_segments_that_join_to_it(pieces, max_line):
    text = "".join(pieces)
    segments = [s for chunk in split_lines(pieces, max_line=max_line) for s in chunk]
    assert "".join(segments) == text
    longest_piece = max(map(len, pieces), default=0)
    for s in segments:                       # a segment ends a line, or is cut once it reached max_line
        assert s.endswith(("\n", "\r", "\x0c")) or len(s) >= max_line or s is segments[-1]
        assert len(s) < max_line + 2 * longest_piece + 2


def test_every_handler_and_parser_has_a_seed():
    """A new format handler gets a seed here (and so a property test and a fuzz target)."""
    from dlp.extract import BINARY_HANDLERS, TEXT_HANDLERS
    missing = set(BINARY_HANDLERS) | set(TEXT_HANDLERS) | {"multipart", "binary"}
    covered = set(Z.seeds()) | {"text"}  # text: csv, euc-text, utf16-text
    assert missing - covered == set()


def test_seeds_are_valid_and_scanned():
    for kind, seed in Z.seeds().items():
        r = Z.scan(seed.body, **seed.transfer)
        Z.check(r)
        assert r.persons or r.uninspectable == ["encrypted"], kind


