"""The client side: hand one message to the upstream MTA and report its verdict as a Reply.

aiosmtplib does the protocol (greeting, EHLO/HELO, STARTTLS, dot-stuffing, line endings,
timeouts) in the proxy's event loop. MAIL and RCPT are sent as raw commands because the
envelope must go out exactly as it came in (aiosmtplib's helpers re-parse addresses and
encode them as ASCII), and every recipient is asked before DATA so a partial refusal can
refuse the whole message instead of delivering half of it.

Towards the upstream, TLS is encryption without certificate checks (Postfix's ``may`` and
``encrypt`` levels): a next-hop MTA inside the organisation rarely has a public certificate,
and the schema has no key for a CA bundle yet.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from dataclasses import dataclass

import aiosmtplib

from dlp.config import SmtpSettings
from dlp.mail import replies
from dlp.mail.addresses import NULL_SENDER, hostport
from dlp.mail.limits import UPSTREAM_COMMAND_TIMEOUT, UPSTREAM_CONNECT_TIMEOUT, UPSTREAM_DATA_TIMEOUT
from dlp.mail.replies import Reply

log = logging.getLogger("sekimori.mail")

UNAVAILABLE = Reply(451, "4.4.1 Upstream mail server unavailable; try again later")
LOST = Reply(451, "4.4.2 Connection to the upstream mail server lost; try again later")
NO_TLS = Reply(451, "4.7.5 TLS to the upstream mail server is required but was not offered")
TLS_FAILED = Reply(451, "4.7.5 TLS handshake with the upstream mail server failed")
NO_SMTPUTF8 = Reply(550, "5.6.7 SMTPUTF8 is required but the upstream mail server does not offer it")


class DeliveryError(Exception):
    """The upstream did not take the message; ``reply`` says what it (or the path) answered."""

    def __init__(self, reply: Reply):
        self.reply = reply
        super().__init__(str(reply))


@dataclass(frozen=True)
class Outgoing:
    """One message as it goes upstream."""

    sender: str                 # "" or "<>" for the null sender
    recipients: tuple[str, ...]
    data: bytes
    smtputf8: bool = False      # the client declared SMTPUTF8
    eightbit: bool = False      # the client declared BODY=8BITMIME


class _TlsFailed(Exception):
    pass


class _Answer(Exception):
    """Ends a delivery attempt early with the reply the client should get."""

    def __init__(self, reply: Reply):
        self.reply = reply


def local_hostname() -> str:
    """Our name in EHLO and the Received: line; gethostname() needs no DNS round trip."""
    return socket.gethostname() or "localhost"


async def relay(settings: SmtpSettings, msg: Outgoing) -> Reply:
    """Deliver ``msg`` to ``settings.upstream``; the reply for the client. Never raises for
    anything the network or the upstream does (unexpected bugs still propagate)."""
    host, port = hostport(settings.upstream)
    mode = settings.upstream_starttls
    try:
        return await _attempt(host, port, mode, msg)
    except _TlsFailed as e:
        if mode != "opportunistic":
            log.warning("upstream %s:%d: STARTTLS failed (%s)", host, port, e)
            return TLS_FAILED
        # Opportunistic TLS falls back to plain text on the next attempt, as Postfix does.
        log.warning("upstream %s:%d: STARTTLS failed (%s), retrying without TLS", host, port, e)
        try:
            return await _attempt(host, port, "none", msg)
        except _TlsFailed:  # pragma: no cover - mode none never starts TLS
            return TLS_FAILED


async def _attempt(host: str, port: int, mode: str, msg: Outgoing) -> Reply:
    client = aiosmtplib.SMTP(hostname=host, port=port, timeout=UPSTREAM_COMMAND_TIMEOUT, start_tls=False,
                             local_hostname=local_hostname(), validate_certs=False)
    try:
        try:
            await client.connect(timeout=UPSTREAM_CONNECT_TIMEOUT)
        except aiosmtplib.SMTPConnectResponseError as e:
            log.warning("upstream %s:%d refused the connection with %d", host, port, e.code)
            return UNAVAILABLE
        except (aiosmtplib.SMTPException, OSError) as e:
            log.warning("upstream %s:%d unavailable: %s", host, port, type(e).__name__)
            return UNAVAILABLE
        return await _transaction(client, host, mode, msg)
    except _Answer as a:
        return a.reply
    except aiosmtplib.SMTPResponseException as e:
        if e.code < 0:  # not SMTP at all
            return LOST
        return replies.from_upstream(e.code, e.message)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as e:
        log.warning("upstream %s:%d: %s during the transaction", host, port, type(e).__name__)
        return LOST
    finally:
        await _close(client)


async def _transaction(client: aiosmtplib.SMTP, host: str, mode: str, msg: Outgoing) -> Reply:
    await _hello(client)
    if mode != "none":
        if client.supports_extension("starttls"):
            try:
                await client.starttls(server_hostname=host, validate_certs=False)
            except (aiosmtplib.SMTPException, OSError) as e:
                raise _TlsFailed(type(e).__name__) from None
            await _hello(client)  # RFC 3207: forget what was learnt before TLS
        elif mode == "required":
            raise _Answer(NO_TLS)
    options = []
    if msg.smtputf8:
        if not client.supports_extension("smtputf8"):
            raise _Answer(NO_SMTPUTF8)
        options.append(b"SMTPUTF8")
    if msg.eightbit and client.supports_extension("8bitmime"):
        options.append(b"BODY=8BITMIME")  # otherwise sent as is, as Postfix does
    if client.supports_extension("size"):
        options.append(f"SIZE={len(msg.data)}".encode())
    sender = "" if msg.sender == NULL_SENDER else msg.sender
    resp = await client.execute_command(b"MAIL", b"FROM:<" + sender.encode() + b">", *options)
    if resp.code != 250:
        raise _Answer(replies.from_upstream(resp.code, resp.message))
    refused: list[tuple[str, int, str]] = []
    for rcpt in msg.recipients:
        resp = await client.execute_command(b"RCPT", b"TO:<" + rcpt.encode() + b">")
        if resp.code == 421:
            raise _Answer(LOST)
        if resp.code not in (250, 251):
            refused.append((rcpt, resp.code, resp.message))
    if refused:
        answer = replies.recipients_refused(refused, len(msg.recipients))
        # the refusal is the answer either way; the connection is closed next
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.execute_command(b"RSET")
        raise _Answer(answer)
    resp = await client.data(msg.data, timeout=UPSTREAM_DATA_TIMEOUT)
    return replies.from_upstream(resp.code, resp.message)


async def _hello(client: aiosmtplib.SMTP) -> None:
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError:
        await client.helo()  # an old MTA without ESMTP: no extensions


async def _close(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.quit(timeout=5)
        except (aiosmtplib.SMTPException, OSError):
            client.close()
