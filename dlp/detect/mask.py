"""Masked forms for evidence: enough for an analyst to recognise the kind and tell values
apart, never enough to recover the value."""

from __future__ import annotations


def digits_keep_last(digits: str, keep: int = 4, group: int = 4) -> str:
    """``4111111111111111`` → ``****-****-****-1111``."""
    hidden = "*" * (len(digits) - keep)
    s = hidden + digits[-keep:]
    parts = [s[max(0, i - group):i] for i in range(len(s), 0, -group)][::-1]
    return "-".join(parts)


def keep_ends(value: str, head: int = 1, tail: int = 1) -> str:
    """``TK1234567`` → ``T*******7``."""
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]
