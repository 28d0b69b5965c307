"""Width and dash folding that keeps offsets: one output character per input character.

Japanese text writes the same digits and hyphens many ways (全角 ０-９, U+2010..2015, U+2212,
U+30FC in typed addresses). NFKC folds some but not all, and it changes lengths, which would
break evidence offsets. ``fold`` maps each character to exactly one character, so an offset
in the folded text is the offset in the original. ``nfkc`` is for building counting keys of
values already found.
"""

import functools
import re
import unicodedata

_TABLE: dict[int, int] = {}
for _cp in range(0xFF01, 0xFF5F):                       # full-width ASCII
    _TABLE[_cp] = _cp - 0xFEE0
_TABLE[0x3000] = 0x20                                   # ideographic space
# Half-width katakana → full-width, one for one (voicing marks stay separate characters).
for _cp in range(0xFF61, 0xFF9E):
    _TABLE[_cp] = ord(unicodedata.normalize("NFKC", chr(_cp)))
_TABLE[0xFF9E] = 0x309B
_TABLE[0xFF9F] = 0x309C
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2500\u2501\ufe58\ufe63\u2043\uff0d"
for _ch in _DASHES:
    _TABLE[ord(_ch)] = 0x2D                             # dash look-alikes → '-'
_TABLE[0xFF70] = 0x30FC                                 # half-width ｰ is a long-vowel mark

# Only runs that need folding are touched (translate over all of a 50 MB text is slow), and
# each pass is one character class so the regex engine can skip unaffected text quickly.
# Dash look-alikes other than ー are rare in prose and always fold; ー (a long-vowel letter in
# データ) folds only between digits (1ー2ー3, 090ー1234ー5678), in a separate literal pass.
_NEEDS_FOLD = re.compile(f"[\\uff01-\\uff5e\\u3000\\uff61-\\uff9f{_DASHES}]+")
_VOWEL_DASH = re.compile("\u30fc(?<=[0-9]\u30fc)(?=[0-9])")


def _fold_match(m: re.Match[str]) -> str:
    return m.group().translate(_TABLE)


CHUNK = 1 << 16
"""Texts are folded in chunks so that ASCII chunks (logs, code, English) are skipped at
memory speed; a character class search over ASCII text is several times slower."""


def fold(text: str) -> str:
    """Fold widths and dashes one character for one; the result has the same length."""
    if text.isascii():
        return text
    if len(text) <= CHUNK:
        text = _NEEDS_FOLD.sub(_fold_match, text)
    else:
        parts = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)]
        text = "".join(p if p.isascii() else _NEEDS_FOLD.sub(_fold_match, p) for p in parts)
    if "\u30fc" in text:
        text = _VOWEL_DASH.sub("-", text)
    return text


_SPACING_MARKS = str.maketrans("\u309b\u309c", "\u3099\u309a")
"""The spacing voicing marks that ``fold`` makes of half-width ﾞ and ﾟ, as the combining
ones: NFKC then composes ﾀﾞ (folded タ゛) into ダ, where it would make the spacing mark a
space and a combining mark after it (``タ ゙``), which no name or address reads as."""


_FOLDED = f"\\uff01-\\uff5e\\u3000\\uff61-\\uff9f{_DASHES}"
_NEEDS_FOLD_CELLS = re.compile(f"[{_FOLDED}][{_FOLDED} \\x00]*")
"""``_NEEDS_FOLD`` for cells joined by NUL: a run goes on across spaces and cells (both are
left as they are), so a column of half-width readings is one run, not one per word."""


def fold_cells(cells: list[str] | tuple[str, ...]) -> list[str] | tuple[str, ...]:
    """``fold`` of each cell, in one pass over all of them (cells holding NUL fold one by one);
    a column that repeats values (a prefecture's reading on every row) folds each once."""
    joined = "\x00".join(cells)
    if joined.isascii() or not _NEEDS_FOLD_CELLS.search(joined):
        return cells
    distinct = dict.fromkeys(cells)
    if len(distinct) < len(cells):
        folded = fold_cells(list(distinct))
        return list(map(dict(zip(distinct, folded, strict=True)).__getitem__, cells))
    text = _NEEDS_FOLD_CELLS.sub(_fold_match, joined)
    if "\u30fc" in text:
        text = _VOWEL_DASH.sub("-", text)
    folded = text.split("\x00")
    return folded if len(folded) == len(cells) else [fold(c) for c in cells]


def nfkc(text: str) -> str:
    """Canonical form of a found value for counting keys (lengths may change)."""
    s = unicodedata.normalize("NFKC", text.translate(_SPACING_MARKS) if "\u309b" in text or "\u309c" in text
                              else text)
    return " ".join(s.split())


_NFKC = functools.partial(unicodedata.normalize, "NFKC")
_SPACE_RUN = re.compile(r"\s+")
_ODD_SPACE = re.compile(r"[^\S ]|  ")
_SPACE_AT_SEP = re.compile(" ?\x00 ?")


def _voiced_pairs() -> tuple[tuple[str, str], ...]:
    """(kana + spacing voicing mark, the kana it composes to) for every kana that has one."""
    pairs = []
    for cp in (*range(0x3041, 0x3097), *range(0x30A1, 0x30FB), 0x309D, 0x30FD):
        for spacing, combining in (("\u309b", "\u3099"), ("\u309c", "\u309a")):
            composed = unicodedata.normalize("NFC", chr(cp) + combining)
            if len(composed) == 1:
                pairs.append((chr(cp) + spacing, composed))
    return tuple(pairs)


_VOICED = dict(_voiced_pairs())
_VOICED_PAIR = re.compile("|".join(_VOICED))


def _voiced(m: re.Match[str]) -> str:
    return _VOICED[m.group()]


def nfkc_joined(text: str) -> str:
    """``nfkc`` of each NUL-separated piece of ``text`` in a few passes over all of them
    (the same result: NUL neither composes nor is a space)."""
    if "\u309b" in text or "\u309c" in text:
        # a column of folded half-width readings: compose ﾀﾞ (タ゛) to ダ as NFKC does with the
        # combining mark (one pass; then NFKC usually has nothing left to do)
        text = _VOICED_PAIR.sub(_voiced, text)
        if "\u309b" in text or "\u309c" in text:   # marks after no kana that takes them
            text = text.replace("\u309b", "\u3099").replace("\u309c", "\u309a")
    # A quick check in C first (most name columns are in normal form); else piece by piece
    # (in C too): NFKC returns a piece already in normal form as it is, where one piece to
    # compose would make it rebuild all of a long text.
    s = text if unicodedata.is_normalized("NFKC", text) else "\x00".join(map(_NFKC, text.split("\x00")))
    if _ODD_SPACE.search(s):       # most values have single spaces only: no pass needed
        s = _SPACE_RUN.sub(" ", s)
    if " \x00" in s or "\x00 " in s:
        s = _SPACE_AT_SEP.sub("\x00", s)
    return s.strip(" ")
