"""Real peers for end-to-end tests: an upstream HTTP(S) server that records what it receives,
and a helper that starts ``dlp run`` as a subprocess and waits for it to serve."""

from __future__ import annotations

import datetime
import hashlib
import http.client
import http.server
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DLP = [sys.executable, "-m", "dlp.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass
class Upstream:
    """A threaded HTTP server on 127.0.0.1 that records every request it receives."""

    tls_cert: tuple[Path, Path] | None = None
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    reply_delay: float = 0.0
    """Seconds between receiving a request and answering it (a slow destination)."""

    def start(self) -> Upstream:
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms ACK wait

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream.received.append(Received(self.command, self.path, dict(self.headers), body))
                if upstream.reply_delay:
                    time.sleep(upstream.reply_delay)
                reply = b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = do_PUT = do_PATCH = _any

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = super().get_request()
                upstream.connections += 1
                return sock, addr

        self.server = Server(("127.0.0.1", 0), Handler)
        if self.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(self.tls_cert[0]), str(self.tls_cert[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class TcpSink:
    """A TCP server on 127.0.0.1 that records, per connection, every byte it receives until
    the peer closes its side (then it closes too). ``reply`` is sent once to each connection
    when it is accepted, as a server that speaks first would."""

    reply: bytes = b""
    received: list[bytes] = field(default_factory=list)
    connections: int = 0

    def start(self) -> TcpSink:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        chunks = []
        with conn:
            try:
                if self.reply:
                    conn.sendall(self.reply)
                while data := conn.recv(65536):
                    chunks.append(data)
            except OSError:
                pass
        self.received.append(b"".join(chunks))

    def total(self) -> bytes:
        return b"".join(self.received)

    def stop(self) -> None:
        self.sock.close()


def self_signed(tmp: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A throwaway certificate for the upstream HTTPS server."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "upstream.pem", tmp / "upstream.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if the process has not ended within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class DlpProcess:
    """``dlp run`` as a real subprocess on free ports, with its own data dir."""

    def __init__(self, config: Path, data_dir: Path, extra: list[str] | None = None):
        self.port = free_port()
        self.metrics_port = free_port()
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"dlp-{self.port}.log"
        self.args = [*DLP, "run", "--config", str(config), "--listen", f"127.0.0.1:{self.port}",
                     "--metrics", f"127.0.0.1:{self.metrics_port}", "--data-dir", str(data_dir),
                     *(extra or [])]

    def start(self, timeout: float = 30) -> DlpProcess:
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.args, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dlp run exited {self.proc.returncode}:\n{self.output()}")
            if b"listening on" in self.log_path.read_bytes():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dlp run did not start:\n{self.output()}")

    @property
    def ca(self) -> Path:
        return self.data_dir / "mitmproxy" / "mitmproxy-ca-cert.pem"

    def output(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def stop(self) -> int:
        stop_process(self.proc)
        self.log.close()
        return self.proc.returncode


class RedisServer:
    """A real redis-server on a free loopback port, with no persistence."""

    def __init__(self) -> None:
        self.port = free_port()

    def start(self) -> RedisServer:
        import shutil
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        stop_process(self.proc)


def metric(port: int, name: str, labels: dict[str, str] | None = None) -> float | None:
    """The value of one series on a running dlp's /metrics."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in (labels or {}).items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        series_name, _, rest = key.partition("{")
        if series_name == name and all(part in rest for part in want.split(",") if part):
            return float(value)
    return None


def multipart(filename: str, content: bytes, content_type: str = "text/csv") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nmonthly list\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def send_http(proxy_port: int, target_port: int, body: bytes, headers: dict[str, str],
              method: str = "POST", path: str = "/upload") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=60)
    conn.request(method, f"http://127.0.0.1:{target_port}{path}", body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
