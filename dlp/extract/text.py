"""Bytes → text in the right Japanese encoding, then → table rows or free text.

Excel exports are CP932, old Unix systems EUC-JP, mail ISO-2022-JP; guessing wrong turns a
resident list into mojibake that no detector can read. Candidates are decoded on a sample
and scored by how much real Japanese they yield.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

import regex

from dlp.extract.budget import Uninspectable
from dlp.model import Table, TextBlock

SAMPLE = 64 * 1024
csv.field_size_limit(2**31 - 1)  # one huge cell must not end the table early
_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}\p{Han}]")
_CONTROL = regex.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_DELIMITERS = (",", "\t", ";", "|")
_HEADER_WORDS = regex.compile(
    r"氏名|名前|住所|電話|生年月日|誕生日|年齢|性別|郵便|メール|番号|会員|顧客|フリガナ|カナ|"
    r"name|address|phone|mail|birth|dob|zip|postal|gender|age|id\b|no\b|tel",
    regex.IGNORECASE,
)


def looks_binary(data: bytes) -> bool:
    """True when the head of ``data`` has control bytes that text does not contain."""
    head = data[:8192]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if not head:
        return False
    return len(_CONTROL.findall(head)) > max(2, len(head) // 100)


def decode(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name). Never raises: undecodable bytes become U+FFFD."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace"), "utf-8-sig"
    if data.startswith(codecs.BOM_UTF16_LE):
        return data[2:].decode("utf-16-le", "replace"), "utf-16-le"
    if data.startswith(codecs.BOM_UTF16_BE):
        return data[2:].decode("utf-16-be", "replace"), "utf-16-be"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x1b$B" in data[:SAMPLE] or b"\x1b$@" in data[:SAMPLE]:
        return data.decode("iso2022_jp_ext", "replace"), "iso2022_jp"
    utf16 = _utf16_without_bom(data)
    if utf16:
        return data.decode(utf16, "replace"), utf16
    sample = data[:SAMPLE]
    best, best_score = "utf-8", _score(sample, "utf-8")
    for enc in ("cp932", "euc_jp"):
        s = _score(sample, enc)
        if s > best_score:
            best, best_score = enc, s
    return data.decode(best, "replace"), best


def _score(sample: bytes, encoding: str) -> int:
    text = sample.decode(encoding, "replace")
    return len(_KANA.findall(text)) - 20 * text.count("\ufffd")


def _utf16_without_bom(data: bytes) -> str | None:
    head = data[:4096]
    if len(head) < 4:
        return None
    even_nul = head[0::2].count(0)
    odd_nul = head[1::2].count(0)
    half = len(head) // 2
    if odd_nul > half * 0.3 and even_nul < half * 0.05:
        return "utf-16-le"
    if even_nul > half * 0.3 and odd_nul < half * 0.05:
        return "utf-16-be"
    return None


def table_delimiter(text: str) -> str | None:
    """The delimiter if ``text`` is a CSV/TSV table (consistent field counts), else None."""
    lines = [ln for ln in text[:SAMPLE].splitlines()[:60] if ln.strip()]
    if len(lines) < 2:
        return None
    if len(lines) > 3 and len(text) > SAMPLE:
        lines = lines[:-1]  # the sample may cut the last line
    for delim in _DELIMITERS:
        counts = [ln.count(delim) for ln in lines]
        if min(counts) == 0 and sum(1 for c in counts if c) < 0.9 * len(lines):
            continue
        mode = max(set(counts), key=counts.count)
        if mode >= 1 and counts.count(mode) >= 0.8 * len(lines):
            return delim
    return None


def is_header(row: list[str], next_row: list[str] | None) -> bool:
    """A first row is a header when it names columns rather than holding values."""
    if not row or any(len(c) > 40 for c in row):
        return False
    if any(_HEADER_WORDS.search(c) for c in row):
        return True
    no_digits = not any(ch.isdigit() for c in row for ch in c)
    return bool(no_digits and next_row and any(ch.isdigit() for c in next_row for ch in c))


def table(text: str, delimiter: str, source: str) -> Table:
    """A CSV/TSV as a Table labelled by its header row, if there is one."""
    rows = iter(csv.reader(io.StringIO(text), delimiter=delimiter))
    first = next(rows, None)
    second = next(rows, None)
    pending = [r for r in (first, second) if r is not None]
    header: tuple[str | None, ...] = ()
    if first is not None and is_header(first, second):
        header = tuple(c.strip() for c in first)
        pending = pending[1:]
    return Table(header, _chain(pending, rows), source)


def _chain(first: list[list[str]], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield from first
    try:
        yield from rest
    except csv.Error as e:
        raise Uninspectable("corrupt", f"table cannot be parsed as CSV ({e})") from None


def text_items(data: bytes, source: str) -> Iterator[Table | TextBlock]:
    """Decode and yield table records or one free-text block."""
    text, _encoding = decode(data)
    delim = table_delimiter(text)
    if delim:
        yield table(text, delim, source)
    else:
        yield TextBlock(text, source)
