"""Bytes that are no known format and not text: images, executables, random data, and the
streams of legacy OLE files (.doc, .ppt) that have no parser here.

They are not uninspectable (ordinary binary uploads must pass), but personal data can hide in
them as plain runs of text, so those runs are scanned: ASCII/UTF-8 runs everywhere, and
UTF-16LE runs (how Office stores Japanese text) in OLE streams.
"""

from __future__ import annotations

from collections.abc import Iterator

import regex

from dlp.extract.budget import Budget
from dlp.extract.text import text_blocks
from dlp.model import TextBlock

# ASCII printable or well-formed UTF-8 multibyte sequences, at least 6 characters long.
_RUN = regex.compile(
    rb"(?:[\x20-\x7e\t]|[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}){6,}"
)
# UTF-16LE code units of ASCII, CJK punctuation and kana (U+30xx), CJK ideographs
# (U+4E00-9FFF) and full-width forms (U+FFxx), at least 4 in a row.
_RUN16 = regex.compile(rb"(?:[\x20-\x7e\t\r\n]\x00|[\x00-\xff][\x30\x4e-\x9f\xff]){4,}")
CHUNK = 4 << 20



def run_blocks(data: bytes, source: str, budget: Budget, utf16: bool = False) -> Iterator[TextBlock]:
    """The text runs of ``data`` in blocks, read a few MB at a time."""
    yield from text_blocks(_runs(data, budget, utf16), source, budget)


def _runs(data: bytes, budget: Budget, utf16: bool) -> Iterator[str]:
    view = memoryview(data)
    for start in range(0, len(data), CHUNK):
        budget.check_time()
        piece = bytes(view[start:start + CHUNK + 256])  # overlap: a run across the cut is seen
        runs = [m.decode("utf-8", "replace") for m in _RUN.findall(piece)]
        if utf16:
            # Word ends paragraphs with \r: as line ends, a letter per paragraph stays apart
            runs += [m.decode("utf-16-le", "replace").replace("\r\n", "\n").replace("\r", "\n")
                     for m in _RUN16.findall(piece[:len(piece) // 2 * 2])]
        if runs:
            yield "\n".join(runs) + "\n"
