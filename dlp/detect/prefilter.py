"""Where in a text the detectors must look: two RE2 passes for all of them.

Most of an upload has no personal data, and every detector needs something rare to start
from: a number-like token with a wanted digit count, an ``@``, a prefecture name, a birth
label, a gate word. Each text detector declares that start as ``ANCHOR`` (RE2 syntax) and
how far from it its findings can lie as ``REACH``; ``numbers.CANDIDATE`` does the same for
the numeric detectors. The anchors are compiled into two RE2 patterns (DFAs: one look at
each byte, ~600 MB/s whatever the text; see ``Prefilter``), and only the windows around
their matches are handed to the exact, slower ``re``/``regex`` passes. The anchors are supersets of what the
detectors accept (the exact passes still decide), so a window never loses a finding; the
tests check that scanning windows and scanning everything find the same values.

RE2 works on UTF-8 bytes: the text is encoded once, and match offsets are turned back into
character offsets by decoding the bytes between consecutive matches (linear in the text).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import re2

from dlp.detect import numbers

NUMBERS = "numbers"
"""The window key of the numeric detectors (they share one token pass)."""
NUMBER_MARGIN = 64
"""Characters kept around a numeric candidate: longer than any token, so a candidate that
RE2 skipped because it overlapped the previous match still falls in that match's window."""
_TOKEN_CHARS = frozenset("0123456789()/- +")
_MAX_MEM = 64 << 20
"""RE2's memory for the combined DFA (the default 8 MiB makes it fall back to the slow NFA)."""


class Prefilter:
    """The compiled anchors of a set of detectors: two RE2 patterns, one for the numeric
    candidates and one alternation of the text detectors' anchors. Two, because RE2's
    matches do not overlap and a numeric candidate takes in the character on each side of
    its run: in one alternation it would hide an anchor that touches the number
    (``09012345678@docomo.ne.jp``, ``東京都03-1234-5678``) and the other way round."""

    def __init__(self, textual: tuple[ModuleType, ...], numeric: bool):
        options = re2.Options()
        options.max_mem = _MAX_MEM
        self.numbers = re2.compile(numbers.CANDIDATE.encode(), options) if numeric else None
        self.owners = tuple(m.ID for m in textual)
        self.reach = {m.ID: m.REACH for m in textual}
        self.anchors = None
        if textual:
            self.anchors = re2.compile("|".join(f"({m.ANCHOR})" for m in textual).encode(), options)
            if self.anchors.groups != len(textual):  # a group inside an ANCHOR would misroute windows
                raise ValueError("a detector ANCHOR must not contain capturing groups")

    def windows(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """For each detector id (and ``NUMBERS``), the merged character spans to scan."""
        spans: dict[str, list[tuple[int, int]]] = {}
        if self.numbers is None and self.anchors is None:
            return spans
        ascii_only = text.isascii()
        data = text.encode() if ascii_only else text.encode("utf-8", "surrogatepass")
        size = len(text)
        if self.numbers is not None:
            own: list[tuple[int, int]] = []
            for start, end, _m in _char_spans(self.numbers, data, ascii_only):
                covered = own[-1][1] if own else 0
                lo, hi = max(0, start - NUMBER_MARGIN), min(size, end + NUMBER_MARGIN)
                if hi > covered:  # each character is walked over once, however long the run
                    lo = _run_start(text, lo) if lo > covered else covered
                    hi = _run_end(text, hi)
                _extend(own, lo, hi)
            if own:
                spans[NUMBERS] = own
        if self.anchors is not None:
            owners, reaches = self.owners, self.reach
            for start, end, m in _char_spans(self.anchors, data, ascii_only, overlapping=True):
                owner = owners[m.lastindex - 1]
                reach = reaches[owner]
                _extend(spans.setdefault(owner, []), max(0, start - reach), min(size, end + reach))
        return spans


def _char_spans(pattern: re2._Regexp, data: bytes, ascii_only: bool, overlapping: bool = False
                ) -> Iterator[tuple[int, int, re2._Match]]:
    """Matches of ``pattern`` in the UTF-8 ``data`` with character offsets (decoding the bytes
    between consecutive match starts: linear in the text). ``overlapping``: the next search
    starts one character after the last match's start, not at its end, so an anchor that
    overlaps another (``borName``: born, Name) is found too."""
    last_byte = last_char = 0
    pos = 0
    while True:
        m = pattern.search(data, pos)
        if m is None:
            return
        start, end = m.span()
        if ascii_only:
            yield start, end, m
        else:
            last_char += len(data[last_byte:start].decode("utf-8", "surrogatepass"))
            last_byte = start
            yield last_char, last_char + len(data[start:end].decode("utf-8", "surrogatepass")), m
        if overlapping:
            pos = start + 1
            while pos < len(data) and 0x80 <= data[pos] < 0xC0:  # to the next character
                pos += 1
        else:
            pos = end if end > start else end + 1


def _extend(own: list[tuple[int, int]], lo: int, hi: int) -> None:
    """Add a span to a detector's sorted spans, merging it with the last one it touches."""
    if own and lo <= own[-1][1]:
        own[-1] = (own[-1][0], max(own[-1][1], hi))
    else:
        own.append((lo, hi))


def _run_start(text: str, lo: int) -> int:
    """Move ``lo`` back to the start of the number-like run it cuts, if any (a cut run could
    look like a shorter, valid number)."""
    chars = _TOKEN_CHARS
    while lo > 0 and text[lo - 1] in chars:
        lo -= 1
    return lo


def _run_end(text: str, hi: int) -> int:
    """Move ``hi`` on to the end of the number-like run it cuts, if any."""
    chars = _TOKEN_CHARS
    size = len(text)
    while hi < size and text[hi] in chars:
        hi += 1
    return hi
