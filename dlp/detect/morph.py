"""Japanese personal names by morphological analysis (MeCab via fugashi, UniDic-lite).

UniDic tags surnames and given names (名詞-固有名詞-人名-姓/名) from a dictionary far larger
than any list we could ship, and reads context (山田 in 株式会社山田商事 is tagged a place
name there). It runs at about 2 MB/s, so the engine uses it only on short strings: lines
that already carry other personal data, and samples of table columns.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import fugashi

MAX_CHARS = 400
"""Longest line analysed; a name next to a phone number sits near it."""

HONORIFICS = frozenset(("様", "さん", "殿", "君", "氏", "先生", "さま"))


_local = threading.local()


def _tagger() -> fugashi.Tagger:
    """This thread's tagger: MeCab reuses its node buffers at the next parse, so one tagger
    shared by scans in threads (``inspect.workers: 0``) would mix their results."""
    tagger = getattr(_local, "tagger", None)
    if tagger is None:
        tagger = _local.tagger = fugashi.Tagger()
    return tagger


def _parse(text: str) -> list[fugashi.UnidicNode]:
    """Nodes of ``text`` (MeCab takes UTF-8: a lone surrogate, which JSON escapes can carry,
    is read as '?', one character for one so offsets hold)."""
    try:
        return _tagger()(text)
    except UnicodeEncodeError:
        return _tagger()(text.encode("utf-8", "replace").decode("utf-8"))


# Parts of speech are read from ``feature_raw`` (UniDic: pos1,pos2,pos3,pos4,...): building
# fugashi's ``feature`` tuple for every token costs more than the analysis itself.


@lru_cache(maxsize=8192)
def names_in(text: str) -> tuple[tuple[int, str], ...]:
    """(offset, name) for each personal name: a surname and the given name after it (UniDic
    splits rarer given names such as 聡太郎 or 七夏 into pieces, so the pieces up to an
    honorific, a particle, punctuation or a space are joined), or a surname directly
    followed by an honorific (山田様). Remembered per line: lists repeat lines."""
    nodes = _parse(text[:MAX_CHARS])
    if not any("人名" in w.feature_raw for w in nodes):
        return ()   # most lines beside a phone or an address name nobody
    tags = [w.feature_raw.split(",", 4) for w in nodes]
    words = []
    pos = 0
    for w, t in zip(nodes, tags, strict=True):
        pos += len(w.white_space)
        words.append((pos, w.surface, t[0], t[2], t[3], bool(w.white_space)))
        pos += len(w.surface)
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(words):
        off, surface, _p1, p3, p4, _ws = words[i]
        if not (p3 == "人名" and p4 == "姓"):
            i += 1
            continue
        j = i + 1
        given: list[str] = []
        tagged = False
        while j < len(words) and len(given) < 3:
            _o, sf, p1, q3, _q4, ws = words[j]
            if (given and ws) or sf in HONORIFICS or p1 in ("助詞", "補助記号", "助動詞") or not _KANJI_KANA(sf):
                break
            given.append(sf)
            tagged = tagged or q3 == "人名"
            j += 1
        name = "".join(given)
        ends_well = j >= len(words) or words[j][1] in HONORIFICS or words[j][5] or words[j][2] == "補助記号"
        if name and len(name) <= 4 and (tagged or ends_well):
            sep = " " if words[i + 1][5] else ""
            out.append((off, f"{surface}{sep}{name}"))
            i = j
            continue
        if i + 1 < len(words) and words[i + 1][1] in HONORIFICS:
            out.append((off, surface))
        i += 1
    return tuple(out)


def _KANJI_KANA(s: str) -> bool:
    return all("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" or c == "々" for c in s)


def has_name(value: str) -> bool:
    """True when ``value`` contains a surname or given name token."""
    return any(w.feature_raw.split(",", 3)[2] == "人名" for w in _parse(value[:MAX_CHARS]))
