"""Where in a text the detectors must look: one RE2 pass for all of them.

Most of an upload has no personal data, and every detector needs something rare to start
from: a number-like token with a wanted digit count, an ``@``, a prefecture name, a birth
label, a gate word. Each text detector declares that start as ``ANCHOR`` (RE2 syntax) and
how far from it its findings can lie as ``REACH``; ``numbers.CANDIDATE`` does the same for
the numeric detectors. All anchors are compiled into one RE2 alternation (a DFA: one look at
each byte, ~600 MB/s whatever the text), and only the windows around their matches are
handed to the exact, slower ``re``/``regex`` passes. The anchors are supersets of what the
detectors accept (the exact passes still decide), so a window never loses a finding; the
tests check that scanning windows and scanning everything find the same values.

RE2 works on UTF-8 bytes: the text is encoded once, and match offsets are turned back into
character offsets by decoding the bytes between consecutive matches (linear in the text).
"""

from __future__ import annotations

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
    """The compiled anchors of a set of detectors."""

    def __init__(self, textual: tuple[ModuleType, ...], numeric: bool):
        parts: list[str] = []
        self.groups: list[str] = []
        self.reach: dict[str, int] = {}
        if numeric:
            parts.append(numbers.CANDIDATE)
            self.groups.append(NUMBERS)
        for m in textual:
            parts.append(m.ANCHOR)
            self.groups.append(m.ID)
            self.reach[m.ID] = m.REACH
        options = re2.Options()
        options.max_mem = _MAX_MEM
        source = "|".join(f"({p})" for p in parts)
        self.pattern = re2.compile(source.encode(), options) if parts else None

    def windows(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """For each detector id (and ``NUMBERS``), the merged character spans to scan."""
        if self.pattern is None:
            return {}
        ascii_only = text.isascii()
        data = text.encode() if ascii_only else text.encode("utf-8", "surrogatepass")
        spans: dict[str, list[tuple[int, int]]] = {}
        groups = self.groups
        size = len(text)
        last_byte = last_char = 0
        for m in self.pattern.finditer(data):
            start, end = m.span()
            if not ascii_only:  # byte offsets → character offsets, decoding forward only
                last_char += len(data[last_byte:start].decode("utf-8", "surrogatepass"))
                end_char = last_char + len(data[start:end].decode("utf-8", "surrogatepass"))
                last_byte, start, end = end, last_char, end_char
                last_char = end
            owner = groups[m.lastindex - 1]
            own = spans.setdefault(owner, [])
            if owner == NUMBERS:
                covered = own[-1][1] if own else 0
                lo, hi = max(0, start - NUMBER_MARGIN), min(size, end + NUMBER_MARGIN)
                if hi > covered:  # each character is walked over once, however long the run
                    lo = _run_start(text, lo) if lo > covered else covered
                    hi = _run_end(text, hi)
            else:
                reach = self.reach[owner]
                lo, hi = max(0, start - reach), min(size, end + reach)
            if own and lo <= own[-1][1]:
                own[-1] = (own[-1][0], max(own[-1][1], hi))
            else:
                own.append((lo, hi))
        return spans


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
