"""The whole HTTP path with real parts: a `dlp run` subprocess, a recording upstream server,
and clients that speak HTTP and HTTPS through the proxy."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import random
import ssl

import pytest
from servers import DlpProcess, Upstream, multipart, self_signed, send_http

pytestmark = pytest.mark.e2e

POLICY = """\
version: 1
rules:
  - name: bulk-personal-data
    when: {persons: 1000}
    action: block
  - name: bulk-review
    when: {persons: 100}
    action: quarantine
  - name: encrypted-content
    when: {encrypted: true}
    action: quarantine
notify: {contact: "security@example.jp"}
"""


@pytest.fixture(scope="module")
def dlp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dlp")
    cfg = tmp / "dlp.yaml"
    cfg.write_text(POLICY)
    proc = DlpProcess(cfg, tmp / "var", ["--set", "ssl_insecure=true"]).start()
    yield proc
    assert proc.stop() == 0, proc.output()


def send_https(proxy_port: int, ca: str, target_port: int, body: bytes, headers: dict[str, str],
               path: str = "/upload") -> tuple[int, bytes]:
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("127.0.0.1", proxy_port, context=ctx, timeout=60)
    conn.set_tunnel("localhost", target_port)
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def test_bulk_resident_upload_is_blocked_and_upstream_sees_nothing(dlp, upstream, residents_csv):
    body, ctype = multipart("住民一覧.csv", residents_csv.read_bytes())
    status, headers, page = send_http(dlp.port, upstream.port, body, {"Content-Type": ctype})
    assert status == 403
    text = page.decode()
    assert "bulk-personal-data" in text and "31429" in text
    incident = headers["x-sekimori-incident"]
    assert incident and incident in text
    assert "security@example.jp" in text
    assert text.index("ブロック") < text.index("blocked")  # Japanese first
    assert upstream.received == [] and upstream.connections == 0
    lines = (dlp.data_dir / "incidents.jsonl").read_text().splitlines()
    record = next(json.loads(x) for x in lines if json.loads(x)["id"] == incident)
    assert record["action"] == "block" and record["persons"] == 31429
    assert record["filenames"] == ["住民一覧.csv"]


def test_json_answer_for_api_clients(dlp, upstream, residents_csv):
    status, headers, data = send_http(dlp.port, upstream.port, residents_csv.read_bytes(),
                                      {"Content-Type": "text/csv", "Accept": "application/json"},
                                      method="PUT", path="/drive/residents.csv")
    assert status == 403 and headers["content-type"].startswith("application/json")
    doc = json.loads(data)
    assert doc["action"] == "block" and doc["persons"] == 31429 and doc["incident"]
    assert upstream.received == []


def test_benign_megabyte_arrives_byte_identical(dlp, upstream):
    content = random.Random(1501).randbytes(1 << 20)  # seeded: some random megabytes hold an e-mail-shaped run
    body, ctype = multipart("photo.bin", content, "application/octet-stream")
    status, _h, _d = send_http(dlp.port, upstream.port, body, {"Content-Type": ctype, "X-Trace": "abc"})
    assert status == 200
    [got] = upstream.received
    assert got.sha256 == hashlib.sha256(body).hexdigest()
    assert got.headers["Content-Type"] == ctype and got.headers["X-Trace"] == "abc"


def test_gzip_encoded_bulk_upload_is_blocked(dlp, upstream, residents_csv):
    body = gzip.compress(residents_csv.read_bytes())
    status, _h, _d = send_http(dlp.port, upstream.port, body,
                               {"Content-Type": "text/csv", "Content-Encoding": "gzip"}, method="PUT")
    assert status == 403 and upstream.received == []


def test_gzip_bomb_in_content_encoding_is_blocked_as_too_large(dlp, upstream):
    bomb = gzip.compress(b"\0" * (600 << 20), compresslevel=9)  # 600 MiB > max_expanded 512 MiB
    status, _h, data = send_http(dlp.port, upstream.port, bomb,
                                 {"Content-Encoding": "gzip", "Accept": "application/json"})
    assert status == 403 and json.loads(data)["uninspectable"] == ["too_large"]
    assert upstream.received == []


def test_https_block_and_pass(dlp, tmp_path, residents_csv):
    up = Upstream(tls_cert=self_signed(tmp_path)).start()
    try:
        body, ctype = multipart("residents.csv", residents_csv.read_bytes())
        status, page = send_https(dlp.port, str(dlp.ca), up.port, body, {"Content-Type": ctype})
        assert status == 403 and b"bulk-personal-data" in page
        assert up.received == []
        benign = random.Random(1502).randbytes(1 << 20)  # seeded: some random megabytes hold an e-mail-shaped run
        status, _ = send_https(dlp.port, str(dlp.ca), up.port, benign,
                               {"Content-Type": "application/octet-stream"})
        assert status == 200
        assert [r.sha256 for r in up.received] == [hashlib.sha256(benign).hexdigest()]
    finally:
        up.stop()


def test_no_raw_personal_data_in_incident_log(dlp, upstream):
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
    from synthetic import people, resident_csv

    persons = people(1500, seed=9)
    body, ctype = multipart("list.csv", resident_csv(persons))
    status, _h, _d = send_http(dlp.port, upstream.port, body, {"Content-Type": ctype})
    assert status == 403
    written = b"".join(p.read_bytes() for p in dlp.data_dir.rglob("*") if p.is_file())
    written += dlp.log_path.read_bytes()
    text = written.decode("utf-8", "replace")
    for p in persons:
        assert p.phone not in text and p.phone.replace("-", "") not in text
        assert p.name not in text and p.name.replace(" ", "") not in text
