"""Real SMTP peers for the mail tests: a recording upstream (aiosmtpd in its own thread) and
messages built the way mail clients build them."""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.header import Header
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from servers import free_port


@dataclass
class Delivered:
    sender: str
    recipients: list[str]
    data: bytes
    mail_options: list[str]
    tls: bool


@dataclass
class Sink:
    """An upstream MTA on 127.0.0.1 that records every message it accepts.

    ``refuse`` maps a recipient to the reply its RCPT gets; ``tls`` (cert, key) offers STARTTLS;
    ``smtputf8`` offers SMTPUTF8.
    """

    tls: tuple[Path, Path] | None = None
    smtputf8: bool = True
    refuse: dict[str, str] = field(default_factory=dict)
    mail_reply: str | None = None
    data_reply: str | None = None
    tls_context: ssl.SSLContext | None = None
    received: list[Delivered] = field(default_factory=list)
    connections: int = 0

    def start(self) -> Sink:
        sink = self

        class Handler:
            async def handle_MAIL(self, server, session, envelope, address, options):
                if sink.mail_reply:
                    return sink.mail_reply
                envelope.mail_from = address
                envelope.mail_options.extend(options)
                return "250 2.1.0 OK"

            async def handle_RCPT(self, server, session, envelope, address, options):
                if address in sink.refuse:
                    return sink.refuse[address]
                envelope.rcpt_tos.append(address)
                return "250 2.1.5 OK"

            async def handle_DATA(self, server, session, envelope):
                if sink.data_reply:
                    return sink.data_reply
                sink.received.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos),
                                               envelope.original_content, list(envelope.mail_options),
                                               session.ssl is not None))
                return f"250 2.0.0 Ok: queued as SINK{len(sink.received)}"

        class CountingController(Controller):
            def factory(self):
                sink.connections += 1
                return super().factory()

        kwargs = {}
        if self.tls_context:
            kwargs["tls_context"] = self.tls_context
        elif self.tls:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            kwargs["tls_context"] = ctx
        self.port = free_port()
        self.controller = CountingController(Handler(), hostname="127.0.0.1", port=self.port,
                                             enable_SMTPUTF8=self.smtputf8, **kwargs)
        self.controller.start()
        self.connections = 0  # the controller's own readiness probe does not count
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait(self, n: int = 1, timeout: float = 10) -> list[Delivered]:
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


def wait_port(port: int, timeout: float = 10) -> None:
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def plain_message(body: str, *, subject: str = "test", charset: str = "utf-8",
                  cte: str = "8bit") -> bytes:
    """A single-part text mail with CRLF line endings, as a client puts it on the wire."""
    head = crlf(f"From: sender@example.jp\nTo: dest@example.com\nSubject: {subject}\n"
                f"Message-ID: <{time.monotonic_ns()}@example.jp>\nMIME-Version: 1.0\n"
                f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {cte}\n\n")
    if not body.endswith("\n"):
        body += "\n"  # SMTP clients end the data with CRLF anyway
    return head.encode("ascii") + crlf(body).encode(charset)


def mime_with_attachment(text: str, text_charset: str, attachment: bytes, filename: str,
                         attachment_type: str = "text/csv") -> bytes:
    """A multipart/mixed mail as Japanese mail clients send it: an ISO-2022-JP or UTF-8 text
    part, and a base64 attachment whose name is RFC 2231 (and RFC 2047) encoded."""
    boundary = f"----=_Part_{time.monotonic_ns()}"
    subject = Header("名簿の送付", "iso-2022-jp").encode()
    name2047 = Header(filename, "utf-8").encode()
    name2231 = "utf-8''" + "".join(f"%{b:02X}" for b in filename.encode())
    text_bytes = text.encode(text_charset)
    cte = "7bit" if text_charset.lower() == "iso-2022-jp" else "base64"
    text_payload = text_bytes if cte == "7bit" else base64.encodebytes(text_bytes)
    b64 = base64.encodebytes(attachment)
    head = crlf(
        f"From: sender@example.jp\nTo: dest@example.com\nSubject: {subject}\n"
        f"Message-ID: <{time.monotonic_ns()}@example.jp>\nMIME-Version: 1.0\n"
        f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\n\n"
        f"--{boundary}\nContent-Type: text/plain; charset={text_charset}\nContent-Transfer-Encoding: {cte}\n\n"
    ).encode("ascii")
    mid = crlf(
        f"\n--{boundary}\nContent-Type: {attachment_type}; name=\"{name2047}\"\n"
        f"Content-Disposition: attachment; filename*={name2231}\nContent-Transfer-Encoding: base64\n\n"
    ).encode("ascii")
    tail = crlf(f"--{boundary}--\n").encode("ascii")
    return head + crlf(text_payload.decode("latin-1")).encode("latin-1") + mid + crlf(
        b64.decode("ascii")).encode("ascii") + tail


def forwarded(inner: bytes, note: str = "転送します。ご確認ください。") -> bytes:
    """A forward as an attachment: a quoted-printable UTF-8 note and the original mail as a
    message/rfc822 part."""
    import quopri
    boundary = f"----=_Fwd_{time.monotonic_ns()}"
    qp = quopri.encodestring(note.encode("utf-8")).decode("ascii")
    head = crlf(
        f"From: sender@example.jp\nTo: dest@example.com\nSubject: Fwd: list\n"
        f"Message-ID: <{time.monotonic_ns()}@example.jp>\nMIME-Version: 1.0\n"
        f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\n\n"
        f"--{boundary}\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        f"{qp}\n--{boundary}\nContent-Type: message/rfc822\nContent-Disposition: attachment\n\n"
    ).encode("ascii")
    return head + inner + crlf(f"\n--{boundary}--\n").encode("ascii")


def strip_received(data: bytes) -> tuple[bytes, bytes]:
    """(the first line, the rest): what the relay prepended and what it relayed unchanged."""
    first, _, rest = data.partition(b"\r\n")
    return first, rest


class ThreadLoop:
    """An asyncio loop in a thread, to run the relay while tests speak smtplib synchronously."""

    def __init__(self):
        import asyncio
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30):
        import asyncio
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


__all__ = ["SMTP", "Delivered", "Sink", "ThreadLoop", "mime_with_attachment", "plain_message",
           "strip_received", "wait_port"]


POSTFIX = shutil.which("postfix") or ("/usr/sbin/postfix" if os.access("/usr/sbin/postfix", os.X_OK) else None)


def postfix_unavailable() -> str | None:
    """Why a private Postfix instance cannot run here (None if it can)."""
    if POSTFIX is None:
        return "postfix is not installed (Debian package postfix; make test installs it)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root (its master process starts as root)"
    return None


class Postfix:
    """A throwaway Debian Postfix on 127.0.0.1: accepts mail from 127.0.0.0/8 and relays it to
    ``relayhost`` (the recording sink), offers STARTTLS, refuses ``refuse`` recipients.

    Its directory lives under /tmp with mode 755 because Postfix's daemons run as the postfix
    user and must reach the queue (pytest's tmp_path is private to root)."""

    def __init__(self, relayhost_port: int, cert: tuple[Path, Path], refuse: dict[str, str]):
        import tempfile
        self.dir = Path(tempfile.mkdtemp(prefix="sekimori-postfix-"))
        self.dir.chmod(0o755)
        self.port = free_port()
        self.log = self.dir / "maillog"
        etc, data = self.dir / "etc", self.dir / "data"
        for d in (etc, data, self.dir / "queue"):
            d.mkdir()
        shutil.chown(data, "postfix")
        (etc / "access").write_text("".join(f"{k} {v}\n" for k, v in refuse.items()))
        (etc / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {self.dir}/queue
data_directory = {data}
maillog_file = {self.log}
maillog_file_prefixes = {self.dir}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = upstream.sekimori.test
mydestination =
mynetworks = 127.0.0.0/8
local_header_rewrite_clients =
relayhost = [127.0.0.1]:{relayhost_port}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:{etc}/access
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert[0]}
smtpd_tls_key_file = {cert[1]}
smtpd_tls_received_header = yes
smtp_tls_security_level = none
alias_maps =
alias_database =
""")
        lines = []
        dist = Path("/usr/share/postfix/master.cf.dist")  # shipped as is, whatever debconf chose
        for line in (dist if dist.exists() else Path("/etc/postfix/master.cf")).read_text().splitlines():
            f = line.split()
            if line[:1] not in ("#", " ", "\t") and len(f) >= 8:
                if f[0] == "smtp" and f[1] == "inet":
                    f[0] = f"127.0.0.1:{self.port}"
                f[4] = "n"  # no chroot: a private instance has no jail prepared
                line = " ".join(f)
            lines.append(line)
        (etc / "master.cf").write_text("\n".join(lines) + "\n")

    def start(self) -> Postfix:
        import subprocess
        self.proc = subprocess.Popen([POSTFIX, "-c", str(self.dir / "etc"), "start-fg"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_port(self.port, 30)
        return self

    def maillog(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        import subprocess
        # the master daemon outlives a signal to the start-fg wrapper: ask Postfix to stop
        subprocess.run([POSTFIX, "-c", str(self.dir / "etc"), "stop"], capture_output=True, timeout=30)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            subprocess.run([POSTFIX, "-c", str(self.dir / "etc"), "abort"], capture_output=True, timeout=30)
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
