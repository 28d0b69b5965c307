import datetime

import pytest
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp.detect import birth_date
from dlp.detect.normalize import fold


def keys(text: str) -> list[str]:
    return [f.key for _o, f in birth_date.find(fold(text))]


@pytest.mark.parametrize("text, key", [
    ("生年月日：昭和60年4月1日", "1985-04-01"),
    ("生年月日 昭和六十年四月一日", "1985-04-01"),
    ("生年月日 昭和 60 年 4 月 1 日", "1985-04-01"),
    ("平成元年1月8日生まれ", "1989-01-08"),
    ("DOB: S60.4.1", "1985-04-01"),
    ("生年月日 H30.11.29", "2018-11-29"),
    ("R1.5.1生", "2019-05-01"),
    ("生年月日 ㍼60年4月1日", "1985-04-01"),
    ("生年月日 ㍻元年1月8日", "1989-01-08"),
    ("誕生日 ㋿2年2月2日", "2020-02-02"),
    ("生年月日 昭60.4.1", "1985-04-01"),
    ("1985年4月1日生", "1985-04-01"),
    ("生年月日 1985-04-01", "1985-04-01"),
    ("生年月日: 1985/4/1", "1985-04-01"),
    ("生年月日 19850401", "1985-04-01"),
    ("生年月日 一九八五年四月一日", "1985-04-01"),
    ("生年月日 ２０００年１月１日", "2000-01-01"),    # full width
    ("生年月日 Ｈ３０．１１．２９", "2018-11-29"),
    ("Date of birth: 1990/12/31", "1990-12-31"),
    ("born 1970-01-02 in Osaka", "1970-01-02"),
    ("山田 太郎 1985年4月1日（39歳）", "1985-04-01"),
    ("氏名 生年月日\n山田 1985/4/1", "1985-04-01"),          # header on the line above
    ("昭和64年1月7日生", "1989-01-07"),                      # last day of 昭和
    ("明治45年7月30日生", "1912-07-30"),                     # the changeover day
    ("大正元年7月30日生", "1912-07-30"),
    ("令和元年5月1日生まれ", "2019-05-01"),
])
def test_found(text, key):
    assert keys(text) == [key]


@pytest.mark.parametrize("text", [
    "生年月日 昭和65年1月1日",       # 昭和 ended in its year 64
    "生年月日 昭和64年1月8日",       # …on 1989-01-07
    "生年月日 平成元年1月7日",       # 平成 began 1989-01-08
    "生年月日 平成31年5月1日",       # 平成 ended 2019-04-30
    "生年月日 令和元年4月30日",
    "生年月日 大正16年1月1日",
    "生年月日 昭和0年1月1日",
    "生年月日 1985年2月30日",        # no such day
    "生年月日 1985-13-01",
    "生年月日 H31.2.29",             # 2019 is not a leap year
    "生年月日 1899-12-31",           # before the plausible range
    "生年月日 2999-01-01",           # the future
    "生年月日 明治30年1月1日",        # 1897
    "会議は1985年4月1日に開かれた",   # a date without a birth label
    "H30.11.29 納品",
    "2020年4月1日生産開始",           # 生 of 生産 is not 生まれ
    "生年月日 1985-04-011",
    "生年月日 v1985.04.01.2",
])
def test_rejected(text):
    assert keys(text) == []


def test_label_names_the_first_date_after_it():
    assert keys("生年月日 1985/4/1 入社日 2010/4/1") == ["1985-04-01"]
    assert keys("生年月日 入社日\n1985/4/1 2010/4/1\n1990/2/2 2012/4/1") == ["1985-04-01", "1990-02-02"]


def test_future_date_rejected_relative_to_today():
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    assert keys(f"生年月日 {tomorrow.isoformat()}") == []


def test_offset_key_mask_identifies():
    [(offset, f)] = birth_date.find("生年月日：昭和60年4月1日")
    assert offset == 5
    assert (f.detector, f.key, f.masked, f.identifies) == ("birth_date", "1985-04-01", "1985-**-**", False)


@pytest.mark.parametrize("value, key", [
    ("昭和60年4月1日", "1985-04-01"),
    ("S60.4.1", "1985-04-01"),
    ("1985/04/01", "1985-04-01"),
    ("1985/04/01 0:00:00", "1985-04-01"),        # spreadsheet export
    ("19850401", "1985-04-01"),
    ("１９８５年４月１日生", "1985-04-01"),
    ("昭和60年4月1日 (39歳)", "1985-04-01"),
    ("平成元年一月八日", "1989-01-08"),
])
def test_check_labelled_cell(value, key):
    assert birth_date.check(fold(value)).key == key


@pytest.mark.parametrize("value", ["昭和65年1月1日", "1985-02-30", "2999-01-01", "不明", "1985年4月1日 入社",
                                   "85/4/1", ""])
def test_check_rejects(value):
    assert birth_date.check(fold(value)) is None


def test_faker_birth_dates_in_a_column():
    fake = Faker("ja_JP")
    Faker.seed(11)
    for _ in range(200):
        d = fake.date_of_birth(minimum_age=0, maximum_age=110)
        expected = d.isoformat() if d.year >= 1900 else None
        for form in (d.isoformat(), f"{d.year}/{d.month}/{d.day}", f"{d.year}年{d.month}月{d.day}日"):
            f = birth_date.check(form)
            assert (f.key if f else None) == expected


@pytest.mark.parametrize("header, ok", [
    ("生年月日", True), ("誕生日", True), ("DOB", True), ("date_of_birth", True), ("Birthday", True),
    ("birth date", True),
    ("生年月日(和暦)", True),
    ("入社日", False), ("登録日", False), ("place of birth", False), ("birthplace", False),
    ("adobe", False), ("日付", False),
])
def test_labels(header, ok):
    assert bool(birth_date.LABELS.search(header)) == ok


def _general_check(v: str):
    m = birth_date._DATE.match(v)
    if m is None or not birth_date._CELL_SUFFIX.fullmatch(v, m.end()):
        return None
    d = birth_date._date(m)
    return birth_date._finding(d) if d else None


@settings(max_examples=500, deadline=None)
@given(st.integers(1890, 2030), st.integers(0, 13), st.integers(0, 32), st.sampled_from("-/."),
       st.booleans())
def test_western_cell_fast_path_reads_as_the_general_pattern(year, month, day, sep, pad):
    v = f"{year}{sep}{month:02d}{sep}{day:02d}" if pad else f"{year}{sep}{month}{sep}{day}"
    assert birth_date.check(v) == _general_check(v)
