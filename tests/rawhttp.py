"""Peers that speak HTTP on a raw socket, for protocol edge cases the standard library's
clients and servers smooth over: an upstream that records each request exactly as framed
(chunked bodies, trailers, how many requests each connection carried), a client that writes
bytes as given and reads what comes back, and a small HTTP/2 client over a CONNECT tunnel."""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RawReceived:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    trailers: list[tuple[str, str]]
    chunked: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class RawUpstream:
    """An HTTP/1.1 server on 127.0.0.1 (TLS with ``tls_cert``) that parses each request itself,
    Content-Length or chunked with trailers, records it and answers ``reply`` (200 "ok") on a
    kept-alive connection. Anything it cannot parse is recorded in ``garbage``."""

    tls_cert: tuple[Path, Path] | None = None
    reply: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    received: list[RawReceived] = field(default_factory=list)
    garbage: list[bytes] = field(default_factory=list)
    connections: int = 0

    def start(self) -> RawUpstream:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.ctx = None
        if self.tls_cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(str(self.tls_cert[0]), str(self.tls_cert[1]))
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.ctx is not None:
                conn = self.ctx.wrap_socket(conn, server_side=True)
            reader = _Reader(conn)
            while True:
                head = reader.until(b"\r\n\r\n")
                if head is None:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
                names = {k.lower(): v for k, v in headers}
                trailers: list[tuple[str, str]] = []
                chunked = "chunked" in names.get("transfer-encoding", "").lower()
                if chunked:
                    body, trailers = _read_chunked(reader)
                else:
                    body = reader.exactly(int(names.get("content-length", "0")))
                self.received.append(RawReceived(method, target, headers, body, trailers, chunked))
                conn.sendall(self.reply)
        except (OSError, ValueError) as e:
            self.garbage.append(repr(e).encode())
        finally:
            conn.close()


class _Reader:
    def __init__(self, conn: socket.socket):
        self.conn = conn
        self.buf = b""

    def _fill(self) -> bool:
        data = self.conn.recv(65536)
        self.buf += data
        return bool(data)

    def until(self, mark: bytes) -> bytes | None:
        while mark not in self.buf:
            if not self._fill():
                if self.buf:
                    raise ValueError(f"connection closed inside a message: {self.buf[:80]!r}")
                return None
        head, _, self.buf = self.buf.partition(mark)
        return head

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ValueError("connection closed inside a body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def _read_chunked(reader: _Reader) -> tuple[bytes, list[tuple[str, str]]]:
    body = bytearray()
    while True:
        line = reader.until(b"\r\n")
        if line is None:
            raise ValueError("connection closed inside a chunked body")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            break
        body += reader.exactly(size)
        reader.exactly(2)
    trailers = []
    while True:
        line = reader.until(b"\r\n")
        if not line:
            break
        name, _, value = line.decode("latin-1").partition(":")
        trailers.append((name.strip(), value.strip()))
    return bytes(body), trailers


def chunked(body: bytes, size: int = 16384, trailers: list[tuple[str, str]] | None = None) -> bytes:
    """``body`` in chunks of ``size`` bytes, then the last chunk with ``trailers``."""
    out = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size))
    return out + b"0\r\n" + b"".join(f"{k}: {v}\r\n".encode() for k, v in trailers or []) + b"\r\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _parse(data: bytes) -> tuple[list[Answer], bytes]:
    """The complete HTTP/1.1 responses at the start of ``data`` (interim 1xx answers
    included; bodies framed by Content-Length), and what is left."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        n = int(headers.get("content-length", "0"))
        if len(rest) < n:
            break
        out.append(Answer(status, headers, rest[:n]))
        data = rest[n:]
    return out, data


def read_answers(data: bytes) -> list[Answer]:
    """Every HTTP/1.1 response in ``data``; trailing bytes that are no complete response fail."""
    answers, rest = _parse(data)
    if rest:
        raise ValueError(f"incomplete or unframed response: {rest[:120]!r}")
    return answers


def exchange(port: int, *writes: bytes, timeout: float = 30.0, expect_continue: bool = False,
             until: int | None = 1) -> bytes:
    """Send each of ``writes`` in turn on one connection (with ``expect_continue``, the second
    only after an interim answer arrived) and read until ``until`` final (non-1xx) answers are
    complete, the proxy closes, or ``timeout``. Returns everything received (a reset ends it
    too); ``until=None`` reads until the close."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(timeout)
    out = b""

    def finals() -> int:
        return sum(1 for a in _parse(out)[0] if a.status >= 200)

    try:
        for i, data in enumerate(writes):
            if i == 1 and expect_continue:
                while b"\r\n\r\n" not in out:
                    got = sock.recv(65536)
                    if not got:
                        return out
                    out += got
                if finals():  # answered without asking for the body
                    break
            sock.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (until is None or finals() < until):
            got = sock.recv(65536)
            if not got:
                break
            out += got
    except (ConnectionResetError, BrokenPipeError, TimeoutError):
        pass
    finally:
        sock.close()
    return out


def request_head(method: str, url: str, headers: list[tuple[str, str]], version: str = "HTTP/1.1") -> bytes:
    return f"{method} {url} {version}\r\n".encode() + b"".join(
        f"{k}: {v}\r\n".encode() for k, v in headers) + b"\r\n"


@dataclass
class H2Answer:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    reset: int | None = None


def h2_request(proxy_port: int, ca: Path, target_port: int, method: str, path: str, body: bytes,
               headers: list[tuple[str, str]], trailers: list[tuple[str, str]] | None = None,
               timeout: float = 30.0) -> H2Answer:
    """One HTTP/2 request through the proxy: CONNECT, TLS with ALPN h2 (the proxy's CA), the
    request with its body in DATA frames as flow control allows, then trailers if given."""
    import h2.connection
    import h2.events

    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout)
    authority = f"localhost:{target_port}"
    sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.split(b" ", 2)[1] == b"200", head
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.set_alpn_protocols(["h2"])
    tls = ctx.wrap_socket(sock, server_hostname="localhost")
    assert tls.selected_alpn_protocol() == "h2", tls.selected_alpn_protocol()
    conn = h2.connection.H2Connection()
    conn.initiate_connection()
    tls.sendall(conn.data_to_send())
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", method), (":path", path), (":authority", authority), (":scheme", "https"),
                            *headers], end_stream=not body and not trailers)
    tls.sendall(conn.data_to_send())
    answer = H2Answer()
    pos, done = 0, False

    def pump() -> None:
        nonlocal done
        data = tls.recv(65536)
        if not data:
            done = True
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                hd = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
                      for k, v in ev.headers}
                answer.status = int(hd.pop(":status"))
                answer.headers = hd
            elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                answer.body += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                done = True
            elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                answer.reset = ev.error_code
                done = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                done = True
        tls.sendall(conn.data_to_send())

    try:
        while pos < len(body) and not done:
            window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if window <= 0:
                pump()
                continue
            piece = body[pos:pos + window]
            pos += len(piece)
            conn.send_data(sid, piece, end_stream=pos >= len(body) and not trailers)
            tls.sendall(conn.data_to_send())
        if not done and body is not None and trailers:
            conn.send_headers(sid, trailers, end_stream=True)
            tls.sendall(conn.data_to_send())
        while not done:
            pump()
    finally:
        tls.close()
    return answer
