"""Protocol edge cases through a real `dlp run` (issue 13): chunked bodies with trailers,
HTTP/2 with trailers, Expect: 100-continue, pipelining, request smuggling attempts, bodies
over inspect.max_body and an unreachable upstream. Each case has a defined answer, written
by Sekimori (never mitmproxy's page or Server header), is proven by what a raw recording
upstream received, and leaves no crash or traceback in the proxy's output."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import random

import pytest
from rawhttp import RawUpstream, chunked, exchange, h2_request, read_answers, request_head
from servers import DlpProcess, free_port, self_signed
from synthetic import benign_bytes, my_number, people, resident_csv

pytestmark = pytest.mark.e2e

MAX_BODY = 1 << 20
POLICY = f"""\
version: 1
inspect: {{max_body: {MAX_BODY}}}
rules:
  - name: bulk-personal-data
    when: {{persons: 1000}}
    action: block
  - name: my-number
    when: {{findings: {{my_number: 1}}}}
    action: block
notify: {{contact: "security@example.jp"}}
"""
CRASH_MARKS = ("has crashed", "Traceback", "NotImplementedError")


@pytest.fixture(scope="module")
def dlp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("edges")
    cfg = tmp / "dlp.yaml"
    cfg.write_text(POLICY)
    proc = DlpProcess(cfg, tmp / "var", ["--set", "ssl_insecure=true"]).start()
    yield proc
    assert proc.stop() == 0, proc.output()
    assert not any(mark in proc.output() for mark in CRASH_MARKS), proc.output()


@pytest.fixture(autouse=True)
def no_crash(dlp):
    """Whatever a case does, the proxy logs no crash and no traceback while it serves."""
    start = len(dlp.output())
    yield
    out = dlp.output()[start:]
    for mark in CRASH_MARKS:
        assert mark not in out, out[max(0, out.index(mark) - 2000):out.index(mark) + 2000]


@pytest.fixture
def up():
    server = RawUpstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bulk_csv() -> bytes:
    """1,000 synthetic residents: the bulk-personal-data rule's threshold."""
    return resident_csv(people(1000, seed=13))


@pytest.fixture(scope="module")
def benign() -> bytes:
    return benign_bytes(200_000, seed=13)


def url(up: RawUpstream, path: str = "/upload") -> str:
    return f"http://127.0.0.1:{up.port}{path}"


def host(up: RawUpstream) -> tuple[str, str]:
    return ("Host", f"127.0.0.1:{up.port}")


def incident(dlp: DlpProcess, incident_id: str) -> dict:
    for line in (dlp.data_dir / "incidents.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["id"] == incident_id:
            return record
    raise AssertionError(f"incident {incident_id} not written")


def assert_sekimori_page(answer, status: int) -> None:
    """Sekimori's answer: its page, no Server header, nothing naming mitmproxy."""
    assert answer.status == status, (answer.status, answer.body[:300])
    assert "server" not in answer.headers
    assert "mitmproxy" not in answer.text().lower() and "mitmproxy" not in str(answer.headers).lower()
    assert "Sekimori" in answer.text() or answer.headers.get("content-type", "").startswith("application/json")


def assert_blocked(dlp: DlpProcess, answer, rule: str) -> dict:
    assert_sekimori_page(answer, 403)
    incident_id = answer.headers["x-sekimori-incident"]
    assert incident_id in answer.text() and rule in answer.text() and "security@example.jp" in answer.text()
    record = incident(dlp, incident_id)
    assert record["action"] == "block" and rule in record["rules"]
    return record


def nothing_upstream(up: RawUpstream) -> None:
    assert up.received == [] and up.garbage == [] and up.connections == 0


# -- chunked bodies with trailers (mitmproxy: NotImplementedError, connection dropped) ---------

def test_chunked_benign_body_with_trailers_arrives_byte_identical_with_its_trailers(dlp, up, benign):
    trailers = [("X-Checksum", "sha256=" + hashlib.sha256(benign).hexdigest()), ("X-Upload-Part", "1")]
    head = request_head("POST", url(up, "/logs"), [host(up), ("Content-Type", "application/octet-stream"),
                                                   ("Transfer-Encoding", "chunked"), ("Trailer", "X-Checksum")])
    [answer] = read_answers(exchange(dlp.port, head + chunked(benign, 7000, trailers), timeout=5))
    assert answer.status == 200 and answer.body == b"ok"
    [got] = up.received
    assert got.sha256 == hashlib.sha256(benign).hexdigest() and got.target == "/logs"
    assert got.chunked and got.trailers == trailers


def test_chunked_bulk_list_with_trailers_is_blocked_and_nothing_arrives(dlp, up, bulk_csv):
    head = request_head("POST", url(up), [host(up), ("Content-Type", "text/csv"), ("Transfer-Encoding", "chunked")])
    [answer] = read_answers(exchange(dlp.port, head + chunked(bulk_csv, 4096, [("X-Checksum", "abc")]), timeout=5))
    record = assert_blocked(dlp, answer, "bulk-personal-data")
    assert record["persons"] == 1000
    nothing_upstream(up)


def test_personal_data_in_a_trailer_alone_is_blocked(dlp, up, benign):
    rnd = random.Random(5)
    rows = "氏名,個人番号\n" + "".join(f"{p.name},{my_number(rnd)}\n" for p in people(3, seed=5))
    trailer = ("X-Trace-Data", base64.b64encode(rows.encode()).decode())
    head = request_head("POST", url(up), [host(up), ("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")])
    [answer] = read_answers(exchange(dlp.port, head + chunked(benign, 65536, [trailer]), timeout=5))
    assert_blocked(dlp, answer, "my-number")
    nothing_upstream(up)


def test_upstream_chunked_response_with_trailers_reaches_the_client(dlp):
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nConnection: close\r\n\r\n"
    server = RawUpstream(reply=head + chunked(b"hello from upstream", 5, [("X-Sum", "42")])).start()
    try:
        head = request_head("GET", url(server, "/t"), [host(server)])
        data = exchange(dlp.port, head, timeout=5, until=None)
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        body = data.partition(b"\r\n\r\n")[2]
        assert body.endswith(b"0\r\nX-Sum: 42\r\n\r\n")
        assert b"hello" in body and len(server.received) == 1
    finally:
        server.stop()


def test_download_larger_than_max_body_arrives_whole(dlp):
    """inspect.max_body caps what leaves; mitmproxy applied it to responses too (502 for every
    download over the limit). Responses now stream through, unbuffered."""
    big = random.Random(8).randbytes(MAX_BODY * 3)
    server = RawUpstream(reply=b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(big)
                         + big).start()
    try:
        data = exchange(dlp.port, request_head("GET", url(server, "/installer.bin"), [host(server)]), until=None)
        [answer] = read_answers(data)
        assert answer.status == 200 and hashlib.sha256(answer.body).digest() == hashlib.sha256(big).digest()
    finally:
        server.stop()


# -- HTTP/2 toward the client (CONNECT, TLS with ALPN h2), HTTP/1.1 upstream ------------------

@pytest.fixture
def tls_up(tmp_path):
    server = RawUpstream(tls_cert=self_signed(tmp_path)).start()
    yield server
    server.stop()


def test_h2_benign_upload_with_trailers_arrives_byte_identical(dlp, tls_up, benign):
    answer = h2_request(dlp.port, dlp.ca, tls_up.port, "POST", "/h2/logs", benign,
                        [("content-type", "application/octet-stream")], trailers=[("x-checksum", "abc")])
    assert answer.status == 200 and answer.body == b"ok" and answer.reset is None
    [got] = tls_up.received
    assert got.sha256 == hashlib.sha256(benign).hexdigest()
    # relayed to HTTP/1 framed by length (mitmproxy sent no framing at all before: body lost);
    # trailers cannot travel in a Content-Length message and are dropped after being scanned
    assert got.header("content-length") == str(len(benign)) and got.trailers == []
    assert tls_up.garbage == []


def test_h2_bulk_list_with_trailers_is_blocked(dlp, tls_up, bulk_csv):
    answer = h2_request(dlp.port, dlp.ca, tls_up.port, "POST", "/h2/upload", bulk_csv,
                        [("content-type", "text/csv"), ("accept", "application/json")], trailers=[("x-checksum", "1")])
    assert answer.status == 403 and "server" not in answer.headers
    doc = json.loads(answer.body)
    assert doc["rules"] == ["bulk-personal-data"] and doc["incident"] == answer.headers["x-sekimori-incident"]
    assert tls_up.received == [] and tls_up.connections == 0


def test_h2_personal_data_in_a_trailer_alone_is_blocked(dlp, tls_up, benign):
    rnd = random.Random(6)
    rows = "氏名,個人番号\n" + "".join(f"{p.name},{my_number(rnd)}\n" for p in people(3, seed=6))
    answer = h2_request(dlp.port, dlp.ca, tls_up.port, "POST", "/h2/upload", benign, [("content-type", "text/plain")],
                        trailers=[("x-trace-data", base64.b64encode(rows.encode()).decode())])
    assert answer.status == 403 and b"my-number" in answer.body
    assert tls_up.received == [] and tls_up.connections == 0


def test_h2_over_size_upload_gets_the_413_page(dlp, tls_up):
    body = b"x" * (MAX_BODY + 1)
    answer = h2_request(dlp.port, dlp.ca, tls_up.port, "POST", "/h2/big", body,
                        [("content-type", "application/octet-stream"), ("content-length", str(len(body)))])
    assert answer.status == 413 and "server" not in answer.headers
    assert answer.headers["x-sekimori-incident"].encode() in answer.body and b"Sekimori" in answer.body
    assert incident(dlp, answer.headers["x-sekimori-incident"])["uninspectable"] == ["too_large"]
    assert tls_up.received == [] and tls_up.connections == 0


# -- Expect: 100-continue ----------------------------------------------------------------------

def test_expect_continue_benign_body_arrives(dlp, up, benign):
    head = request_head("POST", url(up), [host(up), ("Content-Length", str(len(benign))), ("Expect", "100-continue")])
    interim, answer = read_answers(exchange(dlp.port, head, benign, expect_continue=True, timeout=5))
    assert interim.status == 100 and answer.status == 200
    [got] = up.received
    assert got.sha256 == hashlib.sha256(benign).hexdigest() and got.header("expect") is None


def test_expect_continue_personal_body_is_refused_with_the_page(dlp, up, bulk_csv):
    head = request_head("POST", url(up), [host(up), ("Content-Type", "text/csv"),
                                          ("Content-Length", str(len(bulk_csv))), ("Expect", "100-continue")])
    interim, answer = read_answers(exchange(dlp.port, head, bulk_csv, expect_continue=True, timeout=5))
    assert interim.status == 100
    assert_blocked(dlp, answer, "bulk-personal-data")
    nothing_upstream(up)


def test_expect_continue_over_size_is_refused_before_the_body_is_sent(dlp, up):
    head = request_head("POST", url(up), [host(up), ("Content-Length", str(MAX_BODY * 4)), ("Expect", "100-continue")])
    [answer] = read_answers(exchange(dlp.port, head, timeout=5))  # no 100: the client never sends the body
    assert_sekimori_page(answer, 413)
    assert incident(dlp, answer.headers["x-sekimori-incident"])["uninspectable"] == ["too_large"]
    nothing_upstream(up)


def test_expect_continue_chunked_over_size_gets_the_413_page(dlp, up):
    """curl's way of sending a big chunked upload: mitmproxy alone skipped its page after the
    100 Continue and left the client waiting forever."""
    head = request_head("POST", url(up), [host(up), ("Transfer-Encoding", "chunked"), ("Expect", "100-continue")])
    body = chunked(b"c" * (MAX_BODY * 2), 65536)
    interim, answer = read_answers(exchange(dlp.port, head, body, expect_continue=True, timeout=10))
    assert interim.status == 100
    assert_sekimori_page(answer, 413)
    nothing_upstream(up)


# -- pipelining: several requests in one write, each with its own verdict ---------------------

def test_pipelined_benign_then_personal_each_get_their_own_verdict(dlp, up, benign, bulk_csv):
    first = request_head("POST", url(up, "/one"), [host(up), ("Content-Length", str(len(benign)))]) + benign
    second = request_head("POST", url(up, "/two"), [host(up), ("Content-Type", "text/csv"),
                                                   ("Content-Length", str(len(bulk_csv)))]) + bulk_csv
    third = request_head("GET", url(up, "/three"), [host(up), ("Connection", "close")])
    ok, blocked, last = read_answers(exchange(dlp.port, first + second + third, timeout=10, until=3))
    assert ok.status == 200 and last.status == 200
    assert_blocked(dlp, blocked, "bulk-personal-data")
    assert [r.target for r in up.received] == ["/one", "/three"]
    assert up.received[0].sha256 == hashlib.sha256(benign).hexdigest()


def test_pipelined_personal_then_benign(dlp, up, benign, bulk_csv):
    first = request_head("PUT", url(up, "/list.csv"), [host(up), ("Content-Length", str(len(bulk_csv)))]) + bulk_csv
    second = request_head("PUT", url(up, "/notes.txt"), [host(up), ("Content-Length", str(len(benign))),
                                                         ("Connection", "close")]) + benign
    blocked, ok = read_answers(exchange(dlp.port, first + second, timeout=10, until=2))
    assert_blocked(dlp, blocked, "bulk-personal-data")
    assert ok.status == 200
    [got] = up.received
    assert got.target == "/notes.txt" and got.sha256 == hashlib.sha256(benign).hexdigest()


# -- request smuggling attempts: refused with a page, never forwarded --------------------------

def _smuggling_cases(csv: bytes) -> dict[str, bytes]:
    body = chunked(csv, 8192)
    line = "POST {url} HTTP/1.1\r\nHost: {host}\r\n"
    return {
        "cl-and-te": f"{line}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + body,
        "te-and-cl": f"{line}Transfer-Encoding: chunked\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body,
        "two-content-lengths": f"{line}Content-Length: 6\r\nContent-Length: {len(csv)}\r\n\r\n".encode() + csv,
        "same-content-length-twice": f"{line}Content-Length: {len(csv)}\r\nContent-Length: {len(csv)}\r\n\r\n".encode()
        + csv,
        "te-obfuscated": f"{line}Transfer-Encoding: xchunked\r\n\r\n".encode() + body,
        "te-not-last": f"{line}Transfer-Encoding: chunked, identity\r\n\r\n".encode() + body,
        "te-on-http10": f"{line}Transfer-Encoding: chunked\r\n\r\n".replace("HTTP/1.1", "HTTP/1.0").encode() + body,
        "space-before-colon": f"{line}Content-Length: 6\r\nTransfer-Encoding : chunked\r\n\r\n".encode() + body,
        "two-transfer-encodings": f"{line}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + body,
    }


SMUGGLING = list(_smuggling_cases(b""))


@pytest.mark.parametrize("case", SMUGGLING)
def test_smuggling_attempt_is_refused_and_nothing_reaches_upstream(dlp, up, bulk_csv, case):
    raw = _smuggling_cases(bulk_csv)[case].replace(b"{url}", url(up).encode()).replace(
        b"{host}", f"127.0.0.1:{up.port}".encode())
    answers = read_answers(exchange(dlp.port, raw, timeout=5))
    assert answers, "no answer at all"
    assert_sekimori_page(answers[0], 400)
    nothing_upstream(up)


def test_smuggling_check_cannot_be_switched_off(tmp_path):
    import subprocess

    from servers import DLP, REPO
    out = subprocess.run([*DLP, "run", "--listen", f"127.0.0.1:{free_port()}", "--metrics", f"127.0.0.1:{free_port()}",
                          "--data-dir", str(tmp_path / "var"), "--set", "validate_inbound_headers=false"],
                         cwd=REPO, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "validate_inbound_headers" in out.stderr


def test_smuggling_attempt_is_logged_without_header_values(dlp, up, bulk_csv):
    head = request_head("POST", url(up), [host(up), ("Content-Length", "6"), ("Transfer-Encoding", "chunked")])
    [answer] = read_answers(exchange(dlp.port, head + b"0\r\n\r\n", timeout=5))
    assert_sekimori_page(answer, 400)
    line = [x for x in dlp.output().splitlines() if "refused a malformed request" in x][-1]
    assert "client=127.0.0.1 host=127.0.0.1" in line and "transfer-encoding and content-length" in line
    head = request_head("POST", url(up), [host(up), ("Content-Length", "6"), ("Content-Length", "1234567")])
    [answer] = read_answers(exchange(dlp.port, head + b"abcdef", timeout=5))
    assert_sekimori_page(answer, 400)  # refused while reading the head: no flow, so no host in the line
    line = [x for x in dlp.output().splitlines() if "refused a malformed request" in x][-1]
    assert "invalid content-length header" in line and "1234567" not in line


def test_a_second_request_hidden_in_a_body_is_scanned_as_that_body(dlp, up, bulk_csv):
    """Framed by Content-Length, "0\\r\\n\\r\\nPOST /smuggled ..." is body, not a request: the
    proxy re-frames what it forwards, so the list inside is scanned with the body and stopped."""
    hidden = (b"0\r\n\r\nPOST /smuggled HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
              b"Content-Length: %d\r\n\r\n" % len(bulk_csv)) + bulk_csv
    head = request_head("POST", url(up, "/front"), [host(up), ("Content-Type", "text/plain"),
                                                    ("Content-Length", str(len(hidden)))])
    [answer] = read_answers(exchange(dlp.port, head + hidden, timeout=5))
    assert_blocked(dlp, answer, "bulk-personal-data")
    nothing_upstream(up)


# -- over inspect.max_body: Sekimori's 413 with an incident, upstream untouched ---------------

def test_over_size_content_length_gets_the_413_page_with_an_incident(dlp, up):
    head = request_head("POST", url(up, "/big.bin"), [host(up), ("Content-Length", str(MAX_BODY * 8))])
    [answer] = read_answers(exchange(dlp.port, head, b"a" * 4096, timeout=5))
    assert_sekimori_page(answer, 413)
    text = answer.text()
    incident_id = answer.headers["x-sekimori-incident"]
    assert incident_id in text and "security@example.jp" in text
    assert "検査できる大きさを超えています" in text and "larger than the inspection limit" in text
    record = incident(dlp, incident_id)
    assert record["action"] == "block" and record["uninspectable"] == ["too_large"]
    assert record["destination"]["path"] == "/big.bin"
    nothing_upstream(up)


def test_over_size_answer_is_json_for_api_clients(dlp, up):
    head = request_head("PUT", url(up), [host(up), ("Content-Length", str(MAX_BODY + 1)),
                                         ("Accept", "application/json")])
    [answer] = read_answers(exchange(dlp.port, head, timeout=5))
    assert_sekimori_page(answer, 413)
    doc = json.loads(answer.body)
    assert doc["incident"] == answer.headers["x-sekimori-incident"] and doc["uninspectable"] == ["too_large"]
    assert doc["contact"] == "security@example.jp"
    nothing_upstream(up)


def test_over_size_chunked_body_gets_the_413_page(dlp, up):
    head = request_head("POST", url(up), [host(up), ("Transfer-Encoding", "chunked")])
    [answer] = read_answers(exchange(dlp.port, head + chunked(b"b" * (MAX_BODY + 65536), 65536), timeout=5))
    assert_sekimori_page(answer, 413)
    assert incident(dlp, answer.headers["x-sekimori-incident"])["uninspectable"] == ["too_large"]
    nothing_upstream(up)


def test_client_that_uploads_everything_before_reading_still_gets_the_413_page(dlp, up):
    """http.client sends the whole body first: closing at once would reset the connection
    with the page unread; the proxy reads and drops the rest instead."""
    conn = http.client.HTTPConnection("127.0.0.1", dlp.port, timeout=30)
    conn.request("POST", url(up), body=b"z" * (MAX_BODY * 8), headers={"Accept": "application/json"})
    resp = conn.getresponse()
    doc = json.loads(resp.read())
    conn.close()
    assert resp.status == 413 and resp.getheader("Server") is None
    assert doc["uninspectable"] == ["too_large"] and doc["incident"]
    nothing_upstream(up)


def test_https_client_that_uploads_everything_before_reading_gets_the_413_page(dlp, tmp_path):
    """The same inside a CONNECT tunnel, where mitmproxy turns any close of the inner
    connection into a close of the whole client connection."""
    import ssl
    server = RawUpstream(tls_cert=self_signed(tmp_path)).start()
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", dlp.port, timeout=30,
                                           context=ssl.create_default_context(cafile=str(dlp.ca)))
        conn.set_tunnel("localhost", server.port)
        conn.request("POST", "/big", body=b"z" * (MAX_BODY * 16), headers={"Accept": "application/json"})
        resp = conn.getresponse()
        doc = json.loads(resp.read())
        conn.close()
        assert resp.status == 413 and resp.getheader("Server") is None and doc["uninspectable"] == ["too_large"]
        assert server.received == [] and server.connections == 0
    finally:
        server.stop()


# -- what mitmproxy answered by itself: 502 --------------------------------------------------

def test_unreachable_upstream_gets_sekimori_502_page(dlp):
    port = free_port()  # nothing listens there
    head = request_head("POST", f"http://127.0.0.1:{port}/x", [("Host", f"127.0.0.1:{port}"), ("Content-Length", "5")])
    [answer] = read_answers(exchange(dlp.port, head + b"hello", timeout=5))
    assert_sekimori_page(answer, 502)
    assert "送信先に接続できなかった" in answer.text()


def test_no_mitmproxy_onboarding_pages(tmp_path, up):
    """mitmproxy's onboarding app answers requests to its host (mitm.it) with its own pages;
    dlp run switches it off, so such a request is an ordinary one. (The host is pointed at the
    recording upstream to see that without DNS.)"""
    cfg = tmp_path / "dlp.yaml"
    cfg.write_text(POLICY)
    proc = DlpProcess(cfg, tmp_path / "var", ["--set", "onboarding_host=127.0.0.1"]).start()
    try:
        [answer] = read_answers(exchange(proc.port, request_head("GET", url(up, "/cert"), [host(up)]), timeout=5))
    finally:
        assert proc.stop() == 0
    assert answer.status == 200 and answer.body == b"ok" and [r.target for r in up.received] == ["/cert"]


def test_block_page_has_no_server_header(dlp, up, bulk_csv):
    head = request_head("POST", url(up), [host(up), ("Content-Length", str(len(bulk_csv)))])
    [answer] = read_answers(exchange(dlp.port, head + bulk_csv, timeout=5))
    assert_blocked(dlp, answer, "bulk-personal-data")
