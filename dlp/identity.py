"""Who sent a transfer, believed only from where it can be true.

A proxy-authenticated user (mitmproxy proxyauth) proved a password to this proxy, so it is
always believed. A user header (``identity.header``) is only a claim: any client can type
it, and a claim that changes with every request would give each request a fresh window and
escape every per-user rule. So the header counts only from the clients in
``identity.trusted_networks`` (the authenticating gateways that set it); from anywhere else
the transfer has no user and policy knows it by its client IP.

User names compare case-insensitively everywhere (``Taro.Yamada`` is ``taro.yamada``):
``user_key`` is the one normalisation, applied once when policy's view of a transfer and
the policy's lists are built.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlp.config import Identity

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def user_key(name: str) -> str:
    """The form in which user names (and envelope senders) are compared and counted."""
    return name.casefold()


def trusted(client_ip: str | None, networks: Iterable[Network]) -> bool:
    """``client_ip`` lies in one of ``networks``. An IPv4 client seen through a dual-stack
    socket (``::ffff:10.0.0.5``) is matched as the IPv4 address it is; anything that is not
    an address is not trusted."""
    if not client_ip:
        return False
    try:
        addr = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in networks)


def resolve_user(proxyauth: str | None, header_value: str | None, client_ip: str | None,
                 settings: Identity) -> str | None:
    """The user of a request: the proxyauth user, else the ``identity.header`` value if the
    client is in ``identity.trusted_networks``, else None (policy then counts by client IP).
    The spelling is kept for incidents; policy compares ``user_key`` of it."""
    if proxyauth:
        return proxyauth
    if not settings.header or not header_value or not trusted(client_ip, settings.trusted_networks):
        return None
    return header_value.strip() or None
