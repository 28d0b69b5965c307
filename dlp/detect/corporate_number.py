"""Corporate Number (法人番号): the 13-digit number the National Tax Agency gives companies.

The first digit is a check digit (``stdnum.jp.cn``). The number is public data about an
organisation, not a person, so a finding never makes a record a person. It is still worth
counting (a customer list of companies), but about 1 in 9 random 13-digit numbers pass the
check and 13 digits is also the length of every JAN/EAN barcode, so in free text a label
(法人番号, corporate number) must stand near it.

会社法人等番号 is not a label here: it is the 12-digit commercial-registry number (the
corporate number is its check digit plus those 12 digits), a different value.
"""

from __future__ import annotations

import regex
from stdnum.jp import cn

from dlp.detect.context import near
from dlp.detect.mask import digits_keep_last
from dlp.model import Finding

ID = "corporate_number"
LABELS = regex.compile(r"法人番号|corporat(?:e|ion)[ _-]?(?:number|no(?![a-z]))", regex.IGNORECASE)
DIGIT_LENGTHS = frozenset({13})
# 1234567890123, 1-2345-6789-0123 or 1 2345 6789 0123 (one separator throughout).
_SHAPE = regex.compile(r"\d{13}|\d([ -])\d{4}\1\d{4}\1\d{4}")
_SEPARATORS = str.maketrans("", "", " -")


def _finding(digits: str) -> Finding | None:
    if len(digits) != 13 or not digits.isdigit() or len(set(digits)) == 1:
        return None                             # 9999999999999 passes the check: a placeholder
    if not cn.is_valid(digits):
        return None
    return Finding(ID, digits, digits_keep_last(digits), identifies=False)


def from_number(token: str, digits: str, text: str, start: int, end: int) -> Finding | None:
    """A 13-digit token in free text: right shape, valid check digit and a label nearby."""
    if not _SHAPE.fullmatch(token):
        return None
    f = _finding(digits)
    return f if f is not None and near(text, start, end, LABELS) else None


def check(value: str) -> Finding | None:
    """A cell labelled as a corporate number: the whole value is one number."""
    return _finding(value.strip().translate(_SEPARATORS))
