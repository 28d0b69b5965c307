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

import re
from types import ModuleType

import re2

from dlp.detect import numbers

NUMBERS = "numbers"
"""The window key of the numeric detectors (they share one token pass)."""
NUMBER_MARGIN = 64
"""Characters kept around a numeric candidate: longer than any token, so a candidate that
RE2 skipped because it overlapped the previous match still falls in that match's window."""
_TOKEN_CHARS = frozenset("0123456789()/- +")
_RUN = re.compile(r"[0-9()/\- +]*")
_WORD_RUN = re.compile(r"[A-Za-z0-9_]*")
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
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
        size = len(text)
        if self.numbers is not None:
            own: list[tuple[int, int]] = []
            cursor = _Cursor(text)
            pos = 0
            while (found := cursor.search(self.numbers, pos)) is not None:
                start, end, _m = found
                covered = own[-1][1] if own else 0
                lo, hi = max(0, start - NUMBER_MARGIN), min(size, end + NUMBER_MARGIN)
                if hi > covered:  # each character is walked over once, however long the run
                    lo = _run_start(text, lo) if lo > covered else covered
                    hi = _run_end(text, hi)
                _extend(own, lo, hi)
                # A window ends where number-like characters end, so no candidate that starts
                # inside it reaches beyond it: go on from its end, not from each match's
                # (a text made of one long run of numbers has one match, not one per group).
                pos = max(end, own[-1][1])
            if own:
                spans[NUMBERS] = own
        if self.anchors is not None:
            owners, reaches = self.owners, self.reach
            cursor = _Cursor(text)
            pos = 0
            # one character on from each match's start: an anchor overlapping another
            # (``borName``: born, Name) is found too
            while (found := cursor.search(self.anchors, pos)) is not None:
                start, end, m = found
                owner = owners[m.lastindex - 1]
                reach = reaches[owner]
                own = spans.setdefault(owner, [])
                covered = own[-1][1] if own else 0
                lo, hi = max(0, start - reach), min(size, end + reach)
                if hi > covered:  # never cut a word in two (IBANS cut to IBAN would read as the word)
                    lo = _word_start(text, lo, covered) if lo > covered else lo
                    hi = _WORD_RUN.match(text, hi).end()
                _extend(own, lo, hi)
                pos = start + 1
        return spans


class _Cursor:
    """RE2 searches over the UTF-8 bytes of a text, in character offsets. The text is
    encoded once; offsets are converted by encoding or decoding only the stretch since the
    last match (positions only move forward, so the whole walk is linear)."""

    def __init__(self, text: str):
        self.text = text
        self.ascii = text.isascii()
        self.data = text.encode() if self.ascii else text.encode("utf-8", "surrogatepass")
        self.char = self.byte = 0   # a bookmark: text[:char] encodes to data[:byte]

    def search(self, pattern: re2._Regexp, pos: int) -> tuple[int, int, re2._Match] | None:
        """The first match at or after character ``pos``: (start, end, match)."""
        if pos > len(self.text):
            return None
        m = pattern.search(self.data, pos if self.ascii else self._byte(pos))
        if m is None:
            return None
        start, end = m.span()
        if self.ascii:
            return start, end, m
        self.char += len(self.data[self.byte:start].decode("utf-8", "surrogatepass"))
        self.byte = start
        return self.char, self.char + len(self.data[start:end].decode("utf-8", "surrogatepass")), m

    def _byte(self, char: int) -> int:
        self.byte += len(self.text[self.char:char].encode("utf-8", "surrogatepass"))
        self.char = char
        return self.byte


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


def _word_start(text: str, lo: int, floor: int) -> int:
    """Move ``lo`` back to the start of the ASCII word it cuts, not below ``floor`` (the end of
    the window before, so no character is walked over twice)."""
    chars = _WORD_CHARS
    while lo > floor and text[lo - 1] in chars:
        lo -= 1
    return lo


def _run_end(text: str, hi: int) -> int:
    """Move ``hi`` on to the end of the number-like run it cuts, if any."""
    return _RUN.match(text, hi).end()
