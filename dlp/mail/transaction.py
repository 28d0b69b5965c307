"""One SMTP transaction = one transfer: inspect the whole message, then relay, hold or refuse.

This is where the verdict becomes an SMTP reply. It knows nothing about sockets: the
aiosmtpd handler builds a ``Message`` after DATA and sends back whatever ``process`` returns,
which keeps the decision logic testable without a server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from dlp.config import SmtpSettings
from dlp.mail import replies, trace, upstream
from dlp.mail.addresses import NULL_SENDER, hostport
from dlp.mail.limits import MAX_HOPS
from dlp.model import Transfer
from dlp.quarantine import Held
from dlp.runtime import Runtime

log = logging.getLogger("sekimori.mail")

RELAY_ACTIONS = ("allow", "log")


@dataclass(frozen=True)
class Message:
    """A complete transaction as the client submitted it."""

    txid: str
    sender: str                  # as aiosmtpd gives it: "<>" for the null sender
    recipients: tuple[str, ...]
    data: bytes                  # after dot-unstuffing, otherwise as received
    client_ip: str | None = None
    helo: str | None = None
    user: str | None = None      # the SMTP AUTH identity, if the client authenticated
    esmtp: bool = True
    tls: bool = False
    smtputf8: bool = False
    eightbit: bool = False

    @property
    def envelope_sender(self) -> str:
        """The reverse-path without brackets; empty for the null sender."""
        return "" if self.sender == NULL_SENDER else self.sender


def to_transfer(msg: Message, upstream_host: str) -> Transfer:
    """The Transfer the engine inspects: the raw RFC 5322 message as received (our Received:
    line is not part of it), who sent it and where it goes."""
    return Transfer(
        protocol="smtp",
        body=msg.data,
        content_type="message/rfc822",
        user=msg.user or msg.envelope_sender or None,
        client_ip=msg.client_ip,
        host=upstream_host,
        recipients=msg.recipients,
        sender=msg.envelope_sender or None,
    )


async def process(runtime: Runtime, msg: Message) -> str:
    """Inspect ``msg`` and carry out the verdict; the reply to the client's DATA.

    The runtime holds a quarantined message itself (``held``: the message as received with
    its envelope) before it answers, and turns the verdict into a block if the store fails;
    so "quarantine" here means the message is safely held. Exceptions propagate: the handler
    turns them into a 451, never a 250 for a message that was neither relayed nor held.
    """
    if trace.hops(msg.data) > MAX_HOPS:
        log.warning("smtp %s: refused, %d Received: headers (mail loop?)", msg.txid, trace.hops(msg.data))
        return replies.TOO_MANY_HOPS
    pol = runtime.policy  # one policy for the whole transaction, even across a reload
    settings = pol.smtp
    held = partial(Held, {"sender": msg.envelope_sender, "recipients": list(msg.recipients)}, msg.data)
    _scan, decision = await runtime.inspect(to_transfer(msg, hostport(settings.upstream)[0]), held)
    if decision.action in RELAY_ACTIONS:
        return await _relay(settings, msg)
    if decision.action == "quarantine":
        log.info("smtp %s: held (incident %s)", msg.txid, decision.incident_id)
        return replies.held(decision)
    log.info("smtp %s: refused (incident %s)", msg.txid, decision.incident_id)
    return replies.blocked(decision, {r.name: r.action for r in pol.rules})


async def _relay(settings: SmtpSettings, msg: Message) -> str:
    header = trace.received(
        helo=msg.helo, client_ip=msg.client_ip, by=upstream.local_hostname(),
        with_=trace.protocol(msg.esmtp, msg.tls, msg.user is not None, msg.smtputf8),
        txid=msg.txid, when=datetime.now().astimezone(),
    )
    out = upstream.Outgoing(msg.sender, msg.recipients, header + msg.data,
                            smtputf8=msg.smtputf8, eightbit=msg.eightbit)
    reply = await upstream.relay(settings, out)
    log.info("smtp %s: relayed, upstream answered %d", msg.txid, reply.code)
    return str(reply)
