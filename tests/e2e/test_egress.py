"""Every way out through the HTTP path (issue 12): the resident list sent as an insider would
send it, through a real `dlp run` with the shipped policy and a recording upstream. A verdict
is proven by what the upstream received, not by the status code."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
from servers import REPO, DlpProcess, Upstream, send_http

pytestmark = pytest.mark.e2e

CHUNK = 50
"""Rows per request for the drip channels: under every per-transfer rule of the shipped
policy that stops (bulk-review holds 100), so only the 1,000-person window can stop them."""
WINDOW = 1000
LIMIT = 1100
"""The issue's bar: stopped before this many rows arrive."""


def _start(tmp: Path) -> DlpProcess:
    return DlpProcess(REPO / "config" / "dlp.yaml", tmp / "var").start()


@pytest.fixture(scope="module")
def dlp(tmp_path_factory):
    proc = _start(tmp_path_factory.mktemp("egress"))
    yield proc
    assert proc.stop() == 0, proc.output()


@pytest.fixture
def fresh_dlp(tmp_path):
    """A proxy of its own: the drip tests fill the client's window."""
    proc = _start(tmp_path)
    yield proc
    assert proc.stop() == 0, proc.output()


@pytest.fixture(scope="module")
def rows(residents_csv) -> list[str]:
    """The resident list's data rows (header dropped), as text."""
    return residents_csv.read_bytes().decode("cp932").splitlines()[1:]


def _incident(dlp: DlpProcess, incident_id: str) -> dict:
    for line in (dlp.data_dir / "incidents.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["id"] == incident_id:
            return record
    raise AssertionError(f"incident {incident_id} not written")


def _blocked(dlp: DlpProcess, upstream: Upstream, body: bytes, headers: dict[str, str],
             method: str = "POST", path: str = "/upload") -> dict:
    status, got, _page = send_http(dlp.port, upstream.port, body, headers, method=method, path=path)
    assert status == 403, f"{status}: the list went out"
    assert upstream.received == [] and upstream.connections == 0
    return _incident(dlp, got["x-sekimori-incident"])


# -- the whole list in one body, under a misleading label ------------------------------------

def test_curl_data_binary_default_form_type(dlp, upstream, residents_csv):
    """`curl --data-binary @residents.csv URL` labels the CSV a urlencoded form."""
    record = _blocked(dlp, upstream, residents_csv.read_bytes(),
                      {"Content-Type": "application/x-www-form-urlencoded"})
    assert record["persons"] == 31429


def test_hex_encoded_list_as_text(dlp, upstream, residents_csv):
    record = _blocked(dlp, upstream, binascii.hexlify(residents_csv.read_bytes()), {"Content-Type": "text/plain"})
    assert record["persons"] == 31429


def test_base32_encoded_list(dlp, upstream, residents_csv):
    record = _blocked(dlp, upstream, base64.b32encode(residents_csv.read_bytes()), {"Content-Type": "text/plain"})
    assert record["persons"] == 31429


def test_list_pasted_into_a_textarea_of_a_cp932_form(dlp, upstream, residents_csv):
    """A Shift_JIS page submits its textarea percent-encoded in CP932."""
    body = (b"subject=%8E%91%97%BF&body=" + urllib.parse.quote_from_bytes(residents_csv.read_bytes()).encode()
            + b"&submit=OK")
    record = _blocked(dlp, upstream, body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert record["persons"] == 31429


def test_list_typed_as_html(dlp, upstream, residents_csv):
    record = _blocked(dlp, upstream, residents_csv.read_bytes(), {"Content-Type": "text/html; charset=shift_jis"})
    assert record["persons"] == 31429


@pytest.mark.parametrize("part_type", ["text/html", "application/x-www-form-urlencoded"])
def test_list_renamed_html_in_a_multipart_part(dlp, upstream, residents_csv, part_type):
    """Browsers type a part by its file name: residents.html is sent as text/html."""
    boundary = "----sekimori-egress-test"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"residents.html\"\r\n"
            f"Content-Type: {part_type}\r\n\r\n").encode()
    body = head + residents_csv.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    record = _blocked(dlp, upstream, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert record["persons"] == 31429


def test_list_inside_an_html_page_keeps_its_rows(dlp, upstream, rows):
    page = "<html><body><p>名簿</p>\n" + "<br>\n".join(rows) + "</body></html>"
    record = _blocked(dlp, upstream, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
    assert 31429 <= record["persons"] <= 31430  # the title line above the rows is read as their header


def test_base64url_line_in_front_of_a_plain_list(dlp, upstream, residents_csv):
    noise = base64.urlsafe_b64encode(random.Random(7).randbytes(3072))  # 4 KiB of base64url
    record = _blocked(dlp, upstream, noise + b"\r\n" + residents_csv.read_bytes(), {"Content-Type": "text/plain"})
    assert 31429 <= record["persons"] <= 31430  # the noise line stands where the header was


def test_list_in_a_multipart_preamble(dlp, upstream, residents_csv):
    boundary = "b0undary"
    body = residents_csv.read_bytes() + (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
                                        f"1\r\n--{boundary}--\r\n").encode()
    record = _blocked(dlp, upstream, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert record["persons"] == 31429


# -- ordinary traffic is unchanged ----------------------------------------------------------

BENIGN: list[tuple[str, bytes, dict[str, str], str]] = [
    ("form", b"q=%E6%A4%9C%E7%B4%A2&lang=ja&page=2&csrf=" + b"A" * 40,
     {"Content-Type": "application/x-www-form-urlencoded"}, "POST"),
    ("html", "<html><body><h1>議事録</h1><p>次回は来週です。</p>\n<pre>a\nb</pre></body></html>".encode(),
     {"Content-Type": "text/html"}, "POST"),
    ("image-base64", b'{"image": "' + base64.b64encode(random.Random(3).randbytes(4096)) + b'"}',
     {"Content-Type": "application/json"}, "POST"),
    ("get", b"", {"Cookie": "_ga=GA1.2.1234567890.1700000000; sid=f3a9c2", "X-Request-Id": "7f9c0b1e-2d34"}, "GET"),
]


@pytest.mark.parametrize(("name", "body", "headers", "method"), BENIGN, ids=[b[0] for b in BENIGN])
def test_benign_requests_arrive_byte_identical(dlp, upstream, name, body, headers, method):
    path = "/search?q=%E5%A4%A9%E6%B0%97&n=10"
    status, _h, _d = send_http(dlp.port, upstream.port, body, headers, method=method, path=path)
    assert status == 200
    [got] = upstream.received
    assert got.method == method and got.path == path
    assert got.sha256 == hashlib.sha256(body).hexdigest()
    for key, value in headers.items():
        assert got.headers[key] == value


# -- the list dripped out 50 rows per request, in every place a request can carry it --------

def _query(chunk: str) -> tuple[str, dict[str, str]]:
    return "/collect?v=1&d=" + urllib.parse.quote(chunk), {}


def _path(chunk: str) -> tuple[str, dict[str, str]]:
    return "/files/" + urllib.parse.quote(chunk, safe=""), {}


def _header(chunk: str) -> tuple[str, dict[str, str]]:
    return "/ping", {"X-Trace-Data": base64.b64encode(chunk.encode("cp932")).decode()}


def _cookie(chunk: str) -> tuple[str, dict[str, str]]:
    return "/ping", {"Cookie": "theme=dark; state=" + base64.urlsafe_b64encode(chunk.encode()).decode().rstrip("=")}


def _decoded(received_path: str, headers: dict[str, str], channel: str) -> str:
    """The rows one received request carried (to count what arrived upstream)."""
    if channel == "query":
        return urllib.parse.parse_qs(urllib.parse.urlsplit(received_path).query)["d"][0]
    if channel == "path":
        return urllib.parse.unquote(received_path.removeprefix("/files/"))
    if channel == "header":
        return base64.b64decode(headers["X-Trace-Data"]).decode("cp932")
    state = headers["Cookie"].split("state=")[1]
    return base64.urlsafe_b64decode(state + "=" * (-len(state) % 4)).decode()


CHANNELS: dict[str, Callable[[str], tuple[str, dict[str, str]]]] = {
    "query": _query, "path": _path, "header": _header, "cookie": _cookie}


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_gets_dripping_rows_are_stopped_by_the_window(fresh_dlp, upstream, rows, channel):
    """50 rows per GET: each is a transfer with persons, in the client's 1,000-person window."""
    statuses = []
    for start in range(0, 1500, CHUNK):
        path, headers = CHANNELS[channel]("\r\n".join(rows[start:start + CHUNK]))
        status, got, _d = send_http(fresh_dlp.port, upstream.port, b"", headers, method="GET", path=path)
        statuses.append(status)
        if status == 403:
            record = _incident(fresh_dlp, got["x-sekimori-incident"])
            assert "drip-exfiltration" in record["rules"]
            assert record["destination"]["method"] == "GET"
            raw = json.dumps(record, ensure_ascii=False)
            assert rows[start].split(",")[0] not in raw  # no name from the request line in the record
    arrived = sum(_decoded(r.path, r.headers, channel).count("\n") + 1 for r in upstream.received)
    assert 403 in statuses and arrived < LIMIT
    assert arrived >= WINDOW - CHUNK  # the window, not some other rule, stopped them
    assert all(s == 403 for s in statuses[statuses.index(403):])
