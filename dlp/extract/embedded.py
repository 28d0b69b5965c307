"""Files carried as strings: base64 (standard or URL-safe, padded or not, MIME line breaks)
and ``data:`` URLs inside JSON values and form fields, the way webmail and chat APIs send
attachments. A decoded string is extracted like an uploaded file; one that decodes to noise
(a hash, a token) is left as the text it was.
"""

from __future__ import annotations

import base64
import binascii
import re

from dlp.extract import sniff as sniffing
from dlp.extract import text as textmod

MIN_LENGTH = 64
"""Shorter strings are values (ids, tokens), not files."""
BINARY_MIN = 768
"""Decoded bytes that are neither a known format nor text count as a file (an image) from this
size on; shorter ones are hashes and signatures and stay the string they were."""

_B64 = re.compile(r"[A-Za-z0-9+/\r\n]+={0,2}")
_B64URL = re.compile(r"[A-Za-z0-9_\-\r\n]+={0,2}")
_HEX = re.compile(r"[0-9a-fA-F\r\n]+")
_DATA_URL = re.compile(r"data:([\w.+\-]+/[\w.+\-]+)?((?:;[\w\-]+=[^;,]*)*)(;base64)?,", re.IGNORECASE)


def looks_encoded(value: str) -> bool:
    """Cheap test: could ``value`` be a base64 file or a data: URL?"""
    if len(value) < MIN_LENGTH:
        return False
    if value.startswith(("data:", "DATA:")):
        return True
    head = value[:256]
    return bool((_B64.fullmatch(head) or _B64URL.fullmatch(head)) and not _HEX.fullmatch(head))


def decode(value: str) -> tuple[bytes, str] | None:
    """(bytes, content type hint) of a base64 string or data: URL, or None if it is neither
    or if what it decodes to is neither a known format nor text."""
    ctype = ""
    if value[:5].lower() == "data:":
        m = _DATA_URL.match(value)
        if not m:
            return None
        ctype = m.group(1) or ""
        payload = value[m.end():]
        if not m.group(3):  # percent-encoded text
            from urllib.parse import unquote_to_bytes
            return unquote_to_bytes(payload), ctype
    else:
        payload = value
    data = _b64(payload.strip())
    if data is None or not data:
        return None
    if sniffing.magic(data) or len(data) >= BINARY_MIN or textmod.detect_encoding(data) is not None:
        return data, ctype
    return None


def _b64(s: str) -> bytes | None:
    if "\n" in s or "\r" in s:
        s = s.replace("\r", "").replace("\n", "")
    if len(s) % 4 == 1:
        return None
    padded = s + "=" * (-len(s) % 4)
    try:
        if "-" in s or "_" in s:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
