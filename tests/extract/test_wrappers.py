"""Transport wrappers: the same 2,000 persons as a gzip-encoded PUT, a multipart upload, a
urlencoded form, JSON (nested, NDJSON, rows), base64 inside JSON and form fields (webmail
attachments), data: URLs, XML, and a raw base64 body."""

import base64
import gzip
import json
import urllib.parse

import brotli
import formats as F
import pytest

from dlp.extract.content_encoding import zstd


def clean(r) -> None:
    assert r.uninspectable == [] and r.errors == [] and r.engine_error is None, r.errors


@pytest.mark.parametrize("coding, encode", [
    ("gzip", gzip.compress),
    ("br", brotli.compress),
    ("zstd", zstd.compress),
    ("gzip, br", lambda d: brotli.compress(gzip.compress(d))),
])
def test_content_encoded_put_of_a_workbook(persons, coding, encode):
    r = F.scan_bytes(encode(F.xlsx(persons)), content_encoding=coding, filename="list.xlsx")
    clean(r)
    assert r.persons == 2000


def test_multipart_upload_keeps_each_part(persons):
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    parts = [
        (b'Content-Disposition: form-data; name="comment"\r\n\r\n', "資料です".encode()),
        (b'Content-Disposition: form-data; name="file"; filename="photo.jpg"\r\n'
         b"Content-Type: image/jpeg\r\n\r\n", F.xlsx(persons)),  # lies about its type
        (b'Content-Disposition: form-data; name="file2"; filename*=UTF-8\'\'%E5%90%8D%E7%B0%BF.csv\r\n'
         b"Content-Type: text/csv\r\n\r\n", F.csv_text(persons[:10]).encode("cp932")),
    ]
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + head + data + b"\r\n" for head, data in parts)
    body += b"--" + boundary.encode() + b"--\r\n"
    r = F.scan_bytes(body, content_type=f"multipart/form-data; boundary={boundary}")
    clean(r)
    assert r.persons == 2000
    assert r.filenames == ["photo.jpg", "名簿.csv"]


def test_multipart_form_fields_are_one_record():
    boundary = "b0"
    fields = {"name": "山田 太郎", "tel": "090-1234-5678", "mail": "taro@example.jp"}
    body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in fields.items()) + f"--{boundary}--\r\n"
    r = F.scan_bytes(body.encode(), content_type=f"multipart/form-data; boundary={boundary}")
    clean(r)
    assert r.persons == 1 and r.records == 1


def test_urlencoded_form_with_base64_file_field(persons):
    fields = {"to": "partner@example.com", "attachment": F.b64(F.xlsx(persons))}
    body = urllib.parse.urlencode(fields).encode()
    r = F.scan_bytes(body, content_type="application/x-www-form-urlencoded")
    clean(r)
    assert r.persons == 2001  # the workbook and the address in the form


def test_urlencoded_body_without_content_type():
    r = F.scan_bytes(urllib.parse.urlencode({"shimei": "山田 太郎", "tel": "090-1234-5678"}).encode())
    assert r.records == 1 and r.findings.get("phone") == 1


def test_json_nested_objects(persons):
    doc = {"data": {"customers": [{"profile": {"name": p.name, "tel": p.phone}, "mail": p.email}
                                  for p in persons]}}
    r = F.scan_bytes(json.dumps(doc, ensure_ascii=False).encode(), content_type="application/json")
    clean(r)
    assert r.persons == 2000


def test_ndjson(persons):
    body = "\n".join(json.dumps({"氏名": p.name, "電話番号": p.phone}, ensure_ascii=False) for p in persons)
    r = F.scan_bytes(body.encode(), content_type="application/x-ndjson")
    clean(r)
    assert r.persons == 2000


def test_json_rows_are_a_table(persons):
    doc = {"range": "Sheet1!A1:E2001", "values": [F.HEADER, *F.rows(persons)]}  # Sheets API shape
    r = F.scan_bytes(json.dumps(doc, ensure_ascii=False).encode())
    clean(r)
    assert r.persons == 2000


def test_base64_attachment_in_webmail_json(persons):
    doc = {"message": {"to": ["partner@example.com"], "subject": "資料",
                       "attachments": [{"filename": "名簿.xlsx", "mimeType": "application/octet-stream",
                                        "data": F.b64(F.xlsx(persons))}]}}
    r = F.scan_bytes(json.dumps(doc).encode(), content_type="application/json")
    clean(r)
    assert r.persons == 2001 and "body/名簿.xlsx" in r.filenames


def test_gmail_style_raw_message_urlsafe_base64(persons):
    raw = F.eml(persons[:1], F.csv_text(persons).encode("cp932"))
    doc = {"raw": base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    r = F.scan_bytes(json.dumps(doc).encode(), content_type="application/json")
    clean(r)
    assert r.persons == 2001


def test_data_url_and_mime_wrapped_base64(persons):
    csv = F.csv_text(persons).encode("utf-8")
    doc = {"file": "data:text/csv;base64," + F.b64(csv),
           "wrapped": base64.encodebytes(F.csv_text(persons[:5]).encode()).decode()}
    r = F.scan_bytes(json.dumps(doc).encode())
    clean(r)
    assert r.persons == 2000


def test_json_string_holding_json(persons):
    inner = json.dumps([{"name": p.name, "tel": p.phone} for p in persons], ensure_ascii=False)
    r = F.scan_bytes(json.dumps({"payload": inner}).encode())
    clean(r)
    assert r.persons == 2000


def test_short_base64_looking_values_stay_values():
    doc = {"token": "A" * 40, "sha256": "ab" * 32, "name": "山田 太郎", "tel": "090-1234-5678"}
    r = F.scan_bytes(json.dumps(doc, ensure_ascii=False).encode())
    clean(r)
    assert r.persons == 1


def test_raw_base64_body(persons):
    r = F.scan_bytes(F.b64(F.xlsx(persons)).encode(), content_type="text/plain")
    clean(r)
    assert r.persons == 2000


def test_xml_elements_are_records(persons):
    members = "".join(f"<member><name>{p.name}</name><tel>{p.phone}</tel><mail>{p.email}</mail></member>"
                      for p in persons)
    body = f'<?xml version="1.0" encoding="UTF-8"?><members>{members}</members>'
    r = F.scan_bytes(body.encode(), content_type="application/xml")
    clean(r)
    assert r.persons == 2000


def test_xml_in_shift_jis_and_attributes(persons):
    members = "".join(f'<person name="{p.name}" tel="{p.phone}"/>' for p in persons)
    body = f'<?xml version="1.0" encoding="Shift_JIS"?><list>{members}</list>'
    r = F.scan_bytes(body.encode("cp932"))
    clean(r)
    assert r.persons == 2000


def test_text_that_only_looks_like_json_or_xml_is_text():
    for body in ("[重要] 山田 太郎 様\n電話 090-1234-5678\n", "<<至急>> 山田 太郎 様\n電話 090-1234-5678\n"):
        r = F.scan_bytes(body.encode())
        clean(r)
        assert r.findings.get("phone") == 1


def test_a_log_whose_lines_start_with_a_bracketed_time_is_text():
    # the first line fails as JSON after a few parser events: text, not corrupt JSON
    body = "".join(f"[2026-11-27 10:00:{i % 60:02d}] INFO job {i} by 090-1234-{i:04d}\n" for i in range(200))
    r = F.scan_bytes(body.encode())
    clean(r)
    assert r.findings.get("phone") == 200


def test_json_that_breaks_after_the_probe_is_corrupt_even_when_short():
    # 70 array values get past the PROBE_EVENTS window, then the body breaks: corrupt JSON
    body = ("[" + ", ".join(str(i) for i in range(70)) + ", oops]").encode()
    r = F.scan_bytes(body)
    assert r.uninspectable == ["corrupt"] and "invalid or truncated JSON" in r.errors[0]


def test_truncated_json_is_reported_and_still_scanned(persons):
    body = json.dumps([{"name": p.name, "tel": p.phone} for p in persons], ensure_ascii=False).encode()
    r = F.scan_bytes(body[: len(body) // 2])
    assert r.uninspectable == ["corrupt"] and "invalid or truncated JSON" in r.errors[0]
    assert r.persons >= 999


def test_pgp_armored_body_is_encrypted():
    body = b"-----BEGIN PGP MESSAGE-----\n\nhQEMA0xyz\n-----END PGP MESSAGE-----\n"
    r = F.scan_bytes(body)
    assert r.encrypted and r.uninspectable == ["encrypted"]
