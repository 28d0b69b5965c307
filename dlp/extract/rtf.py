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
MAX_DEPTH = 1000
"""Groups open at once: documents nest a few dozen deep; striprtf keeps a frame per open
group (8 MB of ``{`` took 770 MB)."""
FONTTABLE_MAX = 16 * 1024
"""A font table longer than this is dropped before striprtf reads it (its entry regex is
quadratic on a long line: 64 KiB took 6 s); the text is then read in the default code page."""
_FIELD = re.compile(r"\\field\{")
_FONTTABLE = re.compile(r"\{[^{}]*\\fonttbl")


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


def _group_end(rtf: str, start: int, limit: int) -> int:
    """The end of the group opened at ``start``, or -1 if it does not end within ``limit``."""
    depth = 0
    for b in _BRACE.finditer(rtf, start, min(len(rtf), start + limit)):
        tok = b.group()
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
            if depth == 0:
                return b.end()
    return -1


def defused(rtf: str) -> str:
    """``rtf`` as striprtf can read it in linear time: its hyperlink regex backtracks
    catastrophically on ``{\\field{\\*\\fldinst{ … HYPERLINK "`` (64 KiB took 80 s), so
    ``\\field{`` is broken by a line end (RTF ignores them; the link text stays, its URL
    is no longer appended); a font table over FONTTABLE_MAX is dropped."""
    rtf = _FIELD.sub("\\\\field\n{", rtf)
    pieces = []
    pos = 0
    for m in _FONTTABLE.finditer(rtf):  # striprtf reads the first font table
        if _group_end(rtf, m.start(), FONTTABLE_MAX) >= 0:
            break
        pieces.append(rtf[pos:m.start()] + "{")
        pos = m.end()
    return "".join(pieces) + rtf[pos:] if pieces else rtf


def rtf_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    rtf = strip_heavy(data.decode("latin-1"))
    if len(rtf) > MAX_TEXT:
        raise Uninspectable("too_large", f"{where}: RTF text of {len(rtf)} characters exceeds {MAX_TEXT}")
    depth = 0
    for n, b in enumerate(_BRACE.finditer(rtf)):
        tok = b.group()
        if tok == "{":
            depth += 1
            if depth > MAX_DEPTH:
                raise Uninspectable("corrupt", f"{where}: RTF groups nested deeper than {MAX_DEPTH} levels")
        elif tok == "}":
            depth -= 1
        if n & 0xFFFF == 0:
            budget.check_time()
    budget.check_time()
    try:
        text = rtf_to_text(defused(rtf), encoding="cp932", errors="replace")
    except Exception as e:  # striprtf on damaged input
        raise Uninspectable("corrupt", f"{where}: cannot read RTF ({describe(e)})") from None
    yield from str_items(text, where, budget)
    if depth > 0:
        yield Problem("corrupt", f"{where}: truncated RTF ({depth} groups not closed)")
