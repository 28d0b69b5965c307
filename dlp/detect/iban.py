"""International Bank Account Numbers.

Validated with ``stdnum.iban``: a known country code, that country's length and BBAN
format, and the ISO 7064 mod-97 check (a random string passes 1 time in 97, after the
format checks). Printed in groups of four (``DE89 3704 0044 0532 0130 00``) or contiguous.
An IBAN is often a company's account, so it does not make a record a person on its own.
"""

from collections.abc import Iterator

import regex
from stdnum import iban

from dlp.model import Finding

ID = "iban"
LABELS = regex.compile(r"(?<![a-z])iban(?![a-z])|国際銀行口座番号", regex.IGNORECASE)
ANCHOR = r"\b(?i:iban)\b"
"""ISO 13616 prints an IBAN after the word IBAN; searching only near it keeps precision
(country code + digits shapes are common in part numbers) and the scan fast."""
WORD_REACH = 200
"""The word IBAN must stand within this many characters of the number's start or end."""
REACH = WORD_REACH + 48
"""Characters around the word that the prefilter hands to ``find``: the word's reach plus
the longest IBAN with spaces (43 characters)."""
_WORD = regex.compile(r"(?<![A-Za-z0-9_])[Ii][Bb][Aa][Nn](?![A-Za-z0-9_])")
"""``ANCHOR`` as ``find`` checks it (the prefilter only narrows where to look)."""
PATTERN = regex.compile(
    # the boundary look-behind comes after the cheap prefix: twice the scan speed
    r"[A-Z]{2}[0-9]{2}(?<![A-Za-z0-9][A-Z]{2}[0-9]{2})(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
)
"""A candidate: country, check digits, then groups of four (the shortest IBAN has 15
characters, the longest 34)."""


def _mask(compact: str) -> str:
    return compact[:2] + "*" * (len(compact) - 6) + compact[-4:]


def _finding(raw: str) -> tuple[int, Finding] | None:
    """The longest valid IBAN at the start of ``raw`` that ends at a group boundary, and its
    length in ``raw``: a candidate may have swallowed a following word (``… 0130 00 BIC``)
    or the next IBAN."""
    ends = [i for i, c in enumerate(raw) if c == " "] + [len(raw)]
    for end in reversed(ends):
        compact = raw[:end].replace(" ", "")
        if len(compact) >= 15 and iban.is_valid(compact):
            return end, Finding(ID, compact, _mask(compact))
    return None


def find(text: str) -> Iterator[tuple[int, Finding]]:
    """Yield (offset, finding) for every valid IBAN in folded text."""
    pos = 0
    while (m := PATTERN.search(text, pos)) is not None:
        found = _finding(m.group())
        if found is None or not _WORD.search(text, max(0, m.start() - WORD_REACH), m.end() + WORD_REACH):
            pos = m.start() + 1   # the next group may start an IBAN (``AB12 DE89 3704 …``)
            continue
        length, f = found
        yield m.start(), f
        pos = m.start() + length  # IBANs one space apart: the next one starts after this one


def check(value: str) -> Finding | None:
    """A cell labelled IBAN: the whole value must be one IBAN (upper or lower case)."""
    v = value.strip().upper()
    found = _finding(v) if PATTERN.fullmatch(v) else None
    return found[1] if found else None
