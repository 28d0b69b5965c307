"""Bytes → text in the right Japanese encoding, then → table rows or free text.

Excel exports are CP932, old Unix systems EUC-JP, mail ISO-2022-JP; guessing wrong turns a
resident list into mojibake that no detector can read. General detectors (charset-normalizer
included) misread short EUC-JP as Korean or Chinese, so Japanese comes first: BOMs, strict
UTF-8, ISO-2022-JP escapes, BOM-less UTF-16, then a strict trial of CP932 and EUC-JP with a
tie-break on what real Japanese looks like. charset-normalizer names the rest (Latin, Cyrillic,
Chinese, Korean). Large texts are decoded in chunks, so a 500 MB CSV never becomes one str.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from itertools import chain

import charset_normalizer
import regex

from dlp.extract.budget import Budget, Uninspectable
from dlp.model import Table, TextBlock

SAMPLE = 64 * 1024
BLOCK = 1 << 20
"""Characters per TextBlock of a long text (split at a blank line, else at a line end)."""
csv.field_size_limit(2**31 - 1)  # one huge cell must not end the table early
_CONTROL = regex.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_DELIMITERS = (",", "\t", ";", "|")
_HEADER_WORDS = regex.compile(
    r"氏名|名前|住所|電話|生年月日|誕生日|年齢|性別|郵便|メール|番号|会員|顧客|フリガナ|カナ|"
    r"name|address|phone|mail|birth|dob|zip|postal|gender|age|id\b|no\b|tel",
    regex.IGNORECASE,
)
_JAPANESE = regex.compile(r"[\p{Hiragana}\p{Katakana}\u3000-\u303f\uff01-\uff5e]")
_HAN_RUN = regex.compile(r"\p{Han}{2}")
_LATIN_PAIRS = regex.compile(rb"[\x81-\x9f\xe0-\xfc][A-Za-z]")
"""Latin-1 text read as CP932: each accented letter pairs with the next ASCII letter."""
_JIS_ESC = regex.compile(rb"\x1b(?:\$[@B]|\$\([@BDOPQ]|\([BJI])")
_JIS_PART = regex.compile(rb"(\x1b(?:\$[@B]|\$\([@BDOPQ]|\([BJIH]))")
_JIS_PAIR = regex.compile(rb"[\x21-\x7e]{2}")


# -- encoding ----------------------------------------------------------------------------

def detect_encoding(data: bytes) -> str | None:
    """The encoding of ``data``, or None when it is binary rather than text."""
    head = data[:SAMPLE]
    final = len(data) <= SAMPLE
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if not head:
        return "utf-8"
    utf16 = _utf16_without_bom(head)
    if utf16:
        return utf16
    if len(_CONTROL.findall(head[:8192])) > max(2, len(head[:8192]) // 100):
        return None
    if _JIS_ESC.search(head) and max(head) < 0x80:
        return "iso-2022-jp"
    if _strict(head, "utf-8", final) or _fits_damaged(head, "utf-8"):
        return "utf-8"
    japanese = japanese_encoding(head, final)
    if japanese:
        return japanese
    damaged = _damaged_japanese(head)
    if damaged:
        return damaged
    best = charset_normalizer.from_bytes(head[:16384]).best()
    if best is not None:
        return {"shift_jis": "cp932", "cp932": "cp932", "euc_jp": "euc_jp"}.get(best.encoding, best.encoding)
    return None


def decode(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name). Never raises: undecodable bytes become U+FFFD."""
    enc = detect_encoding(data) or "utf-8"
    return decode_as(data, enc), enc


def decode_as(data: bytes, encoding: str) -> str:
    """All of ``data`` in ``encoding`` (the names ``detect_encoding`` gives, or a charset label)."""
    enc = normalize_charset(encoding)
    if enc == "iso-2022-jp":
        return _jis(data)
    if not text_codec(enc):
        enc = detect_encoding(data) or "utf-8"
        if enc == "iso-2022-jp":
            return _jis(data)
    return data.decode(enc, "replace")


def text_codec(name: str) -> bool:
    """Whether ``name`` (normalised) is a text encoding that decodes anything with "replace".
    A declared charset is any label: not a codec, a bytes-to-bytes codec (zlib, base64), or
    one that refuses "replace" or raises on bytes it cannot read (idna, punycode, undefined)
    would make the reader fail; those are read as detected instead."""
    try:
        b"a\xff\\x".decode(name, "replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return False
    return True


def normalize_charset(label: str) -> str:
    """A declared charset (mail, HTML meta) as the codec that reads it right in Japan."""
    name = label.strip().strip("\"'").lower().replace("_", "-")
    if name in ("shift-jis", "sjis", "x-sjis", "ms-kanji", "windows-31j", "cp932", "csshiftjis", "ms932"):
        return "cp932"
    if name in ("euc-jp", "x-euc-jp", "eucjp", "cseucpkdfmtjapanese"):
        return "euc_jp"
    if name.startswith("iso-2022-jp") or name == "csiso2022jp" or name == "jis":
        return "iso-2022-jp"
    if name in ("us-ascii", "ascii", "utf8", "unicode-1-1-utf-8"):
        return "utf-8"
    return name


def iter_text(data: bytes, encoding: str, chunk: int = BLOCK) -> Iterator[str]:
    """``data`` decoded in pieces of about ``chunk`` characters."""
    enc = normalize_charset(encoding)
    if enc == "iso-2022-jp":
        yield _jis(data)
        return
    decoder = codecs.getincrementaldecoder(enc if text_codec(enc) else "utf-8")("replace")
    view = memoryview(data)
    for start in range(0, len(data), chunk):
        piece = decoder.decode(view[start:start + chunk], final=start + chunk >= len(data))
        if piece:
            yield piece
    if not data:
        yield ""


def _strict(sample: bytes, encoding: str, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=final)
    except UnicodeDecodeError:
        return False
    return True


def japanese_encoding(sample: bytes, final: bool = True) -> str | None:
    """CP932 or EUC-JP when ``sample`` reads as Japanese in exactly one, with a tie-break."""
    sjis = _strict(sample, "cp932", final)
    euc = next((e for e in ("euc_jp", "euc_jis_2004") if _strict(sample, e, final)), None)
    if sjis and euc:
        return euc if _plausible_euc(sample.decode(euc, "replace")) else "cp932"
    if euc:
        return euc
    if sjis:
        text = sample.decode("cp932", "replace")
        if _JAPANESE.search(text) or _HAN_RUN.search(text) or not _LATIN_PAIRS.search(sample):
            return "cp932"
    return None


DAMAGE_MAX = 0.05
"""Damaged places (runs of undecodable bytes) a text may have per well-formed non-ASCII
character to still be read as UTF-8, CP932 or EUC-JP (a broken byte, a cut export, an
editor's stray Latin-1)."""
_DAMAGE = regex.compile("\ufffd+")


def _fits_damaged(sample: bytes, encoding: str) -> bool:
    """``sample`` reads in ``encoding`` but for at most DAMAGE_MAX of its characters."""
    text = sample.decode(encoding, "replace")
    good = len(text) - len(text.encode("ascii", "ignore")) - text.count("\ufffd")
    return 0 < len(_DAMAGE.findall(text)) <= DAMAGE_MAX * good


def _damaged_japanese(sample: bytes) -> str | None:
    """Japanese as ``japanese_encoding`` decides, for text with a few invalid byte
    sequences. A strict trial fails on one of them, and the text was then taken for binary
    and only its ASCII runs read: one stray byte hid every name of a CP932 list. (UTF-8
    with a few errors is taken before the strict Japanese trials: they often accept it.)"""
    sjis = _fits_damaged(sample, "cp932")
    euc = next((e for e in ("euc_jp", "euc_jis_2004") if _fits_damaged(sample, e)), None)
    if sjis and euc:
        return euc if _plausible_euc(sample.decode(euc, "replace")) else "cp932"
    chosen = euc or ("cp932" if sjis else None)
    if chosen is None:
        return None
    text = sample.decode(chosen, "replace")
    if _JAPANESE.search(text) or _HAN_RUN.search(text):
        return chosen
    return None


def _plausible_euc(text: str) -> bool:
    """Both readings are valid only when every high byte pairs up as EUC does; CP932 text like
    that is half-width katakana, whose EUC reading is full of rare (level 2) kanji."""
    rare = total = 0
    for ch in text:
        if ch < "\x80":
            continue
        total += 1
        try:
            row = ch.encode("euc_jp")[0] - 0xA0
        except UnicodeEncodeError:
            rare += 1
            continue
        if row >= 48 or 6 <= row <= 8:
            rare += 1
    return total == 0 or rare <= 0.25 * total


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text has NULs in one byte position (ASCII, line ends, CSV commas) and few in
    the other (only characters like 一 U+4E00 have a zero low byte)."""
    head = head[:4096]
    if len(head) < 8:
        return None
    even_nul = head[0::2].count(0)
    odd_nul = head[1::2].count(0)
    half = len(head) // 2
    for enc, nul, other in (("utf-16-le", odd_nul, even_nul), ("utf-16-be", even_nul, odd_nul)):
        if nul >= max(2, half * 0.05) and other * 4 <= nul and _strict(head[:half * 2], enc, False):
            return enc
    return None


def _jis(data: bytes) -> str:
    """ISO-2022-JP. Python's codec fails on the NEC extensions Japanese mail uses (①, ㈱), so
    on failure the text is converted to Shift_JIS bytes and read as CP932."""
    try:
        return data.decode("iso2022_jp_ext")
    except UnicodeDecodeError:
        pass
    out = bytearray()
    mode = b"(B"
    for part in _JIS_PART.split(data):
        if part.startswith(b"\x1b"):
            mode = part[1:]
            continue
        if mode.startswith(b"$"):
            out += _JIS_PAIR.sub(_jis_pair, part) if mode not in (b"$(D",) else b"?" * (len(part) // 2)
        elif mode == b"(I":
            out += bytes(b + 0x80 if 0x21 <= b <= 0x5F else b for b in part)
        else:
            out += part
    return bytes(out).decode("cp932", "replace")


def _jis_pair(m: regex.Match[bytes]) -> bytes:
    j1, j2 = m.group()
    s1 = ((j1 + 1) >> 1) + (0x70 if j1 <= 0x5E else 0xB0)
    s2 = (j2 + 0x1F + (j2 >= 0x60)) if j1 & 1 else j2 + 0x7E
    return bytes((s1, s2))



# -- tables and free text ----------------------------------------------------------------

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
    """A CSV/TSV held in one string as a Table labelled by its header row, if there is one."""
    return rows_table(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), source)


MAX_BAD_ROWS = 100
"""Rows the CSV reader may fail on (a stray quote, a NUL) before the table is called corrupt."""


def _tolerant(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """Rows of a CSV reader that skips a row it cannot parse instead of ending the table
    (the reader goes on with the next line). One generator around the C reader: a large
    export has hundreds of thousands of rows, and each layer costs per row."""
    bad = 0
    while True:
        try:
            yield from reader
            return
        except csv.Error as e:
            bad += 1
            if bad > MAX_BAD_ROWS:
                raise Uninspectable("corrupt", f"table cannot be parsed as CSV ({e})") from None


def rows_table(rows_in: Iterator[list[str]], source: str) -> Table:
    """A Table over lazily read rows: the header is the first row when it names columns."""
    rows = _tolerant(iter(rows_in))
    first = next(rows, None)
    second = next(rows, None)
    pending = [r for r in (first, second) if r is not None]
    header: tuple[str | None, ...] = ()
    if first is not None and is_header(first, second):
        header = tuple(c.strip() for c in first)
        pending = pending[1:]
    return Table(header, chain(pending, rows), source)


def text_items(data: bytes, source: str, budget: Budget | None = None,
               encoding: str | None = None) -> Iterator[Table | TextBlock]:
    """Decode and yield table records or free-text blocks, without holding all of a large
    text as one str (a CSV is read row by row, a long text in blocks)."""
    enc = encoding or detect_encoding(data) or "utf-8"
    head = decode_as(data[:SAMPLE], enc) if len(data) > SAMPLE else decode_as(data, enc)
    delim = table_delimiter(head)
    if delim:
        if len(data) <= SAMPLE:
            yield table(head, delim, source)
        else:
            yield rows_table(csv.reader(_lines(data, enc, budget), delimiter=delim), source)
        return
    yield from text_blocks(iter_text(data, enc), source, budget)


def _lines(data: bytes, encoding: str, budget: Budget | None) -> Iterator[str]:
    """The decoded lines of ``data``, for the CSV reader (iterated in C, piece by piece)."""
    return chain.from_iterable(_line_lists(data, encoding, budget))


def _line_lists(data: bytes, encoding: str, budget: Budget | None) -> Iterator[list[str]]:
    return split_lines(iter_text(data, encoding), budget, max_line=MAX_LINE)


MAX_LINE = 1 << 20
"""Characters of one CSV line handed to the reader at once. A longer line (all rows joined on
one line, a megabyte cell) goes in segments of this size, each ending a row, so neither the
reader's buffer nor the detectors' folded copies of a row grow with the line: a 32 MiB line
peaked at ~490 MB as one row. A quoted field still spans segments (the reader joins it)."""
_LINE_ENDS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
"""What ``str.splitlines`` ends a line at."""


def split_lines(pieces: Iterable[str], budget: Budget | None = None,
                max_line: int | None = None) -> Iterator[list[str]]:
    """The lines (ends kept) of a text given in pieces, as ``"".join(pieces).splitlines(True)``
    would cut them, a list per piece. A line longer than a piece is gathered in a list and
    joined once: re-joining it with every piece (as before) made a 100 MB line cost 5 GB of
    copying and several copies of itself at once. A piece ending in ``\r`` waits for the next
    (it may be the first half of ``\r\n``). With ``max_line``, a line that grows past it is
    handed on in segments of at least that size, without a line end."""
    carry: list[str] = []  # pieces of a line not ended yet
    carried = 0
    for piece in pieces:
        if budget is not None:
            budget.check_time()
        if not piece:
            continue
        if carry and carry[-1].endswith("\r"):
            if piece.startswith("\n"):
                carry.append("\n")
                piece = piece[1:]
            yield ["".join(carry)]
            carry, carried = [], 0
        lines = piece.splitlines(keepends=True)
        if not lines:
            continue
        last = lines[-1]
        tail = lines.pop() if last[-1] not in _LINE_ENDS or last.endswith("\r") else None
        if carry and lines:
            lines[0] = "".join(carry) + lines[0]
            carry, carried = [], 0
        if tail is not None:
            carry.append(tail)
            carried += len(tail)
        if lines:
            yield lines
        if max_line is not None and carried >= max_line and not carry[-1].endswith("\r"):
            yield ["".join(carry)]
            carry, carried = [], 0
    if carry:
        yield ["".join(carry)]


def text_blocks(pieces: Iterator[str], source: str, budget: Budget | None = None) -> Iterator[TextBlock]:
    """Free text in blocks of about BLOCK characters, cut at a paragraph (else line) end so
    that no record is split."""
    carry = ""
    produced = False
    for piece in pieces:
        if budget is not None:
            budget.check_time()
        carry += piece
        while len(carry) > BLOCK:
            cut = carry.rfind("\n\n", 0, BLOCK - 1) + 2
            if cut < BLOCK // 2:
                cut = carry.rfind("\n", 0, BLOCK) + 1
            if cut <= 0:
                cut = BLOCK
            yield TextBlock(carry[:cut], source)
            produced = True
            carry = carry[cut:]
    if carry or not produced:
        yield TextBlock(carry, source)


def str_items(text: str, source: str, budget: Budget | None = None) -> Iterator[Table | TextBlock]:
    """Text already decoded (a mail body, an RTF): a Table when it is delimited rows, else
    free-text blocks."""
    delim = table_delimiter(text[:SAMPLE])
    if delim:
        yield rows_table(csv.reader(io.StringIO(text, newline=""), delimiter=delim), source)
    else:
        yield from text_blocks(iter((text,)), source, budget)
