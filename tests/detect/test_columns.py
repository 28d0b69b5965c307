"""Tables checked column by column give what checking them row by row gave: the same
findings, the same keys, the same persons (``DetectorSet._typed_rows``, ``check_many``,
``PersonCounter.add_typed``), and the fast paths of the name and date checks agree with the
general ones."""

import csv
import datetime
import io
import random

import pytest
from realistic import birth_text, half_width, resident_export
from synthetic import bulk_samples

from dlp.config import InspectSettings
from dlp.count import PersonCounter
from dlp.detect import birth_date, person_name
from dlp.detect.normalize import fold, nfkc, nfkc_joined
from dlp.detect.registry import DETECTOR_IDS
from dlp.detect.scanner import DetectorSet, TypedRows
from dlp.engine import scan
from dlp.extract.text import decode, is_header
from dlp.model import Transfer

ALL = frozenset(DETECTOR_IDS)


def _split(digests: bytes) -> set[bytes]:
    return {digests[i:i + 16] for i in range(0, len(digests), 16)}


def row_by_row(data: bytes) -> tuple[int, dict[str, set[str]], set[bytes]]:
    """The table's persons and keys with every row checked on its own, as the scanner did
    before it checked columns (each row a RecordFindings of its checked cells and its
    free-text cells)."""
    text, _enc = decode(data)
    delim = "\t" if text.count("\t") > text.count(",") else ","
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delim) if r]
    header = tuple(c.strip() for c in rows[0]) if is_header(rows[0], rows[1]) else ()
    body = rows[1:] if header else rows
    ds = DetectorSet(ALL)
    sample = body[:64]
    width = max(max(map(len, sample)), len(header))
    checks = [ds._checker(ds._trusted(ds._column(header, i, sample), i, sample), ) for i in range(width)]
    counter = PersonCounter()
    keys: dict[str, set[str]] = {}
    for row in body:
        cells = [fold(c) for c in row]
        rec = ds._cells(zip(checks + [None] * (len(cells) - len(checks)), cells, strict=False), names=False)
        if rec.findings:
            counter.add(rec)
            for f in rec.findings:
                keys.setdefault(f.detector, set()).add(f.key)
    return counter.persons(), keys, _split(counter.digests())


def column_by_column(data: bytes) -> tuple[int, dict[str, set[str]], set[bytes]]:
    keys: dict[str, set[str]] = {}
    r = scan(Transfer("http", data), InspectSettings(), ALL, keys_out=keys)
    return r.persons, keys, _split(r.person_digests)


@pytest.mark.parametrize("sample", [s for s in bulk_samples(400, seed=5) if s.name.endswith((".csv", ".tsv"))],
                         ids=lambda s: s.name)
def test_bulk_tables_agree_with_row_by_row(sample):
    assert column_by_column(sample.data) == row_by_row(sample.data)


def test_realistic_export_agrees_with_row_by_row_and_the_truth():
    export = resident_export(3000, seed=7)
    persons, keys, digests = column_by_column(export.data)
    assert (persons, keys, digests) == row_by_row(export.data)
    assert persons == export.persons


def test_rows_with_free_text_findings_keep_their_typed_findings():
    """A row whose untyped cell holds an e-mail: one record with both."""
    data = ("氏名,電話番号,メモ\r\n" + "".join(
        f"山田 太郎,090-1234-{i:04d},{f'連絡は a{i}@example.jp' if i % 3 == 0 else 'なし'}\r\n"
        for i in range(300))).encode("cp932")
    assert column_by_column(data) == row_by_row(data)


def test_typed_rows_are_counted_as_records():
    ds = DetectorSet(ALL)
    found = [batch for _n, part in ds.table(_table()) for batch in part]
    typed = [b for b in found if isinstance(b, TypedRows)]
    assert typed and sum(b.rows for b in typed) == 100
    counter = PersonCounter()
    for b in typed:
        counter.add_typed(b)
    assert counter.persons() == 100


def _table():
    from dlp.model import Table
    rows = [["佐藤 花子", f"080-2222-{i:04d}"] for i in range(100)]   # namesakes told apart by their phones
    return Table(("氏名", "電話"), iter(rows))


GIMEI_LIKE = ["山田 太郎", "ヤマダ タロウ", "やまだ たろう", "John Smith", "O'Brien Kate", "ジョン・スミス", "Ⅱ世",
              "〇〇", "株式会社山田", "山田 (株)", "㈱山田", "A", "山", "ー", "・", "", " ", "  山田\t太郎 ", "x" * 40,
              "x" * 41, "-山田", ".山", "Σίσυφος ΣΑΣ", "İstanbul Ab", "山田 花子 様", "12345", "a-", "Inc 山田"]


def test_check_many_equals_check():
    rnd = random.Random(3)
    values = [fold(v) for v in GIMEI_LIKE]
    values += [fold(half_width(v)) for v in ("ヤマダ タロウ", "ガッコウ ハナコ", "パク ジヨン", "ヴィクトル ユーゴー")]
    values += ["".join(rnd.choice("山田太郎アイウエオあいう ・.-'A1") for _ in range(rnd.randint(0, 12)))
               for _ in range(2000)]
    values = list(dict.fromkeys(values))
    assert person_name.check_many(person_name.check, values) == [person_name.check.__wrapped__(v) for v in values]
    assert person_name.check_many(person_name.check_weak, values) is None


def test_check_many_leaves_cells_too_long_for_a_name_out_of_its_pass():
    # a megabyte cell (one CSV line of 1 MiB) is None, as check() says, and the names beside it are found
    values = ["山田 太郎", "x" * (1 << 20), "ﾔﾏﾀﾞ ﾀﾛｳ", "山田 " * 200, "佐藤 花子"]
    assert person_name.check_many(person_name.check, values) == [person_name.check.__wrapped__(v) for v in values]
    found = person_name.check_many(person_name.check, values)
    assert [f is not None for f in found] == [True, False, True, False, True]
    assert person_name.check_many(person_name.check, ["y" * 500]) == [None]


def test_nfkc_joined_equals_nfkc_of_each_piece():
    pieces = ["ﾔﾏﾀﾞ", "ヤマタ゛ タロウ", " a  b ", "\t", "", "ｱｲｳ", "①", "山田\u3000太郎", "ハ゜ン", "゛"]
    folded = [fold(p) for p in pieces]
    assert nfkc_joined("\x00".join(folded)).split("\x00") == [nfkc(p) for p in folded]


def test_half_width_readings_with_voicing_marks_are_names():
    """ﾔﾏﾀﾞ ﾀﾛｳ (folded ヤマタ゛ タロウ) is the same name as ヤマダ タロウ."""
    f = person_name.check(fold("ﾔﾏﾀﾞ ﾀﾛｳ"))
    assert f is not None and f.key == person_name.check("ヤマダ タロウ").key
    assert person_name.check(fold("ﾊﾟｸ ｼﾞﾖﾝ")).key == "パクジヨン"


def _slow_birth(value: str):
    """The general path of ``birth_date.check`` (the pattern for every form)."""
    v = value.strip()
    m = birth_date._DATE.match(v)
    if m is None or not birth_date._CELL_SUFFIX.fullmatch(v, m.end()):
        return None
    d = birth_date._date(m)
    return birth_date._finding(d) if d else None


def test_date_fast_paths_equal_the_general_pattern():
    rnd = random.Random(9)
    values = ["S64.1.8", "S64.1.7", "H1.1.7", "H1.1.8", "H31.4.30", "H31.5.1", "R1.4.30", "R1.5.1", "昭和64年1月8日",
              "平成元年1月8日", "T15.12.25", "S1.12.25", "M45.7.30", "T1.7.30", "S45-3-12", "S45/3/12", "S45.3-12",
              "昭和100年1月1日", "H30.02.30", "S00.1.1", "昭和0年1月1日", " 昭和45年3月12日 ", "R99.1.1", "1985/04/01",
              "1899/12/31", "2099/01/01", "1985-4-1"]
    for _ in range(3000):
        d = datetime.date(1895, 1, 1) + datetime.timedelta(days=rnd.randint(0, 48000))
        early = d < datetime.date(1912, 7, 30)
        values.append(f"{d.year}/{d.month}/{d.day}" if early else birth_text(d, rnd.randint(0, 3)))
    for v in values:
        birth_date.check.cache_clear()
        assert birth_date.check(v) == _slow_birth(v), v
    assert birth_date.check_many(birth_date.check, values) == [_slow_birth(v) for v in values]


def test_fold_cells_equals_fold_of_each_cell():
    from dlp.detect.normalize import fold_cells
    rnd = random.Random(1)
    alphabet = "ｱｲｳｴｵｶﾞﾊﾟ ー1２－‐abc山\u3000ｰ"
    cells = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8))) for _ in range(3000)]
    assert list(fold_cells(cells)) == [fold(c) for c in cells]
    assert list(fold_cells(["a\x00ｱ", "ｲ"])) == [fold("a\x00ｱ"), "イ"]


def test_postcode_check_many_equals_check():
    from dlp.detect import postal_code
    values = ["1000001", "1000000", "9999999", "100-0001", "〒100-0001", "１０００００１", "123", "０１２３４５６"]
    assert postal_code.check_many(postal_code.check, values) == [postal_code.check(v) for v in values]


def test_address_check_many_equals_fast_check():
    from realistic import resident_rows

    from dlp.detect import address
    rows, _p, _n = resident_rows(3000, seed=23)
    values = [fold(v) for r in rows for v in (r[8], r[12]) if v]
    values += ["〒100-0001 東京都千代田区千代田1-1", "100-0001　東京都千代田区千代田1", "千代田区千代田1-1", "東京都",
               "神奈川県横浜市中区山下町1", "霞ヶ関1-1", "北海道札幌市中央区北一条西2丁目", "東京都千代田区", "abc 1",
               "和歌山県和歌山市一番丁1", "東京都港区芝公園4ー2ー8", "東京都港区芝公園4--2", "", "1", "〒"]
    values = list(dict.fromkeys(fold(v) for v in values))
    assert address.check_many(address.fast_check, values) == [address.fast_check(v) for v in values]
    assert address.check_many(address.check, values) is None
