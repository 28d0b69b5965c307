"""Bytes that are no known format and not text: images, executables, random data, and the
streams of legacy OLE files (.doc, .ppt) that have no parser here.

They are not uninspectable (ordinary binary uploads must pass), but personal data can hide in
them as plain runs of text, so those runs are scanned: ASCII/UTF-8 runs everywhere, and
UTF-16LE runs (how Office stores Japanese text) in OLE streams.
"""

from __future__ import annotations

from collections.abc import Iterator

import re2
import regex

from dlp.extract.budget import Budget
from dlp.extract.text import text_blocks
from dlp.model import TextBlock

# ASCII printable or well-formed UTF-8 multibyte sequences, at least 6 characters long:
# found as runs of the bytes they are made of, then split where they do not decode. (One
# pattern of the sequences repeats a group, and the regex engine keeps a frame per
# repetition: 484 MB for a 4 MB run.)
_CANDIDATE = regex.compile(rb"[\x20-\x7e\t\x80-\xf4]{6,}")
RUN_MIN = 6
# UTF-16LE code units of ASCII, CJK punctuation and kana (U+30xx), CJK ideographs
# (U+4E00-9FFF) and full-width forms (U+FFxx), at least 4 in a row. The units are pairs of
# bytes, no character class: RE2 (no backtracking, no frame per unit), bytes as Latin-1.
_OPTIONS = re2.Options()
_OPTIONS.encoding = re2.Options.Encoding.LATIN1
_RUN16 = re2.compile(rb"(?:[\x20-\x7e\t\r\n]\x00|[\x00-\xff][\x30\x4e-\x9f\xff]){4,}", _OPTIONS)
CHUNK = 4 << 20



def run_blocks(data: bytes, source: str, budget: Budget, utf16: bool = False) -> Iterator[TextBlock]:
    """The text runs of ``data`` in blocks, read a few MB at a time."""
    yield from text_blocks(_runs(data, budget, utf16), source, budget)


def _runs(data: bytes, budget: Budget, utf16: bool) -> Iterator[str]:
    view = memoryview(data)
    for start in range(0, len(data), CHUNK):
        budget.check_time()
        piece = bytes(view[start:start + CHUNK + 256])  # overlap: a run across the cut is seen
        runs = [run for m in _CANDIDATE.findall(piece)
                for run in m.decode("utf-8", "replace").split("\ufffd") if len(run) >= RUN_MIN]
        if utf16:
            # Word ends paragraphs with \r: as line ends, a letter per paragraph stays apart
            runs += [m.decode("utf-16-le", "replace").replace("\r\n", "\n").replace("\r", "\n")
                     for m in _RUN16.findall(piece[:len(piece) // 2 * 2])]
        if runs:
            yield "\n".join(runs) + "\n"
