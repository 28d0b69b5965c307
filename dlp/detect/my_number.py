"""My Number (個人番号): the 12-digit Individual Number of every resident of Japan.

The last digit is a check digit (``stdnum.jp.in_``), but it is a weak filter: about 1 in 11
random 12-digit numbers (order ids, tracking numbers, timestamps) pass it. So in free text a
number is a finding only when a label (個人番号, マイナンバー, My Number) stands near it; in a
column or key labelled as a My Number the label is the context. The number alone names a
person, and the My Number Act restricts who may hold it at all.
"""

from __future__ import annotations

import regex
from stdnum.jp import in_

from dlp.detect.context import near
from dlp.detect.mask import digits_keep_last
from dlp.model import Finding

ID = "my_number"
LABELS = regex.compile(r"個人番号|マイナンバー|(?<![a-z])my[ _-]?number", regex.IGNORECASE)
DIGIT_LENGTHS = frozenset({12})
# 123456789018, 1234 5678 9018 or 1234-5678-9018 (one separator throughout).
_SHAPE = regex.compile(r"\d{12}|\d{4}([ -])\d{4}\1\d{4}")
_SEPARATORS = str.maketrans("", "", " -")


def _finding(digits: str) -> Finding | None:
    if len(digits) != 12 or not digits.isdigit() or len(set(digits)) == 1:
        return None                             # 000000000000 passes the check: a placeholder
    if not in_.is_valid(digits):
        return None
    return Finding(ID, digits, digits_keep_last(digits), identifies=True)


def from_number(token: str, digits: str, text: str, start: int, end: int) -> Finding | None:
    """A 12-digit token in free text: right shape, valid check digit and a label nearby."""
    if not _SHAPE.fullmatch(token):
        return None
    f = _finding(digits)
    return f if f is not None and near(text, start, end, LABELS) else None


def check(value: str) -> Finding | None:
    """A cell labelled as a My Number: the whole value is one number."""
    return _finding(value.strip().translate(_SEPARATORS))
