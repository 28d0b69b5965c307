"""The request line and headers as content: a GET carries data as well as any upload.

The decoded path, each query value, each cookie value and the value of every header that is
not one of the standard ones a browser or HTTP client sends are fields of one more part of
the transfer, read like a form submission (``forms.field_events``): percent-decoded as bytes,
charset detected, base64/base32/hex and multi-line values read as documents of their own.
The header names are protocol knowledge shared by every front end (the mitmproxy addon, a
future ICAP server), so they live here, beside the reading, not in an addon.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import chain

from dlp.extract.budget import Budget
from dlp.extract.events import Event, Member
from dlp.extract.forms import form_parts, parts_events
from dlp.model import Record

SOURCE = "request"
"""The source name of the request line and headers in findings and errors."""
HEADERS_SOURCE = f"{SOURCE}/headers"

STANDARD_HEADERS = frozenset({
    # RFC 9110/9111/9112 request and connection headers
    "host", "accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges",
    "authorization", "cache-control", "connection", "content-encoding", "content-language",
    "content-length", "content-location", "content-range", "content-type", "date", "expect",
    "forwarded", "from", "if-match", "if-modified-since", "if-none-match", "if-range",
    "if-unmodified-since", "keep-alive", "max-forwards", "pragma", "proxy-authorization",
    "proxy-connection", "range", "referer", "te", "trailer", "transfer-encoding", "upgrade", "via",
    # what browsers add by themselves
    "origin", "user-agent", "dnt", "upgrade-insecure-requests", "priority", "purpose",
    "sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site", "sec-fetch-user", "sec-gpc",
    "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "sec-ch-ua-arch", "sec-ch-ua-bitness",
    "sec-ch-ua-full-version", "sec-ch-ua-full-version-list", "sec-ch-ua-model",
    "sec-ch-ua-platform-version", "sec-ch-ua-wow64", "sec-ch-prefers-color-scheme",
    "sec-purpose", "service-worker-navigation-preload", "x-requested-with",
    "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
    "access-control-request-method", "access-control-request-headers",
})
"""Headers whose values a client fills in by itself; every other header is content."""

SHORT_PATH = 256
"""A path (without query) up to this length, with no percent-encoding, carries no document."""


def line_fields(path: str) -> list[tuple[str | None, bytes]]:
    """The request line's fields: the path if it may carry anything, and each query value."""
    base, _sep, query = path.partition("?")
    out: list[tuple[str | None, bytes]] = []
    if "%" in base or len(base) > SHORT_PATH:
        out.append(("path", urllib.parse.unquote_to_bytes(base)))
    out.extend(_pair(pair) for pair in query.split("&") if pair)
    return out


PAIR_CACHE_MAX = 256
"""Query pairs up to this length have their decoding remembered."""


def _pair(pair: str) -> tuple[str | None, bytes]:
    """One query pair, decoded. Short ones are remembered: browsing repeats most (``hl=ja``)."""
    return _short_pair(pair) if len(pair) <= PAIR_CACHE_MAX else _read_pair(pair)


def _read_pair(pair: str) -> tuple[str | None, bytes]:
    name, sep, value = pair.partition("=")
    if sep:
        return urllib.parse.unquote_plus(name), _unquote(value, plus=True)
    return None, _unquote(name, plus=True)  # ?<blob>: a value without a name


_short_pair = lru_cache(maxsize=4096)(_read_pair)


def header_fields(headers: tuple[tuple[str, str], ...]) -> list[tuple[str | None, bytes]]:
    """Each cookie and each non-standard header value."""
    out: list[tuple[str | None, bytes]] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            for crumb in value.split(";"):
                cname, _eq, cvalue = crumb.strip().partition("=")
                if cvalue:
                    out.append((f"cookie:{cname}", _unquote(cvalue)))
        elif key not in STANDARD_HEADERS and value:
            out.append((name, _unquote(value)))
    return out


HEADER_CACHE_MAX = 16 * 1024
"""Header sets up to this size (all names and values) have their reading remembered."""


HEADER_CACHE_SIZE = 512
_read_headers: dict[tuple[tuple[str, str], ...], tuple[tuple[Member, ...], Record | None]] = {}


def header_parts(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[Member, ...], Record | None]:
    """The headers read as a form (``form_parts``). Remembered for small header sets: a
    browser sends the same headers with every request, and the reading is a pure function
    of them."""
    parts = _read_headers.get(headers)
    if parts is None:
        parts = form_parts(header_fields(headers), HEADERS_SOURCE)
        if sum(map(len, chain.from_iterable(headers))) <= HEADER_CACHE_MAX:
            if len(_read_headers) >= HEADER_CACHE_SIZE:
                _read_headers.clear()
            _read_headers[headers] = parts
    return parts


def carries_content(path: str, headers: Iterable[tuple[str, str]]) -> bool:
    """Cheap test for a request without a body: is there anything beyond a short path and
    standard headers? (The fast path of ordinary browsing: no scan at all.)"""
    base, _sep, query = path.partition("?")
    if query or "%" in base or len(base) > SHORT_PATH:
        return True
    return any(name.lower() not in STANDARD_HEADERS for name, _v in headers)


def line_parts(path: str) -> tuple[tuple[Member, ...], Record | None]:
    """The request line read as a form (``form_parts``)."""
    return form_parts(line_fields(path), SOURCE)


def request_events(path: str, headers: tuple[tuple[str, str], ...], budget: Budget) -> Iterator[Event]:
    """The request line and the headers as two form-like parts (one record each, documents
    as Members). Two, because a browser's headers repeat on every request while its request
    lines differ: the detectors remember a record that held nothing."""
    yield from parts_events(line_parts(path), SOURCE, budget)
    yield from parts_events(header_parts(headers), HEADERS_SOURCE, budget)


def _unquote(value: str, plus: bool = False) -> bytes:
    raw = value.encode("utf-8", "surrogateescape")
    if plus:
        raw = raw.replace(b"+", b" ")
    return urllib.parse.unquote_to_bytes(raw) if b"%" in raw else raw
