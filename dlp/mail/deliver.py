"""Delivery of a released quarantine item: ``dlp quarantine release`` calls ``deliver``.

The quarantine holds the message exactly as the client submitted it (before the relay's
Received: line) with its envelope, so release sends those bytes and nothing else, once; a
failure raises and the item stays held, so nothing is lost.
"""

from __future__ import annotations

import asyncio

from dlp.config import SmtpSettings
from dlp.mail.upstream import DeliveryError, Outgoing, relay


async def deliver(settings: SmtpSettings, sender: str, recipients: list[str], data: bytes) -> None:
    """Deliver ``data`` to ``settings.upstream`` from ``sender`` ("" = null sender) to
    ``recipients``. Raises DeliveryError (with the reply) unless the upstream answered 2xx.

    The MAIL parameters of the original submission are not kept, so they are inferred:
    SMTPUTF8 for a non-ASCII envelope, BODY=8BITMIME for data with 8-bit bytes.
    """
    msg = Outgoing(sender, tuple(recipients), data,
                   smtputf8=not (sender.isascii() and all(r.isascii() for r in recipients)),
                   eightbit=not data.isascii())
    reply = await relay(settings, msg)
    if not reply.ok:
        raise DeliveryError(reply)


def deliver_sync(settings: SmtpSettings, sender: str, recipients: list[str], data: bytes) -> None:
    """``deliver`` for callers without an event loop."""
    asyncio.run(deliver(settings, sender, recipients, data))
