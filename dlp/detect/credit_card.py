"""Payment card numbers (PAN): Luhn-valid, with a real issuer prefix and that issuer's length.

No label is needed in free text: a random 13-19 digit number passes Luhn 1 time in 10, and
must also start with an issuer prefix and have that issuer's length, and be written in a
card grouping (contiguous, 4-4-4-4, Amex 4-6-5, Diners 4-6-4, 19 digits 4-4-4-4-3). A
decimal fraction or a longer code that merely contains such digits is not a card. A card
number is data whose leak can cause financial loss (APPI: reportable even for one person)
and it names its holder: ``identifies`` is True.
"""

import regex
from stdnum import luhn

from dlp.detect import context
from dlp.detect.mask import digits_keep_last
from dlp.model import Finding

ID = "credit_card"
LABELS = regex.compile(
    r"(?<!マイナンバー|個人番号|ポイント|診察|会員|社員|職員|学生)カード番号|^クレジットカード$|"
    r"card[ _-]?(?:no|num(?:ber)?s?|#)(?![a-z])|^credit[ _-]?card$|^(?:cc|pan)$|"
    r"(?<![a-z])cc[ _-]?(?:no|num(?:ber)?)(?![a-z])",
    regex.IGNORECASE,
)
"""Names the number column only (not 'card holder', 'card type', クレジットカード名義,
マイナンバーカード番号 or a point card's number)."""
DIGIT_LENGTHS = frozenset(range(13, 20))

# (first digits from, to, inclusive; compared on the same number of leading digits), lengths
_ISSUERS: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),                       # Visa
    (51, 55, frozenset({16})),                             # Mastercard
    (2221, 2720, frozenset({16})),                         # Mastercard 2-series
    (34, 34, frozenset({15})),                             # American Express
    (37, 37, frozenset({15})),
    (3528, 3589, frozenset(range(16, 20))),                # JCB
    (300, 305, frozenset(range(14, 20))),                  # Diners Club
    (36, 36, frozenset(range(14, 20))),
    (38, 38, frozenset(range(14, 20))),
    (6011, 6011, frozenset(range(16, 20))),                # Discover
    (644, 649, frozenset(range(16, 20))),
    (65, 65, frozenset(range(16, 20))),
    (62, 62, frozenset(range(16, 20))),                    # UnionPay
)
# Printed groupings besides contiguous digits, as group lengths.
_GROUPINGS = frozenset({(4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3)})
_CELL = regex.compile(r"\d[\d -]*\d")


def _issuer_ok(digits: str) -> bool:
    n = len(digits)
    for low, high, lengths in _ISSUERS:
        width = len(str(low))
        if low <= int(digits[:width]) <= high and n in lengths:
            return True
    return False


def _grouping_ok(token: str) -> bool:
    """Contiguous digits, or one separator (space or hyphen) used between card-shaped groups."""
    if token.isdigit():
        return True
    sep = " " if " " in token else "-"
    if sep == " " and "-" in token:
        return False
    return tuple(len(g) for g in token.split(sep)) in _GROUPINGS


def _finding(token: str, digits: str) -> Finding | None:
    if len(digits) not in DIGIT_LENGTHS or not _grouping_ok(token):
        return None
    if not _issuer_ok(digits) or not luhn.is_valid(digits):
        return None
    return Finding(ID, digits, digits_keep_last(digits), identifies=True)


def from_number(token: str, digits: str, text: str, start: int, end: int) -> Finding | None:
    """A number-like token from the scanner: a card if grouping, issuer, length and Luhn fit."""
    span = context.token_span(token, start, end, text)
    if span is None:
        return None
    token, start, end = span
    return _finding(token, digits)


def check(value: str) -> Finding | None:
    """A cell labelled as a card number: the whole value must be one card number."""
    v = value.strip()
    if not _CELL.fullmatch(v):
        return None
    return _finding(v, v.replace(" ", "").replace("-", ""))
