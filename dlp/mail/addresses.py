"""Envelope addresses and HOST:PORT values: the little parsing the relay needs.

aiosmtpd has already parsed the envelope addresses (angle brackets and source routes are
gone); what is left is deciding whether an address may be relayed as it is.
"""

from __future__ import annotations

import re

NULL_SENDER = "<>"
"""How aiosmtpd spells the null reverse-path of ``MAIL FROM:<>`` (bounces, DSNs)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def hostport(value: str, default_port: int = 25) -> tuple[str, int]:
    """``127.0.0.1:25`` / ``[::1]:25`` / ``mx.example.jp`` → (host, port)."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port else default_port
    host, sep, port = value.rpartition(":")
    if not sep or ":" in host:  # no port, or a bare IPv6 address
        return value, default_port
    return host, int(port)


def address_problem(address: str, smtputf8: bool) -> str | None:
    """Why ``address`` cannot be relayed as received (an SMTP reply), or None.

    aiosmtpd decodes arguments as UTF-8 with surrogate escapes, so bytes that are not UTF-8
    show up as surrogates; control characters would let an address inject commands upstream.
    """
    if _CONTROL.search(address):
        return "553 5.1.3 Malformed address"
    try:
        address.encode("utf-8")
    except UnicodeEncodeError:
        return "553 5.1.3 Malformed address (not UTF-8)"
    if not smtputf8 and not address.isascii():
        return "553 5.6.7 Must declare SMTPUTF8 to send a non-ASCII address"
    return None

