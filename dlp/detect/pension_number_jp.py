"""Basic Pension Number (基礎年金番号): the 10-digit number of a person's public pension record.

It is written 4-6 (1234-567890) or as 10 plain digits and has no public check digit, so a
number of that shape is a finding only with a label (基礎年金番号, 年金番号, pension number)
near it in free text; in a column or key labelled as a pension number the label is the
context. A 10-digit run is above all the shape of a Japanese landline (0312345678), so the
plain form needs the label right before it on the same line (``年金番号：0123456789``), with
no other label such as 電話 in between; the 4-6 grouping is never a phone's and may take its
label anywhere near. The number names a person.
"""

from __future__ import annotations

import regex

from dlp.detect.context import WINDOW, near
from dlp.detect.mask import digits_keep_last
from dlp.model import Finding

ID = "pension_number_jp"
_LABEL = r"(?:基礎)?年金(?:手帳)?の?番号|(?:basic[ _-]?)?pension[ _-]?(?:number|no(?![a-z])|num(?![a-z])|id(?![a-z]))"
TYPED_BY_CONTENT = False
"""A column is this kind only when its header says so: any column of ten-digit numbers would pass (no check digit)."""
LABELS = regex.compile(_LABEL, regex.IGNORECASE)
DIGIT_LENGTHS = frozenset({10})
_GROUPED = regex.compile(r"\d{4}[ -]\d{6}")
_PLAIN = regex.compile(r"\d{10}")
# The label, then up to 12 characters with no line break, no digits (another value; only a
# length note such as 10桁 may stand between) and no other label word.
_LABEL_JUST_BEFORE = regex.compile(
    rf"(?:{_LABEL})"
    r"(?:(?!番号|電話|携帯|TEL|FAX|phone|mobile|(?<![a-z])(?:No|ID)(?![a-z]))(?:\d{1,2}桁|[^\d\n])){0,12}\Z",
    regex.IGNORECASE,
)
_SEPARATORS = str.maketrans("", "", " -")


def _finding(digits: str) -> Finding | None:
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return None                             # 0000-000000 is a form placeholder
    return Finding(ID, digits, digits_keep_last(digits, group=6), identifies=True)


def from_number(token: str, digits: str, text: str, start: int, end: int) -> Finding | None:
    """A 10-digit token in free text with a pension label (see the module docstring)."""
    if _GROUPED.fullmatch(token):
        labelled = near(text, start, end, LABELS)
    elif _PLAIN.fullmatch(token):
        before = text[max(0, start - WINDOW):start]
        # every label holds 年金 or "pension": most ten-digit numbers have neither before them
        labelled = ("年金" in before or "ension" in before.lower()) and bool(
            _LABEL_JUST_BEFORE.search(text, max(0, start - WINDOW), start))
    else:
        return None
    return _finding(digits) if labelled else None


def check(value: str) -> Finding | None:
    """A cell labelled as a pension number: the whole value is one number."""
    return _finding(value.strip().translate(_SEPARATORS))
