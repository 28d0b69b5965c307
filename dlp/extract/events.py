"""What a format handler hands back besides Records, Tables and TextBlocks.

Handlers never recurse themselves: a file found inside another (an archive member, a mail
attachment, a base64 string in JSON) comes back as a ``Member`` and the Extractor sniffs and
extracts it under the same Budget, one level deeper. Encrypted parts and unreadable parts are
events too, so a handler can report them and go on with the siblings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dlp.model import Record, Table, TextBlock


@dataclass(frozen=True)
class Member:
    """A file inside the payload, to be extracted by its sniffed type."""

    name: str                      # full path for sources, e.g. "body/list.zip/名簿.csv"
    data: bytes
    content_type: str = ""         # a hint for text subtypes only (html, json); never trusted for binaries
    is_file: bool = True           # a real file name (kept for the incident) or a synthetic label


@dataclass(frozen=True)
class Encrypted:
    """An encrypted file or member; only its name is known."""

    name: str


@dataclass(frozen=True)
class Problem:
    """A part that could not be inspected; the handler goes on with the rest."""

    reason: str                    # a key of inspect.on_uninspectable
    message: str


Event = Record | Table | TextBlock | Member | Encrypted | Problem


class Mismatch(Exception):
    """Raised by a handler before it yields anything: the data is not of its format after all
    (text that starts with '[' but is no JSON), so the Extractor treats it as plain text."""


_QUOTED = re.compile(r"""b?(['"]).*?\1""")
_NUMBERS = re.compile(r"\+?\d(?:[\d\- ]{5,}\d|\d{4,})")    # digit runs, or phone shapes with - and spaces
_ADDRESSES = re.compile(r"\S+@\S+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def describe(e: BaseException) -> str:
    """A library exception as an error string that cannot leak content. Parsers quote the
    bytes they choked on, in quotes or (yajl) as a context line under the message, so only the
    first line is kept, and in it quoted fragments, numbers, address-shaped tokens and every
    non-ASCII run (names, kana, addresses) are masked; length capped."""
    msg = str(e).strip().split("\n", 1)[0]
    for pattern, mask in ((_QUOTED, "'…'"), (_ADDRESSES, "…@…"), (_NUMBERS, "…"), (_NON_ASCII, "…")):
        msg = pattern.sub(mask, msg)
    msg = msg[:160]
    name = type(e).__name__
    return f"{name}: {msg}" if msg else name
