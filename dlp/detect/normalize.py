"""Width and dash folding that keeps offsets: one output character per input character.

Japanese text writes the same digits and hyphens many ways (全角 ０-９, U+2010..2015, U+2212,
U+30FC in typed addresses). NFKC folds some but not all, and it changes lengths, which would
break evidence offsets. ``fold`` maps each character to exactly one character, so an offset
in the folded text is the offset in the original. ``nfkc`` is for building counting keys of
values already found.
"""

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


def nfkc(text: str) -> str:
    """Canonical form of a found value for counting keys (lengths may change)."""
    s = unicodedata.normalize("NFKC", text)
    return " ".join(s.split())
