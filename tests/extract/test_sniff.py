"""The true type comes from magic bytes and structure, never from a name or a declared type."""

import formats as F
import pytest
from synthetic import people

from dlp.extract.sniff import magic, sniff, text_kind

PS = people(3, seed=9)


@pytest.mark.parametrize("data, kind", [
    (F.xlsx(PS), "xlsx"), (F.docx(PS), "docx"), (F.pptx(PS), "pptx"), (F.ods(PS, pad=False), "ods"),
    (F.odt(PS), "odt"), (F.odp(PS), "odp"), (F.zip_of({"a.txt": b"x"}), "zip"), (F.xls(PS), "xls"),
    (F.msg(PS), "msg"), (F.encrypted_ooxml(F.docx(PS)), "ooxml-encrypted"), (F.encrypted_doc(), "ole"),
    (F.pdf(PS), "pdf"), (F.rtf(PS), "rtf"), (F.sevenz_of({"a": b"x"}), "7z"), (F.tar_of({"a": b"x"}), "tar"),
    (F.COMPRESSORS["gzip"](b"x"), "gzip"), (F.COMPRESSORS["bz2"](b"x"), "bz2"), (F.COMPRESSORS["xz"](b"x"), "xz"),
    (b"Rar!\x1a\x07\x00" + bytes(50), "rar"), (b"plain text", None), (bytes(100), None),
])
def test_formats_by_content(data, kind):
    assert sniff(data) == kind


def test_pdf_header_may_follow_junk_but_text_mentioning_it_is_text():
    assert magic(b"\r\n\x00garbage%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n") == "pdf"
    assert magic(b"the header is %PDF-1.4, see the spec") is None


@pytest.mark.parametrize("head, ctype, kind", [
    ('{"a": 1}', "", "json"), ("[1, 2]", "text/plain", "json"), ("<!DOCTYPE html><html>", "", "html"),
    ("<div>氏名</div>", "", "html"), ("<?xml version='1.0'?><a/>", "", "xml"), ("<members><m/></members>", "", "xml"),
    ("氏名,電話\n", "text/html", "text"), ("hi <b>x</b>", "text/html", "html"), ("a=1&b=%E5%B1%B1", "", "urlencoded"),
    ("From: a@example.jp\r\nTo: b@example.com\r\nSubject: x\r\n\r\nbody", "", "eml"),
    ("Subject: only one header\n\nbody", "", "text"), ("A" * 100 + "==", "", "base64"),
    ("-----BEGIN PGP MESSAGE-----\n", "", "pgp"), ("氏名,電話\n山田,090\n", "", "text"),
])
def test_text_kinds(head, ctype, kind):
    assert text_kind(head, ctype) == kind
