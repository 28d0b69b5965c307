"""A body is never parsed into less than it carries, and a declared type never decides alone
(issue 12, point 1): the same 2,000 persons under misleading labels, encodings and wrappers,
and the request line and headers read as content (point 2)."""

import base64
import binascii
import random
import urllib.parse

import formats as F
import pytest

from dlp.config import InspectSettings
from dlp.detect.registry import DETECTOR_IDS
from dlp.engine import request_is_clean
from dlp.extract import embedded
from dlp.extract.budget import Budget
from dlp.extract.request import STANDARD_HEADERS, carries_content, header_fields, line_fields


def clean(r) -> None:
    assert r.uninspectable == [] and r.errors == [] and r.engine_error is None, r.errors


@pytest.fixture(scope="module")
def csv_bytes(persons) -> bytes:
    return F.csv_text(persons).encode("cp932")


@pytest.mark.parametrize("ctype", ["application/x-www-form-urlencoded", "text/html", "application/json",
                                   "application/xml", "multipart/form-data; boundary=x", "image/png", ""])
def test_a_csv_is_a_csv_whatever_its_label(csv_bytes, ctype):
    r = F.scan_bytes(csv_bytes, content_type=ctype)
    clean(r)
    assert r.persons == 2000


@pytest.mark.parametrize("name", ["residents.html", "residents.json", "residents.png"])
def test_a_csv_is_a_csv_whatever_its_name(csv_bytes, name):
    r = F.scan_bytes(csv_bytes, filename=name, content_type="text/html")
    assert r.persons == 2000


@pytest.mark.parametrize("encode", [binascii.hexlify, lambda d: binascii.hexlify(d).upper(), base64.b32encode,
                                    base64.b64encode, base64.urlsafe_b64encode, base64.encodebytes])
def test_a_whole_body_in_an_encoding_is_read_decoded(csv_bytes, encode):
    r = F.scan_bytes(encode(csv_bytes), content_type="text/plain")
    clean(r)
    assert r.persons == 2000


def test_encoded_runs_are_read_besides_the_text_around_them(persons, csv_bytes):
    """A base64url line in front of a plain list must not replace the list by its junk, and a
    hex-encoded list inside a note is read too."""
    half = len(persons) // 2
    plain = F.csv_text(persons[:half]).encode("utf-8")
    hidden = binascii.hexlify(F.csv_text(persons[half:]).encode("utf-8"))
    noise = base64.urlsafe_b64encode(random.Random(5).randbytes(3072))
    body = noise + b"\n" + plain + b"\n\nattachment:\n" + hidden + b"\n"
    r = F.scan_bytes(body, content_type="text/plain")
    clean(r)
    assert r.persons in (2000, 2001)  # the noise line may stand as the plain list's header


def test_lenient_base64_decoding_never_drops_text():
    """urlsafe_b64decode drops characters outside its alphabet: a CSV is no base64."""
    assert embedded.unwrap("abc-_def,山田") is None
    assert embedded.unwrap("QUJD+/-_") is None  # two alphabets in one string
    assert embedded.unwrap("48656c6c6f") == b"Hello"
    assert embedded.unwrap("JBSWY3DP") == b"Hello"


def test_hashes_and_tokens_in_text_are_not_files():
    digests = "\n".join(f"{random.Random(i).randbytes(32).hex()}  file{i}.txt" for i in range(200)).encode()
    assert list(embedded.run_members(digests, "body", Budget(InspectSettings()))) == []


def test_textarea_rows_are_a_table_in_the_pages_encoding(csv_bytes):
    body = b"title=%96%BC%95%EB&rows=" + urllib.parse.quote_from_bytes(csv_bytes).encode() + b"&send=1"
    r = F.scan_bytes(body, content_type="application/x-www-form-urlencoded")
    clean(r)
    assert r.persons == 2000


def test_a_multipart_text_field_is_a_document_of_its_own(persons):
    text = F.csv_text(persons).encode("cp932")
    body = (b"--b\r\nContent-Disposition: form-data; name=\"memo\"\r\n\r\n" + text + b"\r\n--b--\r\n")
    r = F.scan_bytes(body, content_type="multipart/form-data; boundary=b")
    clean(r)
    assert r.persons == 2000


def test_one_contact_form_is_one_person():
    body = "name=山田太郎&tel=090-1234-5678&mail=taro@example.co.jp&msg=よろしくお願いします"
    r = F.scan_bytes(urllib.parse.quote(body, safe="=&").encode(), content_type="application/x-www-form-urlencoded")
    clean(r)
    assert r.persons == 1


@pytest.mark.parametrize("markup", [
    "<pre>{rows}</pre>", "<div>{rows_br}</div>", "<body>\n{rows}\n</body>", "<textarea>{rows}</textarea>",
    "<table><tr><td>{rows}</td></tr></table>",
])
def test_html_keeps_lines_and_cells(persons, markup):
    rows = F.csv_text(persons)
    page = "<html>" + markup.format(rows=rows, rows_br="<br>".join(rows.splitlines())) + "</html>"
    r = F.scan_bytes(page.encode(), content_type="text/html")
    clean(r)
    assert r.persons == 2000


# -- the request line and headers ----------------------------------------------------------

def test_request_fields_are_decoded_as_bytes():
    got = line_fields("/a/%E5%B1%B1?x=1+2&%E5%90%8D=%8ER%93c&blob") + list(header_fields(
        (("Host", "h"), ("User-Agent", "curl/8"), ("X-Note", "%E5%B1%B1"), ("Cookie", "a=1; b=%41"))))
    assert got == [("path", "/a/山".encode()), ("x", b"1 2"), ("名", "山田".encode("cp932")), (None, b"blob"),
                   ("X-Note", "山".encode()), ("cookie:a", b"1"), ("cookie:b", b"A")]


def test_ordinary_browsing_takes_the_fast_path():
    browser = [("Host", "example.jp"), ("User-Agent", "Mozilla/5.0"), ("Accept", "*/*"),
               ("Accept-Language", "ja"), ("Sec-Fetch-Mode", "navigate"), ("Referer", "https://example.jp/")]
    assert not carries_content("/index.html", browser)
    assert carries_content("/index.html?q=1", browser)
    assert carries_content("/%E5%B1%B1", browser)
    assert carries_content("/index.html", [*browser, ("Cookie", "sid=1")])
    assert carries_content("/index.html", [*browser, ("X-Anything", "1")])
    assert all(h == h.lower() for h in STANDARD_HEADERS)


@pytest.mark.parametrize("where", ["query", "path", "header", "cookie"])
def test_rows_in_the_request_line_and_headers_are_persons(persons, where):
    chunk = "\n".join(F.csv_text(persons[:50]).splitlines()[1:])
    path, headers = "/x", [("Host", "h")]
    if where == "query":
        path = "/x?d=" + urllib.parse.quote(chunk)
    elif where == "path":
        path = "/x/" + urllib.parse.quote(chunk, safe="")
    elif where == "header":
        headers.append(("X-Data", base64.b64encode(chunk.encode("cp932")).decode()))
    else:
        headers.append(("Cookie", "d=" + urllib.parse.quote(chunk)))
    r = F.scan_bytes(b"", method="GET", path=path, headers=tuple(headers))
    clean(r)
    assert r.persons == 50


BROWSING = (("Host", "example.jp"), ("User-Agent", "Mozilla/5.0"), ("Accept-Language", "ja"),
            ("Cookie", "_ga=GA1.2.1234567890.1700000000; session=eyJhbGciOiJIUzI1NiJ9.eyJ1aWQiOjQyfQ.c2ln; lang=ja"),
            ("X-Csrf-Token", "4f3b2a1c9d8e7f6a"))


@pytest.mark.parametrize("path, extra, clean_expected", [
    ("/search?q=%E5%A4%A9%E6%B0%97%E4%BA%88%E5%A0%B1&hl=ja&start=40", (), True),
    ("/item/4901234567894?ref=top&page=2", (), True),
    ("/form?tel=090-1234-5678", (), False),                                  # a labelled phone
    ("/form?tel1=090&tel2=1234&tel3=5678&name=%E5%B1%B1%E7%94%B0%E5%A4%AA%E9%83%8E", (), None),  # split fields
    ("/x", (("X-Mail", "taro.yamada@example.co.jp"),), False),              # a header value
    ("/x", (("Cookie", "who=hanako.suzuki%40example.ne.jp"),), False),       # a cookie value
    ("/x?d=" + base64.b64encode(b'{"items": [' + b", ".join(b'"item-%d"' % i for i in range(20)) + b"]}").decode(),
     (), False),                                                              # a document: scan it
])
def test_the_browsing_pre_check_never_calls_clean_what_the_scan_finds(path, extra, clean_expected):
    """``request_is_clean`` lets browsing skip the scan; it must never say clean where the
    full scan finds something (None: whatever the scan says, the two agree)."""
    headers = BROWSING + extra
    verdict = request_is_clean(path, headers, frozenset(DETECTOR_IDS))
    r = F.scan_bytes(b"", method="GET", path=path, headers=headers)
    assert not (verdict and (r.findings or r.uninspectable))
    if clean_expected is not None:
        assert verdict is clean_expected
    if clean_expected is None:
        assert verdict is not bool(r.findings)
