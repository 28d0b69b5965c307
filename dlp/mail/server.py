"""The relay's listeners: aiosmtpd protocols served by the running event loop.

aiosmtpd's ``Controller`` would run a second event loop in a thread; the relay instead
serves from mitmproxy's own loop (``loop.create_server``), so it shares the runtime (scan
pool, incidents, metrics) with the HTTP path without any locking.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import ssl
import weakref

from aiosmtpd.smtp import SMTP

from dlp.config import SmtpSettings
from dlp.mail.addresses import hostport
from dlp.mail.auth import AuthConfigError, Htpasswd
from dlp.mail.handler import RelayHandler
from dlp.mail.limits import SESSION_TIMEOUT, SHUTDOWN_GRACE
from dlp.mail.upstream import local_hostname
from dlp.runtime import Runtime

log = logging.getLogger("sekimori.mail")

IDENT = "ESMTP Sekimori"
"""Greeting text after the host name (``220 host ESMTP Sekimori``)."""


class RelayStartError(Exception):
    """The relay cannot start; the message is a one-line reason for the admin."""


def _quiet_aiosmtpd() -> None:
    """aiosmtpd logs every command line, sender and recipient at INFO: personal data."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def server_tls_context(cert: str, key: str) -> ssl.SSLContext:
    """TLS for submitting clients (STARTTLS and implicit TLS); TLS 1.2 at least."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise RelayStartError(f"smtp.tls: cannot load certificate {cert} / key {key}: {reason}") from None
    return ctx


class MailRelay:
    """The SMTP listeners of ``dlp run``: ``smtp.listen`` (with STARTTLS if ``smtp.tls`` is
    set) and ``smtp.tls.implicit_listen`` (TLS from the first byte, port 465 style)."""

    def __init__(self, runtime: Runtime, settings: SmtpSettings):
        self.runtime = runtime
        self.settings = settings
        self.servers: list[asyncio.Server] = []
        self.handlers: list[RelayHandler] = []
        self.sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self.addresses: list[tuple[str, int]] = []

    async def start(self) -> None:
        """Listen; raises RelayStartError (port in use, bad certificate or htpasswd)."""
        _quiet_aiosmtpd()
        s = self.settings
        tls = server_tls_context(s.tls_cert, s.tls_key) if s.tls_cert and s.tls_key else None
        htpasswd = None
        if s.auth_htpasswd:
            try:
                htpasswd = Htpasswd.load(s.auth_htpasswd)
            except AuthConfigError as e:
                raise RelayStartError(str(e)) from None
        elif s.auth_required:
            raise RelayStartError("smtp.auth.required is set but smtp.auth.htpasswd is not: "
                                  "nobody could send mail")
        if htpasswd and not tls:
            log.warning("smtp: AUTH is offered without TLS (no smtp.tls): passwords travel in clear text")
        if s.max_message > self.runtime.policy.inspect.max_body:
            log.warning("smtp.max_message (%d bytes) exceeds inspect.max_body (%d bytes): larger "
                        "messages are accepted but refused as too large to inspect",
                        s.max_message, self.runtime.policy.inspect.max_body)
        hostname = local_hostname()
        try:
            await self._listen(s.listen, "smtp.listen", hostname, htpasswd, tls, implicit=False)
            if s.tls_implicit_listen:
                if tls is None:
                    raise RelayStartError("smtp.tls.implicit_listen needs smtp.tls.cert and key")
                await self._listen(s.tls_implicit_listen, "smtp.tls.implicit_listen", hostname,
                                   htpasswd, tls, implicit=True)
        except BaseException:
            await self.stop()
            raise
        log.info("mail relay listening on %s, upstream %s (STARTTLS %s to clients, %s to upstream)",
                 ", ".join(f"{h}:{p}" for h, p in self.addresses), s.upstream,
                 "offered" if tls else "not offered", s.upstream_starttls)

    async def _listen(self, where: str, key: str, hostname: str, htpasswd: Htpasswd | None,
                      tls: ssl.SSLContext | None, implicit: bool) -> None:
        host, port = hostport(where)
        handler = RelayHandler(self.runtime, htpasswd=htpasswd, implicit_tls=implicit)
        s = self.settings

        def factory() -> SMTP:
            session = SMTP(
                handler,
                data_size_limit=s.max_message,
                enable_SMTPUTF8=True,
                decode_data=False,
                hostname=hostname,
                ident=IDENT,
                tls_context=None if implicit else tls,
                timeout=SESSION_TIMEOUT,
                auth_required=s.auth_required,
                # On the implicit-TLS port the whole session is encrypted already; without
                # AUTH configured, handle_AUTH refuses with 502 rather than "encryption needed".
                auth_require_tls=bool(htpasswd) and not implicit and tls is not None,
                loop=asyncio.get_running_loop(),
            )
            self.sessions.add(session)
            return session

        try:
            server = await asyncio.get_running_loop().create_server(
                factory, host or None, port, ssl=tls if implicit else None, reuse_address=True)
        except OSError as e:
            reason = "address already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
            raise RelayStartError(f"cannot listen on {where} ({key}): {reason}") from None
        self.servers.append(server)
        self.handlers.append(handler)
        sock = server.sockets[0].getsockname()
        self.addresses.append((sock[0], sock[1]))

    @property
    def in_flight(self) -> int:
        return sum(h.in_flight for h in self.handlers)

    async def stop(self) -> None:
        """Stop accepting, let transactions past DATA finish (up to SHUTDOWN_GRACE), then
        close every session."""
        for server in self.servers:
            server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE
        while self.in_flight and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        for server in self.servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 5)
            except TimeoutError:
                log.warning("smtp: sessions still open at shutdown")
        self.servers.clear()
