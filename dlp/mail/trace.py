"""The one ``Received:`` line the relay prepends to a message it relays.

Trace headers let an admin follow a message and let MTAs detect loops (RFC 5321 4.4). It
carries what every MTA adds, the client's HELO name and IP, our host name, the protocol and
a transaction id, and deliberately not the ``for <recipient>`` clause or the authenticated
user: those would copy personal data into every message. One physical line, so the relayed
bytes are the received bytes with exactly one line in front.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from email.utils import format_datetime

_RECEIVED = re.compile(rb"^received:", re.IGNORECASE | re.MULTILINE)
_HELO_UNSAFE = re.compile(r"[^A-Za-z0-9.\-_:\[\]]")
HELO_MAX = 255


def protocol(esmtp: bool, tls: bool, authenticated: bool, smtputf8: bool) -> str:
    """The ``with`` keyword of RFC 3848 / RFC 6531: ESMTP, ESMTPS, ESMTPSA, UTF8SMTPS, ..."""
    if not esmtp:
        return "SMTP"
    return ("UTF8SMTP" if smtputf8 else "ESMTP") + ("S" if tls else "") + ("A" if authenticated else "")


def address_literal(ip: str | None) -> str:
    """``[192.0.2.1]`` or ``[IPv6:2001:db8::1]`` as RFC 5321 4.1.3 writes addresses."""
    if not ip:
        return "[unknown]"
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "[unknown]"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped:
            return f"[{addr.ipv4_mapped}]"
        return f"[IPv6:{addr.compressed}]"
    return f"[{addr}]"


def received(*, helo: str | None, client_ip: str | None, by: str, with_: str, txid: str,
             when: datetime) -> bytes:
    """``Received: from HELO ([IP]) by HOST (Sekimori) with PROTO id TXID; DATE`` + CRLF."""
    name = _HELO_UNSAFE.sub("?", (helo or "unknown")[:HELO_MAX]) or "unknown"
    host = _HELO_UNSAFE.sub("?", by) or "localhost"
    line = (f"Received: from {name} ({address_literal(client_ip)}) by {host} (Sekimori) "
            f"with {with_} id {txid}; {format_datetime(when)}\r\n")
    return line.encode("ascii")


def hops(data: bytes) -> int:
    """Received: headers in the header section: how many MTAs the message has passed."""
    end = data.find(b"\r\n\r\n")
    return len(_RECEIVED.findall(data if end < 0 else data[:end]))
