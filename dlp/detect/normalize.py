"""Width and dash folding that keeps offsets: one output character per input character.

Japanese text writes the same digits and hyphens many ways (全角 ０-９, U+2010..2015, U+2212,
U+30FC in typed addresses). NFKC folds some but not all, and it changes lengths, which would
break evidence offsets. ``fold`` maps each character to exactly one character, so an offset
in the folded text is the offset in the original. ``nfkc`` is for building counting keys of
values already found.
"""

import unicodedata

_TABLE: dict[int, int] = {}
for _cp in range(0xFF01, 0xFF5F):                       # full-width ASCII
    _TABLE[_cp] = _cp - 0xFEE0
_TABLE[0x3000] = 0x20                                   # ideographic space
for _cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0x30FC, 0xFF70,
            0x2500, 0x2501, 0xFE58, 0xFE63, 0x2043):
    _TABLE[_cp] = 0x2D                                  # dash look-alikes → '-'
_TABLE[0xFF20] = 0x40                                   # ＠
# Half-width katakana → full-width, one for one (voicing marks stay separate characters).
for _cp in range(0xFF66, 0xFF9E):
    if _cp == 0xFF70:
        continue
    _TABLE[_cp] = ord(unicodedata.normalize("NFKC", chr(_cp)))
_TABLE[0xFF9E] = 0x309B
_TABLE[0xFF9F] = 0x309C

_DASHLESS_KANA_TABLE = dict(_TABLE)
_DASHLESS_KANA_TABLE[0x30FC] = 0x30FC                   # keep ー inside katakana words


def fold(text: str) -> str:
    """Fold widths and dashes one character for one; the result has the same length."""
    if text.isascii():
        return text
    return text.translate(_TABLE)


def nfkc(text: str) -> str:
    """Canonical form of a found value for counting keys (lengths may change)."""
    s = unicodedata.normalize("NFKC", text)
    return " ".join(s.split())
