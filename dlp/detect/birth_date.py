"""Dates of birth, in Japanese era and western forms.

A date alone is no personal data: documents are full of dates. A date counts when a column
header names it (生年月日, 誕生日, birth, DOB; then ``check`` sees the cell), or in free text
when a birth label stands just before it (``生年月日：昭和60年4月1日``, a header on the line
above), or just after it (``1985年4月1日生まれ``, ``…日生``), or an age follows (``(39歳)``).
A label names the first date after it on a line: in ``生年月日 1985/4/1 入社日 2010/4/1``
only the first date is a birth date; under a header line ``生年月日 入社日`` the first date
of each row is.

Era dates are checked against the era's real span (昭和 has no year 65; 平成元年 starts on
1989-01-08), every date against the calendar and a plausible birth range (1900 to today).
The changeover days (1912-07-30, 1926-12-25) are accepted under both eras, as they were
written at the time. Only width folding has been applied to the text, so the one-character
era signs ㍾㍽㍼㍻㋿ (which NFKC would expand) are matched here as they are.

A birth date is a quasi-identifier: with a name or an address it narrows to one person, on
its own it does not make a record a person (``identifies`` False). ``DIGIT_LENGTHS`` is not
offered: most forms carry 年月日 or an era letter, which a digit-token pass cannot see, and
a bare ``19850401`` is only a birth date beside its label, which ``find`` checks anyway.
"""

from __future__ import annotations

import datetime
import functools
import re
import time
from collections.abc import Callable, Iterator, Sequence

import regex

from dlp.model import Finding

ID = "birth_date"
TYPED_BY_CONTENT = False
"""A column is this kind only when its header says so: any column of dates would pass (order dates, log times)."""
LABELS = regex.compile(
    r"生年月日|誕生日|生まれ|生年|(?<!(?:place|country|city) of )birth(?![ _-]?(?:place|country|city))|"
    r"(?<![a-z])d\.?o\.?b(?![a-z])|(?<![a-z])born(?![a-z])|たんじょうび|せいねんがっぴ",
    regex.IGNORECASE,
)
WINDOW_BEFORE = 40
"""Characters before a date searched for its label (a header on the line above counts)."""
WINDOW_AFTER = 20
"""Characters after a date, on its line, searched for a label (``…生まれ``)."""

_ERAS: dict[str, tuple[int, datetime.date, datetime.date | None]] = {
    # name: (gregorian year of 元年, first day, last day)
    "明治": (1868, datetime.date(1868, 1, 1), datetime.date(1912, 7, 30)),
    "大正": (1912, datetime.date(1912, 7, 30), datetime.date(1926, 12, 25)),
    "昭和": (1926, datetime.date(1926, 12, 25), datetime.date(1989, 1, 7)),
    "平成": (1989, datetime.date(1989, 1, 8), datetime.date(2019, 4, 30)),
    "令和": (2019, datetime.date(2019, 5, 1), None),
}
_ERA_ALIASES = {
    "M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和",
    "明": "明治", "大": "大正", "昭": "昭和", "平": "平成", "令": "令和",
    "㍾": "明治", "㍽": "大正", "㍼": "昭和", "㍻": "平成", "㋿": "令和",
}
_KANJI_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0}
_KNUM = "[〇○一二三四五六七八九十]"

_DATE = regex.compile(
    rf"""
    (?P<era>明治|大正|昭和|平成|令和|[㍾㍽㍼㍻㋿明大昭平令]|(?<![A-Za-z])[MTSHR])\s?
      (?P<year>[0-9]{{1,2}}|{_KNUM}{{1,3}}|元)
      (?:\s?年\s?(?P<month>[0-9]{{1,2}}|{_KNUM}{{1,3}})\s?月\s?(?P<day>[0-9]{{1,2}}|{_KNUM}{{1,3}})\s?日
        |(?P<sep>[./-])(?P<month>[0-9]{{1,2}})(?P=sep)(?P<day>[0-9]{{1,2}})(?![0-9]|[./-][0-9]))
    |(?<![0-9])(?P<year>(?:19|20)[0-9]{{2}}|[一二][〇○一二三四五六七八九]{{3}})
      \s?年\s?(?P<month>[0-9]{{1,2}}|{_KNUM}{{1,3}})\s?月\s?(?P<day>[0-9]{{1,2}}|{_KNUM}{{1,3}})\s?日
    |(?<![0-9./-])(?P<year>(?:19|20)[0-9]{{2}})(?P<sep>[./-])(?P<month>[0-9]{{1,2}})(?P=sep)(?P<day>[0-9]{{1,2}})
      (?![0-9]|[./-][0-9])
    |(?<![0-9./-])(?P<year>(?:19|20)[0-9]{{2}})(?P<month>[01][0-9])(?P<day>[0-3][0-9])(?![0-9])
    """,
    regex.VERBOSE,
)
_AFTER = regex.compile(
    r"\s?(?:生まれ|生(?![\p{Han}\p{Hiragana}\p{Katakana}])|[(（]?\s?(?:満\s?)?[0-9]{1,3}\s?歳)"
)
"""Directly after a date: 生 (``1985年4月1日生``, not ``…日生産``) or an age (``(39歳)``)."""
_CELL_SUFFIX = regex.compile(
    r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?\s*(?:生まれ|生|[(（]\s*(?:満\s*)?[0-9]{1,3}\s*歳\s*[)）])?\s*"
)
"""What may follow the date in a cell: a midnight time (spreadsheet exports), 生, an age."""
_WESTERN_CELL = re.compile(r"((?:19|20)[0-9]{2})([./-])([0-9]{1,2})\2([0-9]{1,2})")
"""A cell holding only a western date, as ``_DATE`` reads it."""
_ERA_CELL = re.compile(r"(明治|大正|昭和|平成|令和)([0-9]{1,2}|元)年([0-9]{1,2})月([0-9]{1,2})日")
"""A cell holding only an era date in kanji (昭和45年3月12日), as ``_DATE`` reads it."""
_ERA_LETTER_CELL = re.compile(r"([MTSHR])([0-9]{1,2})([./-])([0-9]{1,2})\3([0-9]{1,2})")
"""A cell holding only an era date in letters (S45.3.12, R02.04.01), as ``_DATE`` reads it."""


def _number(s: str) -> int | None:
    """Arabic digits, 元 (year one), or kanji numerals written positionally (一九八五) or with
    十 (六十, 二十九, 十一)."""
    if s.isascii():
        return int(s)
    if s == "元":
        return 1
    if "十" in s:
        tens, _, ones = s.partition("十")
        if len(tens) > 1 or len(ones) > 1 or "十" in ones:
            return None
        t = _KANJI_DIGITS.get(tens, -1) if tens else 1
        o = _KANJI_DIGITS.get(ones, -1) if ones else 0
        return None if t < 1 or o < 0 else t * 10 + o
    return int("".join(str(_KANJI_DIGITS[c]) for c in s))


def _date(m: regex.Match[str]) -> datetime.date | None:
    """The calendar date a candidate names, if it is real and a plausible birth date."""
    year, month, day = _number(m.group("year")), _number(m.group("month")), _number(m.group("day"))
    if year is None or month is None or day is None:
        return None
    return _calendar(year, month, day, m.group("era"))


_EARLIEST = datetime.date(1900, 1, 1)


@functools.lru_cache(maxsize=2)
def _today(_minute: int) -> datetime.date:
    """Today (local), asked of the clock once a minute (a resident list checks tens of
    thousands of dates)."""
    return datetime.date.today()


def _calendar(year: int, month: int, day: int, era: str | None = None) -> datetime.date | None:
    """The date if it exists (in its era's span) and is a plausible birth date."""
    span = None
    if era:
        span = _ERAS[_ERA_ALIASES.get(era, era)]
        if year < 1:
            return None
        year = span[0] + year - 1
    try:
        d = datetime.date(year, month, day)
    except ValueError:
        return None
    if span and not (span[1] <= d and (span[2] is None or d <= span[2])):
        return None
    if not _EARLIEST <= d <= _today(int(time.time()) // 60):
        return None
    return d


def _finding(d: datetime.date) -> Finding:
    return Finding(ID, d.isoformat(), f"{d.year:04d}-**-**")


def _labelled(text: str, start: int, end: int) -> bool:
    """A birth label names this date: before it (with no other date between them on this
    date's line), after it on its line, or 生 / an age directly after it."""
    if _AFTER.match(text, end):
        return True
    labels = list(LABELS.finditer(text, max(0, start - WINDOW_BEFORE), start))
    if labels:
        line_start = text.rfind("\n", 0, start) + 1
        if not _DATE.search(text, max(labels[-1].end(), line_start), start):
            return True
    line_end = text.find("\n", end, end + WINDOW_AFTER)
    after = LABELS.search(text, end, line_end if line_end >= 0 else end + WINDOW_AFTER)
    return after is not None and not _DATE.search(text, end, after.start())


_ANCHOR_WORDS = "生年月日|誕生日|生まれ|生年|たんじょうび|せいねんがっぴ|歳"
_ANCHOR = re.compile(
    _ANCHOR_WORDS + r"|Birth|birth|BIRTH|DOB|dob|DoB|D\.O\.B|d\.o\.b|Born|born|BORN|生(?<=[0-9日]生)|生(?<=[0-9日] 生)"
)
"""Every way a date can be named a birth date starts from one of these (the labels, 生 after
a date, an age), so free text is searched for them (rare) rather than for dates (everywhere
in logs and orders). Literal alternatives only: stdlib ``re`` then scans at ~250 MB/s."""
_DATE_SPAN = 32
"""Longest date form in characters (昭和六十年十二月三十一日 and spacing), with margin."""
ANCHOR = _ANCHOR_WORDS + r"|(?i:birth|dob|d\.o\.b|born)|[0-9日] ?生"
"""``_ANCHOR`` for the prefilter (RE2 has no look-behind: the digit or 日 before 生 is matched)."""
REACH = 2 * (WINDOW_BEFORE + WINDOW_AFTER + _DATE_SPAN)
"""A date up to ``WINDOW_AFTER`` + ``_DATE_SPAN`` before its anchor, and its label up to
``WINDOW_BEFORE`` before the date; and the same after."""


def find(text: str) -> Iterator[tuple[int, Finding]]:
    """Yield (offset, finding) for every real date that a birth label or position names."""
    windows: list[list[int]] = []
    for a in _ANCHOR.finditer(text):
        lo = max(0, a.start() - WINDOW_AFTER - _DATE_SPAN)
        hi = min(len(text), a.end() + WINDOW_BEFORE + _DATE_SPAN)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], hi)
        else:
            windows.append([lo, hi])
    done = 0
    for lo, hi in windows:
        for m in _DATE.finditer(text, max(lo, done), hi):
            d = _date(m)
            if d is not None and _labelled(text, m.start(), m.end()):
                done = m.end()
                yield m.start(), _finding(d)


_tuple_new = tuple.__new__


def check_many(check_fn: Callable[[str], Finding | None], values: Sequence[str]) -> list[Finding | None] | None:
    """``check`` of many cells of a birth-date column: the common cells read as ``check``
    reads them, with today asked once per column; the rest through ``check``."""
    if check_fn is not check:
        return None
    today = _today(int(time.time()) // 60)
    western, era, letter = _WESTERN_CELL.fullmatch, _ERA_CELL.fullmatch, _ERA_LETTER_CELL.fullmatch
    out: list[Finding | None] = []
    append = out.append
    for value in values:
        v = value.strip()
        w = western(v)
        if w:
            span = None
            year, month, day = int(w[1]), int(w[3]), int(w[4])
        else:
            w = era(v) or letter(v)
            if not w:
                append(check(value))
                continue
            span = _ERA_SPAN[w[1]]
            if w.re is _ERA_CELL:
                year, month, day = (1 if w[2] == "元" else int(w[2])), int(w[3]), int(w[4])
            else:
                year, month, day = int(w[2]), int(w[4]), int(w[5])
            if year < 1:
                append(None)
                continue
            year += span[0] - 1
        try:
            d = datetime.date(year, month, day)
        except ValueError:
            append(None)
            continue
        if (span and not (span[1] <= d and (span[2] is None or d <= span[2]))) or not _EARLIEST <= d <= today:
            append(None)
        else:
            append(_tuple_new(Finding, (ID, d.isoformat(), f"{d.year:04d}-**-**", False)))
    return out


_ERA_SPAN = {alias: _ERAS[_ERA_ALIASES.get(alias, alias)] for alias in (*_ERA_ALIASES, *_ERAS)}


@functools.lru_cache(maxsize=65536)
def check(value: str) -> Finding | None:
    """A cell labelled as a birth date: one date, optionally followed by 生(まれ) or an age.
    Cached: a list of 30,000 people has far fewer distinct birth dates."""
    v = value.strip()
    # the commonest cells (1985-04-01, 昭和60年4月1日, S60.4.1) without the general pattern's cost
    w = _WESTERN_CELL.fullmatch(v)
    if w:
        d = _calendar(int(w[1]), int(w[3]), int(w[4]))
        return _finding(d) if d else None
    w = _ERA_CELL.fullmatch(v)
    if w:
        d = _calendar(1 if w[2] == "元" else int(w[2]), int(w[3]), int(w[4]), w[1])
        return _finding(d) if d else None
    w = _ERA_LETTER_CELL.fullmatch(v)
    if w:
        d = _calendar(int(w[2]), int(w[4]), int(w[5]), w[1])
        return _finding(d) if d else None
    m = _DATE.match(v)
    if m is None or not _CELL_SUFFIX.fullmatch(v, m.end()):
        return None
    d = _date(m)
    return _finding(d) if d else None
