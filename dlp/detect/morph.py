"""Japanese personal names by morphological analysis (MeCab via fugashi, UniDic-lite).

UniDic tags surnames and given names (名詞-固有名詞-人名-姓/名) from a dictionary far larger
than any list we could ship, and reads context (山田 in 株式会社山田商事 is tagged a place
name there). It runs at about 2 MB/s, so the engine uses it only on short strings: lines
that already carry other personal data, and samples of table columns.
"""

from __future__ import annotations

from functools import cache

import fugashi

MAX_CHARS = 400
"""Longest line analysed; a name next to a phone number sits near it."""

HONORIFICS = frozenset(("様", "さん", "殿", "君", "氏", "先生", "さま"))


@cache
def _tagger() -> fugashi.Tagger:
    return fugashi.Tagger()


def names_in(text: str) -> list[tuple[int, str]]:
    """(offset, name) for each personal name: a surname followed by a given name, or a
    surname directly followed by an honorific (山田様)."""
    text = text[:MAX_CHARS]
    words = [(w.surface, w.feature.pos3, w.feature.pos4, w.white_space) for w in _tagger()(text)]
    out: list[tuple[int, str]] = []
    pos = 0
    offsets = []
    for surface, _p3, _p4, ws in words:
        pos += len(ws)
        offsets.append(pos)
        pos += len(surface)
    i = 0
    while i < len(words):
        surface, p3, p4, _ws = words[i]
        if p3 == "人名" and p4 == "姓":
            nxt = words[i + 1] if i + 1 < len(words) else None
            if nxt and nxt[1] == "人名" and nxt[2] == "名":
                sep = " " if nxt[3] else ""
                out.append((offsets[i], f"{surface}{sep}{nxt[0]}"))
                i += 2
                continue
            if nxt and nxt[0] in HONORIFICS:
                out.append((offsets[i], surface))
        i += 1
    return out


def has_name(value: str) -> bool:
    """True when ``value`` contains a surname or given name token."""
    return any(w.feature.pos3 == "人名" for w in _tagger()(value[:MAX_CHARS]))
