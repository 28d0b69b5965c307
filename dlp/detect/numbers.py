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

# A run of digits and separators (- / ( ) and ") "), or three to five groups of digits
# separated by single spaces (4111 1111 1111 1111, 090 1234 5678). Dots are not separators:
# they make IP addresses and version numbers, not identifiers. The lookahead rejects short
# numbers before the alternation is tried.
_BODY = r"(?:[0-9]{1,3}(?: [0-9]{2,7}){2,4}|(?:[0-9()/-]|\) ){5,}[0-9]\)?)"
_RUN = re.compile(r"(?<![0-9])[0-9](?=[0-9()/ -]{6})" + _BODY)
# The same, without dates and without plain runs of 7-9 digits (order ids, counters: they
# are everywhere in logs) unless a label could stand right before them: a Japanese
# character (〒1000001, 普通 1234567, 郵便番号：1000001) or a colon or # (SSN: 123456789).
# As plain runs only postcodes, bank accounts and SSNs have those lengths, and each of them
# needs such a label. The checks sit after the first digit so the scan keeps its fast start.
_STRICT = re.compile(
    r"[0-9](?<![0-9]{2})(?=[0-9()/ -]{6})"
    r"(?:(?<=[^\x00-\x7f][0-9])|(?<=[^\x00-\x7f][ :][0-9])|(?<=[:#][0-9])|(?<=[:#] [0-9])"
    r"|(?![0-9]{6,8}(?![0-9]|[()/ -][0-9])))"
    r"(?![0-9]{3}[-/][0-9]{1,2}[-/][0-9]{1,2}(?![0-9]))" + _BODY
)
_SEP = r"[()/\-]"
CANDIDATE = (
    # a run of digits and separators, from its first digit or one after a separator, with
    # 7 or 9-19 digits to its end (the digit counts the detectors want; an 8-digit order id
    # or date is not one), or three to five space-separated groups, or a number going on
    # after ") ", or one after a +country code
    rf"(?:^|[^0-9])[0-9](?:{_SEP}*[0-9]){{6}}{_SEP}*(?:[^0-9()/\-]|$)"
    rf"|(?:^|[^0-9])[0-9](?:{_SEP}*[0-9]){{8,18}}{_SEP}*(?:[^0-9()/\-]|$)"
    r"|[0-9]{1,3}(?: [0-9]{2,7}){2,4}|\) [0-9()/\-]|\+[0-9 \-]{0,4}[0-9][0-9()/ \-]{6}"
)
"""Where a strict token with a wanted digit count can be, in RE2 syntax (see prefilter.py):
a superset of what ``tokens(text, lengths, strict=True)`` yields for the lengths the
detectors ask for (7 and 9-19 digits), without look-arounds, which RE2 lacks."""
_NON_DIGITS = str.maketrans("", "", " -/()+")
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def tokens(text: str, lengths: frozenset[int] | None = None, strict: bool = False,
           pos: int = 0, endpos: int | None = None) -> Iterator[tuple[str, str, int, int]]:
    """Yield (token, digits, start, end) for number-like tokens in folded text; with
    ``lengths``, only tokens (or space-separated pieces) whose digit count is wanted; with
    ``strict``, without dates and unlabelled plain 7-9 digit runs. ``pos``/``endpos`` limit
    where tokens start and end (a prefilter window; the text around still counts as context)."""
    alnum = _ALNUM
    strip = _NON_DIGITS
    size = len(text)
    for m in (_STRICT if strict else _RUN).finditer(text, pos, size if endpos is None else endpos):
        tok = m.group()
        if lengths is not None and tok.isdigit() and len(tok) not in lengths:
            continue  # the commonest case: a plain number nobody wants (an order id)
        start, end = m.span()
        if (start and text[start - 1] in alnum) or (end < size and text[end] in alnum):
            continue  # part of an identifier such as A123456789 or a longer word
        digits = tok if tok.isdigit() else tok.translate(strip)
        if start and text[start - 1] in "(+ -":
            if text[start - 1] == "(":
                start -= 1
                tok = "(" + tok
            elif "+" in text[max(0, start - 5):start]:
                plus = text.rfind("+", max(0, start - 5), start)
                if all(c.isdigit() or c in " -" for c in text[plus + 1:start]):
                    tok = text[plus:end]
                    start = plus
                    digits = tok.translate(strip)
                    if lengths is None or len(digits) in lengths:
                        yield tok, digits, start, end
                    continue  # after +CC the groups belong to one number
        if lengths is None or len(digits) in lengths:
            yield tok, digits, start, end
        if " " in tok:
            offset = 0
            for piece in tok.split(" "):
                if len(piece) >= 4:
                    pd = piece.translate(strip)
                    if pd and (lengths is None or len(pd) in lengths):
                        yield piece, pd, start + offset, start + offset + len(piece)
                offset += len(piece) + 1
