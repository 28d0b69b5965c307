"""One pass over a text for every number-like token, shared by all numeric detectors.

Phones, My Numbers, cards, postcodes, SSNs and dates are all digits with separators; running
a regex per detector over a 50 MB upload would cost a pass each. Here one simple pattern
(stdlib ``re``: a leading character class lets it skip non-digits fast) finds each run of at
least 7 digit-or-separator characters; boundaries are then checked in Python, and the scanner
hands each token to the detectors whose ``DIGIT_LENGTHS`` include its digit count.

A token may contain single spaces between groups (``4111 1111 1111 1111``, ``+81 90 1234
5678``); because two numbers separated by a space then merge, the space-free pieces of such
a token are offered as tokens too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_RUN = re.compile(r"[0-9][0-9()./ -]{5,}[0-9]\)?")
_NON_DIGITS = str.maketrans("", "", " -./()+")
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def tokens(text: str) -> Iterator[tuple[str, str, int, int]]:
    """Yield (token, digits, start, end) for number-like tokens in folded text."""
    alnum = _ALNUM
    strip = _NON_DIGITS
    for m in _RUN.finditer(text):
        start, end = m.span()
        if start and text[start - 1] in alnum:
            continue  # part of an identifier such as A123456789 or a longer word
        if end < len(text) and text[end] in alnum:
            continue
        tok = m.group()
        if start >= 1 and text[start - 1] == "(":
            start -= 1
            tok = "(" + tok
        plus = text.rfind("+", max(0, start - 5), start)
        if plus >= 0 and all(c.isdigit() or c in " -" for c in text[plus + 1:start]):
            tok = text[plus:end]
            start = plus
        yield tok, tok.translate(strip), start, end
        if " " in tok and tok[0] != "+":  # after +CC the groups belong to one number
            offset = 0
            for piece in tok.split(" "):
                if len(piece) >= 4:
                    digits = piece.translate(strip)
                    if digits:
                        yield piece, digits, start + offset, start + offset + len(piece)
                offset += len(piece) + 1
