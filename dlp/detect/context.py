"""Context around a free-text candidate: some identifiers (My Number, passport, licence) are
only findings when a label such as 個人番号 or "passport" stands near them, because their
format alone matches too many innocent numbers (1 in 11 random 12-digit ids passes the My
Number check digit)."""

from __future__ import annotations

import regex

WINDOW = 40
"""Characters before (and after) a candidate searched for its label."""


def near(text: str, start: int, end: int, label: regex.Pattern[str], window: int = WINDOW) -> bool:
    """True when ``label`` occurs within ``window`` characters before ``start`` or after ``end``
    on the same line or the line before (a header line above a value counts)."""
    before = text[max(0, start - window):start]
    after = text[end:end + window // 2]
    nl = after.find("\n")
    if nl >= 0:
        after = after[:nl]
    return bool(label.search(before) or label.search(after))
