"""U.S. Social Security Numbers.

An SSN has no check digit, so only its structure is validated (``stdnum.us.ssn``: area not
000, 666 or 9xx (which holds the advertising range 987-65-432x), group not 00, serial not
0000, and the numbers known to be invalid because they were published). Nine bare digits
are far too common (order numbers, Japanese postcodes plus two digits), so they count only
after a label (SSN, Social Security) with no other number between; the 3-2-4 hyphenated
form is distinctive enough on its own. An SSN names one person: ``identifies`` is True.
"""

import regex
from stdnum.us import ssn

from dlp.detect import context
from dlp.model import Finding

ID = "us_ssn"
TYPED_BY_CONTENT = False
"""A column is this kind only when its header says so: most random nine-digit numbers pass the SSN rules."""
LABELS = regex.compile(
    r"(?<![a-z])ssn(?![a-z])|social[ _-]?security|社会保障番号|ソーシャルセキュリティ",
    regex.IGNORECASE,
)
DIGIT_LENGTHS = frozenset({9})
_HYPHENATED = regex.compile(r"\d{3}-\d{2}-\d{4}")
_CELL = regex.compile(r"\d{3}([- ]?)\d{2}\1\d{4}")


def _finding(digits: str) -> Finding | None:
    if len(digits) != 9 or not ssn.is_valid(digits):
        return None
    return Finding(ID, digits, f"***-**-{digits[-4:]}", identifies=True)


def from_number(token: str, digits: str, text: str, start: int, end: int) -> Finding | None:
    """A 9-digit token: an SSN if written 3-2-4 with hyphens, or contiguous beside a label."""
    span = context.token_span(token, start, end, text)
    if span is None:
        return None
    token, start, end = span
    if _HYPHENATED.fullmatch(token) or (token.isdigit() and context.label_before(text, start, LABELS)):
        return _finding(digits)
    return None


def check(value: str) -> Finding | None:
    """A cell labelled as an SSN (the label is the context): 3-2-4 or nine digits."""
    v = value.strip()
    if not _CELL.fullmatch(v):
        return None
    return _finding(v.replace("-", "").replace(" ", ""))
