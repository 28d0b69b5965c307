"""RTF: text via striprtf, with the document's code page (\\ansicpg932 and \\fcharset128 fonts
carry Japanese as \\'xx escapes of CP932 bytes, or as \\uN characters).

Pictures and embedded objects are hex dumps that make up most of a large RTF; they are cut
out first with a brace scan (C speed), so striprtf's per-character loop only sees the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from striprtf.striprtf import rtf_to_text

from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import Event, Problem, describe
from dlp.extract.text import str_items

_HEAVY = re.compile(r"\{\\\*?\\(?:pict|objdata|themedata|colorschememapping|datastore|blipuid|bin)\b")
_BRACE = re.compile(r"\\[{}\\]|[{}]")
MAX_TEXT = 32 << 20
"""RTF characters (after pictures are cut) converted at most; more is refused as too large."""


def strip_heavy(rtf: str) -> str:
    """``rtf`` without picture and object groups (matched braces, escaped braces skipped)."""
    out: list[str] = []
    pos = 0
    for m in _HEAVY.finditer(rtf):
        if m.start() < pos:
            continue
        depth = 0
        end = len(rtf)
        for b in _BRACE.finditer(rtf, m.start()):
            tok = b.group()
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if depth == 0:
                    end = b.end()
                    break
        out.append(rtf[pos:m.start()])
        pos = end
    out.append(rtf[pos:])
    return "".join(out)


def rtf_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    rtf = strip_heavy(data.decode("latin-1"))
    if len(rtf) > MAX_TEXT:
        raise Uninspectable("too_large", f"{where}: RTF text of {len(rtf)} characters exceeds {MAX_TEXT}")
    budget.check_time()
    try:
        text = rtf_to_text(rtf, encoding="cp932", errors="replace")
    except Exception as e:  # striprtf on damaged input
        raise Uninspectable("corrupt", f"{where}: cannot read RTF ({describe(e)})") from None
    yield from str_items(text, where, budget)
    depth = 0
    for b in _BRACE.finditer(rtf):
        depth += {"{": 1, "}": -1}.get(b.group(), 0)
    if depth > 0:
        yield Problem("corrupt", f"{where}: truncated RTF ({depth} groups not closed)")
