"""The aiosmtpd handler: SMTP hooks of one listener, turning a finished DATA into a Message.

aiosmtpd does the protocol (syntax errors get its 5xx replies, SIZE, 8BITMIME, SMTPUTF8,
RSET, several transactions per session, STARTTLS); the hooks here add what a relay in front
of an MTA needs: PIPELINING in EHLO (aiosmtpd answers pipelined commands in order but does
not say so), envelope checks that keep the upstream session clean, a recipient limit, and a
guard so that any exception becomes a 451 instead of a dropped connection. Nothing from the
message or the envelope is logged.
"""

from __future__ import annotations

import logging
import secrets
import traceback

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session

from dlp.mail import replies, transaction
from dlp.mail.addresses import NULL_SENDER, address_problem
from dlp.mail.auth import AuthMechanisms, Htpasswd
from dlp.mail.limits import MAX_RECIPIENTS
from dlp.runtime import Runtime

log = logging.getLogger("sekimori.mail")


def _where(error: BaseException) -> str:
    """Type and innermost frame of an exception: enough to find the bug, and unlike the
    message (a UnicodeDecodeError quotes the bytes) it never carries message content."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    f = frames[-1]
    return f"{type(error).__name__} at {f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}"


class RelayHandler(AuthMechanisms):
    """Hooks for one listener (STARTTLS port or implicit-TLS port) of the relay."""

    def __init__(self, runtime: Runtime, *, htpasswd: Htpasswd | None, implicit_tls: bool = False):
        self.runtime = runtime
        self.htpasswd = htpasswd
        self.implicit_tls = implicit_tls
        self.in_flight = 0

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname  # the five-argument hook must set it itself
        if self.htpasswd is None:
            responses = [r for r in responses if not r[4:].startswith("AUTH")]
        last = responses.pop()
        return [*responses, "250-PIPELINING", last]

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]) -> object:
        """Refuse AUTH when no htpasswd is configured; MISSING lets aiosmtpd go on."""
        return replies.AUTH_NOT_OFFERED if self.htpasswd is None else MISSING

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if address != NULL_SENDER:
            problem = address_problem(address, envelope.smtp_utf8)
            if problem:
                return problem
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        problem = address_problem(address, envelope.smtp_utf8)
        if problem:
            return problem
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return replies.TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        txid = secrets.token_hex(6).upper()
        self.in_flight += 1
        try:
            return await transaction.process(self.runtime, self._message(txid, server, session, envelope))
        except Exception as e:
            log.error("smtp %s: internal error, answered 451: %s", txid, _where(e))
            return replies.INTERNAL_ERROR
        finally:
            self.in_flight -= 1

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd's last resort for an exception in a command; its default reply would quote
        the exception message to the client and its default log the traceback."""
        log.error("smtp: internal error in a command, answered 451: %s", _where(error))
        return replies.INTERNAL_ERROR

    def _message(self, txid: str, server: SMTP, session: Session, envelope: Envelope) -> transaction.Message:
        peer = session.peer
        client_ip = peer[0] if isinstance(peer, tuple) and peer else None
        user = session.auth_data if session.authenticated and isinstance(session.auth_data, str) else None
        options = {o.upper() for o in envelope.mail_options}
        return transaction.Message(
            txid=txid,
            sender=envelope.mail_from or NULL_SENDER,
            recipients=tuple(envelope.rcpt_tos),
            data=envelope.original_content or b"",
            client_ip=client_ip,
            helo=session.host_name,
            user=user,
            esmtp=bool(session.extended_smtp),
            tls=self.implicit_tls or session.ssl is not None,
            smtputf8=bool(envelope.smtp_utf8),
            eightbit="BODY=8BITMIME" in options,
        )
