"""Where in a text the detectors must look: two RE2 passes for all of them.

Most of an upload has no personal data, and every detector needs something rare to start
from: a number-like token with a wanted digit count, an ``@``, a prefecture name, a birth
label, a gate word. Each text detector declares that start as ``ANCHOR`` (RE2 syntax) and
how far from it its findings can lie as ``REACH``; ``numbers.CANDIDATE`` does the same for
the numeric detectors. The anchors are compiled into two RE2 patterns (DFAs: one look at
each byte, ~600 MB/s whatever the text; see ``Prefilter``), and only the windows around
their matches are handed to the exact, slower ``re``/``regex`` passes. The anchors are
supersets of what the detectors accept (the exact passes still decide), so a window never
loses a finding; the tests check that scanning windows and scanning everything find the
same values. A window edge never cuts a number-like run or an ASCII word: a cut one could
read as a shorter valid number, or as a label (``IBANS`` cut to ``IBAN``).

RE2 works on UTF-8 bytes: the text is encoded once, and match offsets are turned back into
character offsets by decoding the bytes between consecutive matches (linear in the text).
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import NamedTuple

import re2

from dlp.detect import numbers

NUMBERS = "numbers"
"""The window key of the numeric detectors (they share one token pass)."""
NUMBER_MARGIN = 64
"""Characters kept around a numeric candidate: longer than any token, so a candidate that
RE2 skipped because it overlapped the previous match still falls in that match's window."""


class _Edge(NamedTuple):
    """The characters a window edge must not fall between: as a set (to walk back) and as a
    run pattern (to go forward, in C)."""

    chars: frozenset[str]
    run: re.Pattern[str]


_NUMBER_EDGE = _Edge(frozenset("0123456789()/- +"), re.compile(r"[0-9()/\- +]*"))
_WORD_EDGE = _Edge(frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"),
                   re.compile(r"[A-Za-z0-9_]*"))
DENSE_CHECK = 64
"""Numeric candidates between two looks at their density."""
DENSE_SPACING = 512
"""Characters per candidate (numeric, or one detector's anchors) under which a text is dense
in them: the rest of it is one window for that detector (its own pass runs over it in C,
where a window per candidate would cost a Python round trip into RE2 each: a table whose
every row holds an id, an amount or a prefecture)."""
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
        self._options = options
        self.numbers = re2.compile(numbers.CANDIDATE.encode(), options) if numeric else None
        self.owners = tuple(m.ID for m in textual)
        self.reach = {m.ID: m.REACH for m in textual}
        self._anchor_of = {m.ID: m.ANCHOR for m in textual}
        self._subsets: dict[tuple[str, ...], re2._Regexp] = {}
        self.anchors = self._compile(self.owners) if textual else None

    def _compile(self, owners: tuple[str, ...]) -> re2._Regexp:
        """The alternation of these owners' anchors (one group each, in this order)."""
        pattern = self._subsets.get(owners)
        if pattern is None:
            pattern = re2.compile("|".join(f"({self._anchor_of[o]})" for o in owners).encode(), self._options)
            if pattern.groups != len(owners):  # a group inside an ANCHOR would misroute windows
                raise ValueError("a detector ANCHOR must not contain capturing groups")
            self._subsets[owners] = pattern
        return pattern

    def windows(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """For each detector id (and ``NUMBERS``), the merged character spans to scan."""
        spans: dict[str, list[tuple[int, int]]] = {}
        if self.numbers is None and self.anchors is None:
            return spans
        if self.numbers is not None:
            own: list[tuple[int, int]] = []
            cursor = _Cursor(text)
            pos = 0
            count, checked_at = 0, 0
            while (found := cursor.search(self.numbers, pos)) is not None:
                start, end, _m = found
                count += 1
                if count % DENSE_CHECK == 0:
                    if start - checked_at < DENSE_CHECK * DENSE_SPACING:
                        _add_window(own, text, start, len(text), NUMBER_MARGIN, _NUMBER_EDGE)
                        break
                    checked_at = start
                _add_window(own, text, start, end, NUMBER_MARGIN, _NUMBER_EDGE)
                # A window ends where number-like characters end, so no candidate that starts
                # inside it reaches beyond it: go on from its end, not from each match's
                # (a text made of one long run of numbers has one match, not one per group).
                pos = max(end, own[-1][1])
            if own:
                spans[NUMBERS] = own
        if self.anchors is not None:
            owners, reaches = self.owners, self.reach
            pattern = self.anchors
            cursor = _Cursor(text)
            pos = 0
            seen: dict[str, list[int]] = {}   # owner -> [anchors found, where density was last looked at]
            # one character on from each match's start: an anchor overlapping another
            # (``borName``: born, Name) is found too
            while (found := cursor.search(pattern, pos)) is not None:
                start, end, m = found
                owner = owners[m.lastindex - 1]
                pos = start + 1
                counted = seen.get(owner)
                if counted is None:
                    counted = seen[owner] = [0, 0]
                counted[0] += 1
                if counted[0] % DENSE_CHECK == 0:
                    if start - counted[1] < DENSE_CHECK * DENSE_SPACING:
                        # dense (a prefecture on every row of an address list): the rest of the
                        # text is this owner's window, and the search goes on without its anchor
                        _add_window(spans.setdefault(owner, []), text, start, len(text), reaches[owner], _WORD_EDGE)
                        owners = tuple(o for o in owners if o != owner)
                        if not owners:
                            break
                        pattern = self._compile(owners)
                        continue
                    counted[1] = start
                _add_window(spans.setdefault(owner, []), text, start, end, reaches[owner], _WORD_EDGE)
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


def _add_window(own: list[tuple[int, int]], text: str, start: int, end: int, reach: int, edge: _Edge) -> None:
    """Add the window of ``reach`` characters around a match to a detector's sorted windows,
    widened so that its edges do not fall inside an ``edge`` run, and merged with the last
    window it touches. A new window walks back no further than the last one's end, so no
    character is walked over twice however long the run."""
    covered = own[-1][1] if own else 0
    lo, hi = max(0, start - reach), min(len(text), end + reach)
    if hi > covered:
        chars = edge.chars
        while lo > covered and text[lo - 1] in chars:
            lo -= 1
        hi = edge.run.match(text, hi).end()
    if own and lo <= covered:
        own[-1] = (own[-1][0], max(covered, hi))
    else:
        own.append((lo, hi))
