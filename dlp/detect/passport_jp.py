"""Japanese passport number (旅券番号): two letters and seven digits (TK1234567, MZ1234567).

Ordinary passports begin with M or T; official and older ones use other letters, so any two
capitals are accepted. There is no check digit and the shape is common in product and
booking codes, so in free text a number is a finding only with a label (旅券番号, パスポート,
passport) near it; in a column or key labelled as a passport number the label is the
context. A passport number names its holder.
"""

from __future__ import annotations

from collections.abc import Iterator

import regex

from dlp.detect.context import near
from dlp.detect.mask import keep_ends
from dlp.model import Finding

ID = "passport_jp"
TYPED_BY_CONTENT = False
"""Typed only by a header: product and booking codes share the two-letters-seven-digits shape."""
LABELS = regex.compile(r"旅券|パスポート|passport", regex.IGNORECASE)
ANCHOR = "旅券|パスポート|(?i:passport)"
"""A passport number needs its label nearby, so texts without one are skipped."""
REACH = 200
PATTERN = regex.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{7}(?![A-Za-z0-9])")
_CELL = regex.compile(r"[A-Z]{2}[0-9]{7}")
_SEPARATORS = str.maketrans("", "", " -")


def _finding(value: str) -> Finding:
    return Finding(ID, value, keep_ends(value), identifies=True)


def find(text: str) -> Iterator[tuple[int, Finding]]:
    """Yield (offset, finding) for every labelled passport number in folded text."""
    for m in PATTERN.finditer(text):
        if len(set(m.group()[2:])) > 1 and near(text, m.start(), m.end(), LABELS):
            yield m.start(), _finding(m.group())


def check(value: str) -> Finding | None:
    """A cell labelled as a passport number: the whole value is one number (any case)."""
    v = value.strip().translate(_SEPARATORS).upper()
    if not _CELL.fullmatch(v) or len(set(v[2:])) == 1:
        return None
    return _finding(v)
