"""Files and text carried as strings: base64 (standard or URL-safe, padded or not, MIME line
breaks), base32, hex and ``data:`` URLs, inside JSON values, form fields, request lines and
runs in plain text, the way webmail and chat APIs send attachments and the way an insider
would hide a list. A decoded string is extracted like an uploaded file; one that decodes to
noise (a hash, a token) is left as the text it was.

Decoding is strict: a string with characters outside its alphabet is not that encoding (a
lenient decoder drops them and turns text into junk that then replaces it).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

import re2

from dlp.extract import sniff as sniffing
from dlp.extract import text as textmod
from dlp.extract.budget import Budget
from dlp.extract.events import Member

MIN_LENGTH = 64
"""Shorter strings are values (ids, tokens), not files."""
BINARY_MIN = 768
"""Decoded bytes that are neither a known format nor text count as a file (an image) from this
size on; shorter ones are hashes and signatures and stay the string they were."""

_B64 = re.compile(r"[A-Za-z0-9+/\r\n]+={0,2}")
_B64URL = re.compile(r"[A-Za-z0-9_\-\r\n]+={0,2}")
_HEX = re.compile(r"[0-9a-fA-F\r\n]+")
_B32 = re.compile(r"[A-Z2-7\r\n]+=*")
_DATA_URL = re.compile(r"data:([\w.+\-]+/[\w.+\-]+)?((?:;[\w\-]+=[^;,]*)*)(;base64)?,", re.IGNORECASE)
_RUN = re2.compile(rb"(?:[A-Za-z0-9+/_\-]{16,}={0,6}\r?\n)*[A-Za-z0-9+/_\-]{16,}={0,6}")
"""A run of encoded text in a larger text: one line, or MIME-style lines of 16+ characters."""


def looks_encoded(value: str) -> bool:
    """Cheap test: could ``value`` be a base64, base32 or hex file or a data: URL?"""
    if len(value) < MIN_LENGTH:
        return False
    if value.startswith(("data:", "DATA:")):
        return True
    head = value[:256]
    return bool(_B64.fullmatch(head) or _B64URL.fullmatch(head) or _B32.fullmatch(head))


def decode(value: str) -> tuple[bytes, str] | None:
    """(bytes, content type hint) of an encoded string or data: URL, or None if it is neither
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
        data = _b64(payload.strip())
    else:
        data = unwrap(value.strip())
    if data is None or not _worth_reading(data):
        return None
    return data, ctype


def unwrap(s: str) -> bytes | None:
    """The bytes of a hex, base32 or base64 string, tried in that order (each alphabet is a
    subset of the next, and a long run that fits a narrower one is that encoding)."""
    if "\n" in s or "\r" in s:
        s = s.replace("\r", "").replace("\n", "")
    if not s:
        return None
    if _HEX.fullmatch(s):
        if len(s) % 2 == 0:
            return bytes.fromhex(s)
    elif _B32.fullmatch(s):
        data = _b32(s)
        if data is not None:
            return data
    return _b64(s)


def _b32(s: str) -> bytes | None:
    body = s.rstrip("=")
    try:
        return base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        return None


def _b64(s: str) -> bytes | None:
    if "\n" in s or "\r" in s:
        s = s.replace("\r", "").replace("\n", "")
    body = s.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    if "-" in s or "_" in s:
        if "+" in s or "/" in s:
            return None  # two alphabets in one string is no encoding
        padded = padded.translate(_URLSAFE)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


_URLSAFE = str.maketrans("-_", "+/")


def _worth_reading(data: bytes) -> bool:
    return bool(data) and bool(sniffing.magic(data) or len(data) >= BINARY_MIN
                               or textmod.detect_encoding(data) is not None)


_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


def _clean_text(data: bytes) -> bool:
    """Short decoded bytes that are text beyond doubt: no control bytes, and strict UTF-8 or
    Japanese. A run in a text is often a hash or a token, whose bytes a lenient charset guess
    would call text."""
    if _CONTROL.search(data):
        return False
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return textmod.japanese_encoding(data) is not None


def run_members(data: bytes, where: str, budget: Budget) -> Iterator[Member]:
    """Members for the runs of base64, base32 or hex inside a text (a list hex-encoded in a
    note, a base64url line in front of a plain list). They are read in addition to the text
    around them, never instead of it, and count against the budget like any expansion."""
    if len(data) < MIN_LENGTH:
        return
    for m in _RUN.finditer(data):
        start, end = m.span()
        if end - start < MIN_LENGTH:
            continue
        decoded = unwrap(data[start:end].decode("ascii"))
        if decoded is None or not (sniffing.magic(decoded) or len(decoded) >= BINARY_MIN or _clean_text(decoded)):
            continue
        budget.check_time()
        budget.add_member(where)
        budget.add_expanded(len(decoded), where)
        yield Member(f"{where}/encoded@{start}", decoded, is_file=False)
