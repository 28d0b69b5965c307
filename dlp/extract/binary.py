"""Bytes that are no known format and not text: images, executables, random data.

They are not uninspectable (ordinary binary uploads must pass), but personal data can hide in
them as plain runs of text, so those runs are scanned.
"""

from __future__ import annotations

import regex

from dlp.model import TextBlock

# ASCII printable or well-formed UTF-8 multibyte sequences, at least 6 characters long.
_RUN = regex.compile(
    rb"(?:[\x20-\x7e\t]|[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}){6,}"
)


def text_runs(data: bytes, source: str) -> TextBlock:
    """One text block of the runs, one per line, so findings do not straddle runs."""
    runs = [m.decode("utf-8", "replace") for m in _RUN.findall(data)]
    return TextBlock("\n".join(runs), source)
