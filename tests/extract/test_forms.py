import pytest

from dlp.config import InspectSettings
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.forms import multipart_parts, urlencoded_record
from dlp.extract.jsondoc import json_records


def test_multipart_parts_keep_names_types_and_bytes():
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''%E5%90%8D%E7%B0%BF.csv\r\n"
            b"Content-Type: text/csv\r\n\r\na,b\r\n1,2\r\n--XyZ--\r\n")
    parts = list(multipart_parts(body, "multipart/form-data; boundary=XyZ"))
    assert [(p.name, p.filename, p.data) for p in parts] == [
        ("note", None, b"hello"), ("f", "名簿.csv", b"a,b\r\n1,2")]
    assert parts[1].content_type == "text/csv"


def test_multipart_without_boundary_or_with_wrong_boundary_is_corrupt():
    with pytest.raises(Uninspectable) as e:
        list(multipart_parts(b"--a\r\n\r\nx\r\n--a--", "multipart/form-data"))
    assert e.value.reason == "corrupt"
    with pytest.raises(Uninspectable) as e:
        list(multipart_parts(b"no boundaries here", "multipart/form-data; boundary=zz"))
    assert e.value.reason == "corrupt"


def test_truncated_multipart_still_yields_what_is_there():
    body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.csv\"\r\n\r\nrow1\r\nrow2"
    parts = multipart_parts(body, "multipart/form-data; boundary=b")
    part = next(parts)
    assert part.filename == "x.csv" and part.data.startswith(b"row1")
    with pytest.raises(Uninspectable) as e:
        next(parts)
    assert e.value.reason == "corrupt" and "closing boundary" in str(e.value)


def test_urlencoded_fields_become_labels():
    rec = urlencoded_record(b"name=%E5%B1%B1%E7%94%B0&tel=090-1234-5678", "form")
    assert rec.fields == (("name", "山田"), ("tel", "090-1234-5678"))


def test_json_objects_and_ndjson_become_labelled_records():
    recs = json_records(b'{"users": [{"name": "a", "mail": "a@x.jp"}, {"name": "b"}]}', "j", Budget(InspectSettings()))
    assert sorted(r.fields for r in recs) == [(("name", "a"), ("mail", "a@x.jp")), (("name", "b"),)]
    nd = json_records(b'{"name": "a"}\n{"name": "b"}\n', "j", Budget(InspectSettings()))
    assert len(nd) == 2
    assert json_records(b"plain text", "j", Budget(InspectSettings())) is None
