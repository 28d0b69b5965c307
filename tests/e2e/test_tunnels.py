"""Everything that leaves through CONNECT without being HTTP, on a real `dlp run` with a
recording TCP sink: refused before a byte goes upstream (with a `tunnel` incident) unless
`tunnels.allow` names the destination, or scanned when `tunnels.inspect` is on."""

from __future__ import annotations

import http.client
import json
import random
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from servers import DlpProcess, TcpSink, Upstream, metric, self_signed
from synthetic import benign_bytes, people, resident_csv

pytestmark = pytest.mark.e2e

RULES = """\
version: 1
rules:
  - name: bulk-personal-data
    when: {persons: 1000}
    action: block
  - name: drip-exfiltration
    when: {window: {persons: 1000, period: 30d, per: user}}
    action: block
"""


def open_tunnel(proxy_port: int, host: str, port: int) -> tuple[socket.socket, int, bytes]:
    """CONNECT through the proxy; the socket, the status and the response head."""
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=30)
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, int(head.split(b" ", 2)[1]), head


def send(s: socket.socket, *chunks: bytes, pause: float = 0.0) -> int:
    """Send chunks until the proxy cuts the connection; how many were sent."""
    for i, chunk in enumerate(chunks):
        try:
            s.sendall(chunk)
        except OSError:
            return i
        time.sleep(pause)
    return len(chunks)


def until_closed(s: socket.socket) -> bytes:
    """Everything the proxy sends until it closes the connection."""
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except ConnectionResetError:
        pass
    s.close()
    return out


def client_hello(server_name: str) -> bytes:
    """The first flight of a real TLS client, as a pinned app would send it."""
    tls = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(),
                                                server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def wait_for(check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError("timed out")


def incidents(proc: DlpProcess) -> list[dict[str, Any]]:
    path = proc.data_dir / "incidents.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def tunnel_incident(proc: DlpProcess, port: int) -> dict[str, Any]:
    return wait_for(lambda: next((i for i in incidents(proc) if i["destination"].get("port") == port), None))


def tunnel_count(proc: DlpProcess) -> float:
    return metric(proc.metrics_port, "dlp_uninspectable_total", {"reason": "tunnel"}) or 0.0


@pytest.fixture
def sink():
    s = TcpSink().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def refusing(tmp_path_factory):
    """The default: no tunnels section."""
    tmp = tmp_path_factory.mktemp("refusing")
    (tmp / "dlp.yaml").write_text(RULES)
    proc = DlpProcess(tmp / "dlp.yaml", tmp / "var", ["--set", "ssl_insecure=true"]).start()
    yield proc
    assert proc.stop() == 0, proc.output()


def assert_refused(proc: DlpProcess, sink: TcpSink, before: float, why: str) -> dict[str, Any]:
    incident = tunnel_incident(proc, sink.port)
    assert sink.connections == 0 and sink.received == []
    assert incident["action"] == "block" and incident["uninspectable"] == ["tunnel"]
    assert incident["protocol"] == "tcp" and incident["severity"] == "high"
    assert incident["destination"] == {"host": "127.0.0.1", "port": sink.port}
    assert incident["client_ip"] == "127.0.0.1" and incident["size"] == 0
    assert any(why in e for e in incident["errors"]), incident["errors"]
    assert tunnel_count(proc) == before + 1
    return incident


def test_raw_tcp_after_connect_is_refused_before_any_byte_goes_upstream(refusing, sink):
    before = tunnel_count(refusing)
    persons = people(50, seed=61)
    s, status, _head = open_tunnel(refusing.port, "127.0.0.1", sink.port)
    assert status == 200
    send(s, resident_csv(persons))
    until_closed(s)
    incident = assert_refused(refusing, sink, before, "not HTTP after CONNECT")
    text = json.dumps(incident, ensure_ascii=False)
    assert not any(p.name in text or p.phone in text for p in persons)
    assert "verdict=block" in refusing.output() and "protocol=tcp" in refusing.output()


def test_a_plaintext_line_then_tls_is_refused(refusing, sink):
    before = tunnel_count(refusing)
    s, status, _head = open_tunnel(refusing.port, "127.0.0.1", sink.port)
    assert status == 200
    send(s, b"STARTTLS\r\n", client_hello("pinned.example"), pause=0.2)
    until_closed(s)
    assert_refused(refusing, sink, before, "not HTTP after CONNECT")


def test_a_client_that_refuses_the_proxy_certificate_reaches_nothing(refusing, sink, tmp_path):
    before = tunnel_count(refusing)
    s, status, _head = open_tunnel(refusing.port, "127.0.0.1", sink.port)
    assert status == 200
    pinned = ssl.create_default_context(cafile=str(self_signed(tmp_path)[0]))  # trusts only its own CA
    with pytest.raises(ssl.SSLCertVerificationError):
        pinned.wrap_socket(s, server_hostname="localhost")
    s.close()
    assert_refused(refusing, sink, before, "refused the proxy's certificate")


def test_mail_through_connect_is_refused_at_connect(refusing):
    before = tunnel_count(refusing)
    for port in (25, 465, 587):
        s, status, head = open_tunnel(refusing.port, "127.0.0.1", port)
        s.close()
        assert status == 403
        incident = tunnel_incident(refusing, port)
        assert f"X-Sekimori-Incident: {incident['id']}".encode() in head
        assert incident["uninspectable"] == ["tunnel"] and "SMTP relay" in incident["errors"][0]
    assert tunnel_count(refusing) == before + 3


def test_http_and_intercepted_https_through_connect_still_pass(refusing, tmp_path):
    plain, tls = Upstream().start(), Upstream(tls_cert=self_signed(tmp_path)).start()
    try:
        before = tunnel_count(refusing)
        conn = http.client.HTTPConnection("127.0.0.1", refusing.port, timeout=30)
        conn.set_tunnel("127.0.0.1", plain.port)  # plain HTTP inside CONNECT
        conn.request("POST", "/up", body=b"hello", headers={"Content-Type": "text/plain"})
        assert conn.getresponse().status == 200
        conn.close()
        conn = http.client.HTTPSConnection("127.0.0.1", refusing.port, timeout=30,
                                           context=ssl.create_default_context(cafile=str(refusing.ca)))
        conn.set_tunnel("localhost", tls.port)
        conn.request("POST", "/up", body=b"world", headers={"Content-Type": "text/plain"})
        assert conn.getresponse().status == 200
        conn.close()
        assert [r.body for r in plain.received] == [b"hello"] and [r.body for r in tls.received] == [b"world"]
        assert tunnel_count(refusing) == before
    finally:
        plain.stop()
        tls.stop()


@pytest.fixture(scope="module")
def opaque_sink():
    s = TcpSink().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def inspecting(tmp_path_factory, opaque_sink):
    tmp = tmp_path_factory.mktemp("inspecting")
    (tmp / "dlp.yaml").write_text(RULES + f'tunnels:\n  allow: ["127.0.0.1:{opaque_sink.port}"]\n  inspect: true\n')
    proc = DlpProcess(tmp / "dlp.yaml", tmp / "var").start()
    yield proc
    assert proc.stop() == 0, proc.output()


def relay(proxy_port: int, sink: TcpSink, payload: bytes) -> bytes:
    """Send ``payload`` through a tunnel, close our side, and return what the sink got."""
    s, status, _head = open_tunnel(proxy_port, "127.0.0.1", sink.port)
    assert status == 200
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    until_closed(s)
    return wait_for(lambda: sink.received)[-1]


def test_an_allowed_tunnel_passes_byte_identical_and_is_counted(inspecting, opaque_sink):
    payload = b"\0BIN" + random.Random(7).randbytes(200_000)
    before_tunnels = tunnel_count(inspecting)
    before_bytes = metric(inspecting.metrics_port, "dlp_bytes_uninspected_total", {"protocol": "tcp"})
    assert relay(inspecting.port, opaque_sink, payload) == payload
    assert tunnel_count(inspecting) == before_tunnels + 1
    assert metric(inspecting.metrics_port, "dlp_bytes_uninspected_total", {"protocol": "tcp"}) \
        == before_bytes + len(payload)
    assert metric(inspecting.metrics_port, "dlp_transfers_total", {"protocol": "tcp", "action": "allow"}) >= 1
    assert not any(i["destination"].get("port") == opaque_sink.port for i in incidents(inspecting))
    assert "tunnel allowed (tunnels.allow)" in inspecting.output()


def test_an_inspected_benign_stream_arrives_byte_identical(inspecting, sink):
    payload = benign_bytes(300_000, seed=3)
    before = metric(inspecting.metrics_port, "dlp_bytes_inspected_total", {"protocol": "tcp"})
    assert relay(inspecting.port, sink, payload) == payload
    assert metric(inspecting.metrics_port, "dlp_bytes_inspected_total", {"protocol": "tcp"}) >= before + len(payload)
    assert not any(i["destination"].get("port") == sink.port for i in incidents(inspecting))


def test_an_inspected_stream_carrying_residents_is_cut(inspecting, sink, residents_csv: Path):
    header, *rows = residents_csv.read_bytes().splitlines(keepends=True)
    rows = rows[:1100]
    chunks = [header + b"".join(rows[:50])] + [b"".join(rows[i:i + 50]) for i in range(50, 1100, 50)]
    s, status, _head = open_tunnel(inspecting.port, "127.0.0.1", sink.port)
    assert status == 200
    sent = send(s, *chunks, pause=0.05)
    until_closed(s)                                    # the proxy closed the connection
    got = wait_for(lambda: sink.received)[-1]
    assert len(got.splitlines()) < 1 + 1100            # cut before the last rows
    assert b"".join(chunks).startswith(got)            # what passed was forwarded untouched
    incident = tunnel_incident(inspecting, sink.port)
    assert incident["action"] == "block" and incident["protocol"] == "tcp"
    assert set(incident["rules"]) & {"bulk-personal-data", "drip-exfiltration"}
    assert incident["persons"] > 0 and sent <= len(chunks)


def test_an_inspected_stream_that_turns_to_tls_is_cut(inspecting, sink):
    s, status, _head = open_tunnel(inspecting.port, "127.0.0.1", sink.port)
    assert status == 200
    send(s, b"STARTTLS\r\n", pause=0.5)
    send(s, client_hello("pinned.example"))
    until_closed(s)
    assert wait_for(lambda: sink.received)[-1] == b"STARTTLS\r\n"
    incident = tunnel_incident(inspecting, sink.port)
    assert incident["uninspectable"] == ["tunnel"] and "encrypted" in incident["errors"][0]


def test_ignore_hosts_passes_tls_through_only_when_tunnels_allow_it(tmp_path, sink):
    cfg = tmp_path / "dlp.yaml"
    cfg.write_text(RULES)
    proc = DlpProcess(cfg, tmp_path / "var", ["--set", rf"ignore_hosts=^127\.0\.0\.1:{sink.port}$"]).start()
    try:
        hello = client_hello("pinned.example")
        before = tunnel_count(proc)
        s, status, _head = open_tunnel(proc.port, "127.0.0.1", sink.port)
        assert status == 200
        send(s, hello)
        until_closed(s)
        assert_refused(proc, sink, before, "ignore_hosts")

        # Hot reload: the same exemption listed in tunnels.allow passes, untouched.
        reloads = metric(proc.metrics_port, "dlp_config_reloads_total", {"result": "success"})
        cfg.write_text(RULES + f'tunnels: {{allow: ["127.0.0.1:{sink.port}"]}}\n')
        wait_for(lambda: metric(proc.metrics_port, "dlp_config_reloads_total", {"result": "success"}) > reloads)
        assert relay(proc.port, sink, hello) == hello
        assert sink.connections == 1
        assert tunnel_count(proc) == before + 2
        assert len([i for i in incidents(proc) if i["destination"].get("port") == sink.port]) == 1
    finally:
        assert proc.stop() == 0, proc.output()
