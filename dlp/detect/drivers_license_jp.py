"""Japanese driver's licence number (運転免許証番号): 12 digits that name their holder.

Layout: issuing public-safety commission (2 digits, e.g. 30 Tokyo, 62 Osaka, 00 licences
converted from abroad in early years), year first licensed (2), serial (6), check digit (1),
reissue count (1). The commission code is checked. The check-digit formula in circulation
(weights 5,4,3,2,7,6,5,4,3,2 mod 11) is unofficial: rejecting on it could drop real numbers,
so it is not used; a 12-digit number with a valid commission code is only a finding with a
label (運転免許証番号, 免許証番号, driver's licence) near it in free text, or in a column or
key labelled as a licence number.
"""

from __future__ import annotations

import regex

from dlp.detect.context import near
from dlp.detect.mask import digits_keep_last
from dlp.model import Finding

ID = "drivers_license_jp"
TYPED_BY_CONTENT = False
"""Typed only by a header: about half of random twelve-digit numbers pass the commission test."""
LABELS = regex.compile(
    r"免許証?番号|運転免許|driv(?:er[’']?s?|ing)[ _-]?licen[cs]e", regex.IGNORECASE
)
DIGIT_LENGTHS = frozenset({12})
COMMISSIONS = frozenset(
    "00 10 11 12 13 14 20 21 22 23 24 25 30 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 "
    "60 61 62 63 64 65 70 71 72 73 74 80 81 82 83 90 91 92 93 94 95 96 97".split()
)
"""Public-safety commission codes: Hokkaido's five areas (10-14), then one per prefecture."""
_SEPARATORS = str.maketrans("", "", " -")


def _finding(digits: str) -> Finding | None:
    if len(digits) != 12 or not digits.isdigit() or digits[:2] not in COMMISSIONS:
        return None
    if len(set(digits[2:])) == 1:               # 300000000000 and the like: placeholders
        return None
    return Finding(ID, digits, digits_keep_last(digits), identifies=True)


def from_number(token: str, digits: str, text: str, start: int, end: int) -> Finding | None:
    """A 12 plain digit token in free text with a valid commission code and a label nearby."""
    if token != digits:                         # printed and typed as 12 plain digits
        return None
    f = _finding(digits)
    return f if f is not None and near(text, start, end, LABELS) else None


def check(value: str) -> Finding | None:
    """A cell labelled as a driver's licence number: the whole value is one number."""
    return _finding(value.strip().translate(_SEPARATORS))
