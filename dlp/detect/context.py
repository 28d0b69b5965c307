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


_DIGIT = regex.compile(r"[0-9]")


def _ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def isolated(text: str, start: int, end: int) -> bool:
    """Not part of a longer code, a decimal fraction or a dotted/hyphenated identifier
    (Japanese letters may touch it: ``住所は100-0001``)."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if _ascii_alnum(before) or before in "._-+/" or _ascii_alnum(after) or after in "_-/":
        return False
    return not (after == "." and text[end + 1:end + 2].isdigit())


def token_span(token: str, start: int, end: int, text: str) -> tuple[str, int, int] | None:
    """A scanner token without the brackets the scanner keeps around a number, with its span;
    None when the number is not isolated (see ``isolated``)."""
    if token.startswith("("):
        token, start = token[1:], start + 1
    if token.endswith(")"):
        token, end = token[:-1], end - 1
    return (token, start, end) if isolated(text, start, end) else None


def label_before(text: str, start: int, label: regex.Pattern[str]) -> bool:
    """A label stands within ``WINDOW`` characters before the number with no other digits
    between them: the label names the first number after it, not the next ones."""
    found = list(label.finditer(text, max(0, start - WINDOW), start))
    return bool(found) and not _DIGIT.search(text, found[-1].end(), start)
