"""Personal names, recognised by structure and by morphological analysis.

- A name column (氏名, フリガナ, full_name...) or key: the cell is a name if it looks like one.
  A bare ``name`` key is weaker evidence (product and file names are "name" too): the value
  must then read as a person's name (two capitalised words, or UniDic tags a 人名 in it).
- Free text: an inline label (``氏名：山田 太郎``, ``find``), or a surname + given name that
  UniDic recognises on a line that already carries other personal data (a phone, an
  e-mail, an address: ``near``, called by the scanner with the offsets of those findings);
  running the analyser on every line of a 50 MB upload would be far too slow.

A name is the identifier that makes a record a person. Company names (株式会社…, Inc.)
are not persons and are rejected even in a name column.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import accumulate, compress, repeat

import regex

from dlp.detect import morph
from dlp.detect.normalize import nfkc, nfkc_joined
from dlp.model import Finding

ID = "person_name"
LABELS = regex.compile(
    r"^(?:氏名|名前|お名前|おなまえ|姓名|フリガナ|ふりがな|ﾌﾘｶﾞﾅ|カナ氏名|氏名カナ|氏名\s*[(（].*[)）]|"
    r"姓|名|せい|めい|氏|漢字氏名|契約者(?:氏名|名)?|被保険者(?:氏名|名)?|受取人(?:氏名|名)?|"
    r"(?:full|first|last|given|family|middle|person|customer|member|contact|patient|employee|user)"
    r"[ _-]?name|name|名前\s*[(（].*[)）]|surname|forename|氏名\(漢字\)|氏名\(カナ\)|"
    r"(?:担当者|申込者|代表者|保護者|患者|社員|会員|顧客|利用者)(?:氏名|名)?)$",
    regex.IGNORECASE,
)
WEAK_LABELS = regex.compile(r"^name$", regex.IGNORECASE)
# stdlib re for the two whole-text passes: its literal-prefix search is several times faster.
INLINE = re.compile(r"(?:氏名|お名前|名前|Name)\s{0,64}[:：]\s{0,64}(\S{1,20}(?:[ 　]\S{1,20})?)")
# Lines worth analysing: they carry something personal already (an e-mail, a phone or postcode).
_LETTER = r"\p{Han}\p{Hiragana}\p{Katakana}ー・゛゜\p{Latin}"
_HAN = regex.compile(r"\p{Han}")
_NAME_CHARS = regex.compile(rf"^[{_LETTER}][{_LETTER} .'-]{{0,39}}$")
_JA_FULL_NAME = regex.compile(
    r"^(?:\p{Han}{1,4} \p{Han}{1,4}|\p{Katakana}{2,8} \p{Katakana}{2,8}|\p{Hiragana}{2,8} \p{Hiragana}{2,8})$"
)
_WESTERN = regex.compile(r"^\p{Lu}[\p{Ll}'-]+(?: \p{Lu}\.?)?(?: \p{Lu}[\p{Ll}'-]+){1,2}$")
_ORG = regex.compile(
    r"株式会社|有限会社|合同会社|合資会社|合名会社|一般社団|一般財団|公益|社団法人|財団法人|医療法人|"
    r"学校法人|宗教法人|社会福祉法人|独立行政法人|組合|協会|事務所|銀行|信用金庫|病院|大学|学校|"
    r"役所|市役所|区役所|センター|㈱|㈲|\b(?:inc|ltd|llc|corp|co|gmbh|plc|company|corporation|limited)\b\.?",
    regex.IGNORECASE,
)


def _mask(name: str) -> str:
    space = name.rfind(" ")
    if space >= 0:
        given = name[space + 1:]
        return name[:space + 1] + ("*" * (len(given) - 1) + given[-1] if len(given) > 1 else "*")
    if len(name) <= 2:
        return name[0] + "*"
    return name[:2] + "*" * (len(name) - 3) + name[-1]


def _finding(v: str) -> Finding:
    key = v.replace(" ", "").replace("・", "").lower()
    return Finding(ID, key, _mask(v), identifies=True)


@lru_cache(maxsize=65536)
def check(value: str) -> Finding | None:
    """A cell labelled as a name: accept it when it looks like a person's name (cached:
    names repeat across a list, and the answer is a pure function of the value)."""
    v = nfkc(value)
    if not v or not _NAME_CHARS.match(v) or _ORG.search(v):
        return None
    bare = v.replace(" ", "").replace("・", "")  # neither is a letter: all letters when isalpha()
    if not (len(bare) >= 2 and bare.isalpha()) and sum(1 for c in v if c.isalpha()) < 2 and not _HAN.match(v):
        return None
    return _finding(v)


_BAD_CHAR = regex.compile(rf"[^{_LETTER} .'\-\x00]")
_BAD_START = re.compile(r"(?:^|\x00)[ .'\-]")
_tuple_new = tuple.__new__


def check_many(check_fn: Callable[[str], Finding | None], values: Sequence[str]) -> list[Finding | None] | None:
    """``check`` of many cells of a name column at once (None: not for this check function,
    the scanner then checks each value): normalised in one pass, the shape and company-word
    tests run once over all the values, and only values those passes cannot decide (fewer
    than two letters that are all letters) go through ``check`` itself. Same results."""
    if check_fn is not check or not values:
        return None
    if max(map(len, values)) > LONGEST_CELL:    # a megabyte cell is no name: never copied
        short = [i for i, v in enumerate(values) if len(v) <= LONGEST_CELL]
        found = check_many(check_fn, [values[i] for i in short]) if short else []
        if found is None:
            return None
        out: list[Finding | None] = [None] * len(values)
        for i, f in zip(short, found, strict=True):
            out[i] = f
        return out
    joined = "\x00".join(values)
    if joined.count("\x00") != len(values) - 1:
        return None
    norm = nfkc_joined(joined)
    pieces = norm.split("\x00")
    if len(pieces) != len(values):
        return None
    lengths = list(map(len, pieces))
    starts = list(accumulate(map((1).__add__, lengths), initial=0))
    # the shape (_NAME_CHARS: a letter first, at most 40 characters, letters and . ' - only)
    # and no company word (_ORG), each tested over all the values at once
    bad = {bisect.bisect_right(starts, m.start()) - 1 for pattern in (_BAD_CHAR, _ORG) for m in pattern.finditer(norm)}
    bad.update(bisect.bisect_right(starts, m.end() - 1) - 1 for m in _BAD_START.finditer(norm))
    bad.update(compress(range(len(lengths)), map(_NOT_1_TO_40, lengths)))
    bare = norm.replace(" ", "").replace("・", "")    # neither is a letter: all letters when isalpha()
    bare_pieces = bare.split("\x00")
    keys = bare.lower().split("\x00")
    if len(keys) != len(values) or len(bare_pieces) != len(values):
        return None
    unsure = set(compress(range(len(values)), map(_not_two_letters, bare_pieces)))
    spaces = list(map(str.rfind, pieces, repeat(" ")))
    # the commonest mask (a surname, a space, a given name of two or more) inline, as _mask makes it
    out = [
        _tuple_new(Finding, (ID, key, v[:sp + 1] + "*" * (len(v) - sp - 2) + v[-1] if 0 <= sp < len(v) - 2
                             else _mask(v) if v else "", True))
        for v, key, sp in zip(pieces, keys, spaces, strict=True)]
    for i in bad:
        out[i] = None
    for i in unsure - bad:
        out[i] = check(values[i])
    return out


LONGEST_CELL = 400
"""Characters of a cell beyond which it cannot normalise to a name of at most 40 (NFKC joins
at most a few characters into one): such cells are not joined into the column's pass."""


def _NOT_1_TO_40(n: int) -> bool:
    return not 0 < n <= 40


def _not_two_letters(bare: str) -> bool:
    return len(bare) < 2 or not bare.isalpha()


def check_weak(value: str) -> Finding | None:
    """A cell under a generic ``name`` key: it must read as a person's name on its own."""
    f = check(value)
    if f is None:
        return None
    v = nfkc(value)
    if v.isascii():
        return f if _WESTERN.match(v) else None
    return f if _JA_FULL_NAME.match(v) or morph.has_name(v) else None


LINES_ABOVE = 3
ANCHOR = "氏名|名前|Name"
"""``find`` (inline labels) only searches around these words."""
REACH = 200


def find(text: str) -> Iterator[tuple[int, Finding]]:
    """Names introduced by an inline label (氏名：山田 太郎) in free text."""
    for m in INLINE.finditer(text):
        f = check(m.group(1))
        if f:
            yield m.start(1), f


def near(text: str, offsets: Iterable[int]) -> Iterator[tuple[int, Finding]]:
    """Names that UniDic recognises on the lines holding ``offsets`` (where other personal
    data was found: a name beside a phone or an e-mail address is a person's), and on up to
    ``LINES_ABOVE`` lines above them in the same paragraph (a letter's addressee, a
    signature's name line)."""
    seen_lines: set[int] = set()
    for at in offsets:
        line_start = text.rfind("\n", 0, at) + 1
        for _ in range(LINES_ABOVE + 1):
            if line_start in seen_lines:
                break
            seen_lines.add(line_start)
            line_end = text.find("\n", line_start)
            line = text[line_start:line_end if line_end >= 0 else len(text)]
            if not line.strip():
                break  # a blank line ends the paragraph
            for off, name in () if line.isascii() else morph.names_in(line):  # UniDic names no ASCII word
                f = check(name)
                if f:
                    yield line_start + off, f
            if line_start == 0:
                break
            line_start = text.rfind("\n", 0, line_start - 1) + 1
