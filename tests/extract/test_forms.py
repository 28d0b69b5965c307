import pytest

from dlp.config import InspectSettings
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import Mismatch
from dlp.extract.forms import multipart_parts, urlencoded_fields
from dlp.extract.jsondoc import json_records


def test_multipart_parts_keep_names_types_and_bytes():
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''%E5%90%8D%E7%B0%BF.csv\r\n"
            b"Content-Type: text/csv\r\n\r\na,b\r\n1,2\r\n--XyZ--\r\n")
    parts = list(multipart_parts(body, "multipart/form-data; boundary=XyZ"))
    assert [(p.name, p.filename, p.data) for p in parts] == [
        ("note", None, b"hello"), ("f", "名簿.csv", b"a,b\r\n1,2")]
    assert parts[1].content_type == "text/csv"


def test_multipart_without_boundary_or_with_wrong_boundary_is_no_multipart():
    """A declared type never decides alone: the body is read as text instead (Mismatch)."""
    with pytest.raises(Mismatch):
        list(multipart_parts(b"--a\r\n\r\nx\r\n--a--", "multipart/form-data"))
    with pytest.raises(Mismatch):
        list(multipart_parts(b"no boundaries here", "multipart/form-data; boundary=zz"))


def test_multipart_preamble_and_epilogue_are_parts():
    body = (b"rows before,the first boundary\r\n--b\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\n"
            b"v\r\n--b--\r\nrows after,the last\r\n")
    parts = list(multipart_parts(body, "multipart/form-data; boundary=b"))
    assert [(p.name, p.data) for p in parts] == [
        ("preamble", b"rows before,the first boundary\r\n"), ("n", b"v"), ("epilogue", b"\r\nrows after,the last\r\n")]


def test_a_part_without_headers_or_without_a_blank_line_is_content():
    """A part with no header fields starts with the blank line (RFC 2046); its content was
    taken for headers and dropped, as was a part whose headers never end. Both are read."""
    body = (b"--b\r\n\r\n\xe5\xb1\xb1\xe7\x94\xb0 090-1234-5678\r\n\r\nmore\r\n"
            b"--b\r\nContent-Type: text/plain\r\n080-2345-6789\r\n--b--\r\n")
    parts = list(multipart_parts(body, "multipart/form-data; boundary=b"))
    assert [p.data for p in parts] == ["山田 090-1234-5678\r\n\r\nmore".encode(),
                                       b"Content-Type: text/plain\r\n080-2345-6789"]
    assert parts[1].content_type == "text/plain"


def test_truncated_multipart_still_yields_what_is_there():
    body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.csv\"\r\n\r\nrow1\r\nrow2"
    parts = multipart_parts(body, "multipart/form-data; boundary=b")
    part = next(parts)
    assert part.filename == "x.csv" and part.data.startswith(b"row1")
    with pytest.raises(Uninspectable) as e:
        next(parts)
    assert e.value.reason == "corrupt" and "closing boundary" in str(e.value)


def test_urlencoded_fields_are_decoded_as_bytes():
    fields = urlencoded_fields(b"name=%E5%B1%B1%E7%94%B0&tel=090-1234-5678&sj=%8ER%93c+%91%BE%98Y")
    assert fields == [("name", "山田".encode()), ("tel", b"090-1234-5678"), ("sj", "山田 太郎".encode("cp932"))]


@pytest.mark.parametrize("body", [b"a,b\n1,2\n", b"name=x&tel=1\nmore rows,here", b"=x", b"k" * 300 + b"=v"])
def test_a_body_of_another_shape_is_no_form(body):
    assert urlencoded_fields(body) is None


def test_json_objects_and_ndjson_become_labelled_records():
    recs = json_records(b'{"users": [{"name": "a", "mail": "a@x.jp"}, {"name": "b"}]}', "j", Budget(InspectSettings()))
    assert sorted(r.fields for r in recs) == [(("name", "a"), ("mail", "a@x.jp")), (("name", "b"),)]
    nd = json_records(b'{"name": "a"}\n{"name": "b"}\n', "j", Budget(InspectSettings()))
    assert len(nd) == 2
    assert json_records(b"plain text", "j", Budget(InspectSettings())) is None
