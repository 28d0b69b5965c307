import os

import formats as F
import pytest
from synthetic import people

from dlp.config import InspectSettings
from dlp.extract.budget import Budget
from dlp.extract.text import BLOCK, decode, detect_encoding, is_header, table_delimiter, text_items
from dlp.model import Table, TextBlock

SAMPLE = "氏名,住所\n山田 太郎,東京都千代田区千代田1-1\n佐藤 花子,大阪府大阪市北区梅田2-2\n"

SHORT = ["山田太郎", "山田", "氏名,電話番号", "東京都千代田区千代田1-1", "佐藤 花子,090-1234-5678", "あ",
         "鈴木 一郎\n", "カタカナ", "①㈱山田商店 ～ 東京", "髙橋 﨑", "ﾔﾏﾀﾞ ﾀﾛｳ", "ｻﾄｳ ﾊﾅｺ", "ﾃｽﾄ", "ｽｽﾞｷ",
         "〒100-0001 東京都千代田区"]


def test_cp932_euc_and_utf16_are_recognised():
    for enc in ("cp932", "euc_jp", "utf-16", "utf-16-le", "utf-16-be", "utf-8-sig", "utf-8"):
        text, _ = decode(SAMPLE.encode(enc))
        assert text.lstrip("\ufeff") == SAMPLE, enc


@pytest.mark.parametrize("text", SHORT)
def test_short_cp932_samples(text):
    decoded, enc = decode(text.encode("cp932"))
    assert decoded == text and enc in ("cp932", "utf-8")


@pytest.mark.parametrize("text", [t for t in SHORT if not any("\uff61" <= c <= "\uff9f" for c in t)
                                  and "①" not in t and "髙" not in t])
def test_short_euc_jp_samples(text):
    decoded, enc = decode(text.encode("euc_jp"))
    assert decoded == text and enc.startswith("euc")


@pytest.mark.parametrize("text", SHORT)
def test_iso2022jp_including_nec_extensions(text):
    decoded, enc = decode(F.sjis_to_jis(text))
    assert decoded == text and enc in ("iso-2022-jp", "utf-8")


def test_cp932_specific_characters_decode():
    text, enc = decode("①㈱山田商店 ～ 東京".encode("cp932"))
    assert enc == "cp932" and text == "①㈱山田商店 ～ 東京"


def test_non_japanese_legacy_text_is_named_by_charset_normalizer():
    for text, enc in (("Müller Straße 5, 80331 München, Telefon 089 1234567", "cp1252"),
                      ("Ελληνικά κείμενα για δοκιμή κωδικοποίησης", "iso-8859-7")):
        assert decode(text.encode(enc))[0] == text


@pytest.mark.parametrize("encoding", ["cp932", "euc_jp", "utf-8"])
@pytest.mark.parametrize("damage", [b"\xff", b"\x81\x20", b"\xc0\x80", b"\xed\xa0\x80\xfe" * 3])
def test_a_few_broken_bytes_leave_japanese_text_readable(encoding, damage):
    """One invalid sequence made every strict trial fail and the text was read as binary
    (its ASCII runs only): the names of a CP932 list were lost. A text that reads but for
    a few characters keeps its encoding, and the persons are counted."""
    rows = "".join(f"{p.name},{p.phone}\n" for p in people(40, seed=8))
    raw = ("氏名,電話番号\n" + rows).encode(encoding)
    cut = len(raw) // 2
    body = raw[:cut] + damage + raw[cut:]
    assert detect_encoding(body).startswith(encoding[:3])
    r = F.scan_bytes(body)
    assert r.persons >= 38, (r.persons, r.findings)


def test_utf16_without_bom_when_it_has_ascii():
    csv = SAMPLE * 5
    for enc in ("utf-16-le", "utf-16-be"):
        assert detect_encoding(csv.encode(enc)) == enc
        assert decode(csv.encode(enc))[0] == csv


def test_binary_is_not_text():
    assert detect_encoding(os.urandom(10_000)) is None
    assert detect_encoding(bytes(range(256)) * 10) is None


def test_table_detection_and_header():
    assert table_delimiter(SAMPLE) == ","
    assert table_delimiter(SAMPLE.replace(",", "\t")) == "\t"
    assert table_delimiter("ただの文章です。\n句読点、だけ。\n") is None
    assert is_header(["氏名", "住所"], ["山田", "東京"])
    assert not is_header(["山田 太郎", "090-1234-5678"], ["佐藤", "080"])


def test_large_csv_is_read_row_by_row(persons):
    data = (F.csv_text(persons) * 3).encode("cp932")  # about 0.6 MB, past the 64 KB sample
    items = list(text_items(data, "big.csv", Budget(InspectSettings())))
    assert len(items) == 1 and isinstance(items[0], Table)
    assert items[0].header == tuple(F.HEADER)
    rows = list(items[0].rows)
    assert len(rows) == 3 * 2000 + 2 and rows[0] == F.rows(persons)[0]


def test_long_text_is_split_at_paragraphs():
    para = "山田 太郎 様\n電話 090-1234-5678\n\n"
    text = para * (3 * BLOCK // len(para))
    items = list(text_items(text.encode(), "t.txt", Budget(InspectSettings())))
    assert len(items) >= 3 and all(isinstance(i, TextBlock) and len(i.text) <= BLOCK for i in items)
    assert "".join(i.text for i in items) == text
    assert all(i.text.endswith("\n\n") for i in items[:-1])


@pytest.mark.parametrize("charset", ["idna", "punycode", "undefined", "zlib", "x-bogus"])
def test_a_declared_charset_that_is_no_text_encoding_is_read_as_detected(charset):
    """A label is any string: idna, punycode and undefined raised UnicodeError inside the
    mail, HTML and XML readers ('extractor failed'), the whole body lost for a label."""
    mail = (f"From: a@b.c\r\nTo: x@y.z\r\nSubject: =?{charset}?b?5bGx55Sw?=\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset={charset}\r\n\r\n山田 太郎 090-1234-5678\r\n").encode()
    html = f'<html><head><meta charset="{charset}"></head><body><p>山田 太郎 090-1234-5678</p>'.encode()
    xml = f'<?xml version="1.0" encoding="{charset}"?><a><n>山田 太郎</n><t>090-1234-5678</t></a>'.encode()
    for body in (mail, html, xml):
        r = F.scan_bytes(body)
        assert r.errors == [] and r.findings.get("phone") == 1, (body[:60], r.errors)
    assert decode(b"abc")[0] == "abc"
