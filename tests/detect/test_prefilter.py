"""The prefilter only narrows where detectors look: scanning its windows must find exactly
what scanning the whole text finds, and text without personal data must leave no window."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic import benign_corpus, bulk_samples

from dlp.detect import iban, numbers
from dlp.detect.normalize import fold
from dlp.detect.prefilter import NUMBERS, Prefilter
from dlp.detect.registry import DETECTOR_IDS
from dlp.detect.scanner import DetectorSet

SCANNER = DetectorSet(frozenset(DETECTOR_IDS))
LENGTHS = SCANNER.lengths


def whole_tokens(text: str) -> set[tuple[str, int, int]]:
    return {(tok, s, e) for tok, _d, s, e in numbers.tokens(text, LENGTHS, strict=True)}


def window_tokens(text: str) -> set[tuple[str, int, int]]:
    out = set()
    for lo, hi in SCANNER.prefilter.windows(text).get(NUMBERS, ()):
        out |= {(tok, s, e) for tok, _d, s, e in numbers.tokens(text, LENGTHS, True, lo, hi)}
    return out


# Digits dominate so that long runs (and so every digit count) occur; every character the
# token grammar treats specially is in the alphabet, plus letters, labels and line breaks.
ALPHABET = st.sampled_from(list("0123456789" * 6 + "()/- +" * 3 + ":#.,_aZ\n〒番号"))


@settings(max_examples=1500, deadline=None)
@given(st.text(ALPHABET, min_size=1, max_size=300))
def test_number_windows_keep_every_token(text):
    assert window_tokens(text) == whole_tokens(text)


@pytest.mark.parametrize("text", [
    "TEL 090-1234-5678", "〒100-0001", "普通 1234567", "SSN: 123-45-6789", "+81 90 1234 5678",
    "(03) 1234-5678", "4111 1111 1111 1111", "2026-11-05-1234-5678", "個人番号 1234 5678 9018",
    "1234567 7654321 1234567 7654321", "x " * 100 + "090-1234-5678" + " y" * 100,
])
def test_number_windows_on_known_shapes(text):
    assert whole_tokens(text) and window_tokens(text) == whole_tokens(text)


def test_offsets_are_characters_in_japanese_text():
    text = "お問い合わせは担当の山田まで。" * 20 + "電話 090-1234-5678、生年月日 昭和60年4月1日"
    windows = SCANNER.prefilter.windows(text)
    [(lo, hi)] = windows[NUMBERS]
    at = text.index("090")
    assert lo <= at and at + len("090-1234-5678") <= hi
    [(lo, hi)] = windows["birth_date"]
    assert lo <= text.index("昭和") < hi


def test_a_long_number_run_is_walked_once():
    text = "12 34 56 78 " * 200_000          # 2.4 M characters of candidates: quadratic would hang
    windows = SCANNER.prefilter.windows(text)
    assert windows[NUMBERS] == [(0, len(text))]


def texts() -> list[str]:
    out = [s.data.decode("cp932" if s.name in ("residents.csv", "mynumber.csv") else "utf-8", "replace")
           for s in bulk_samples(200) if not s.name.endswith(".json")]
    out += [
        "氏名：山田 太郎\n生年月日：昭和60年4月1日（39歳）\n旅券番号 TK1234567\nIBAN DE89 3704 0044 0532 0130 00",
        "iban: de89370400440532013000 / passport no. MZ7654321 / born 1985-04-01",
        "本社は東京都千代田区丸の内1-1-1、支店は横浜市中区本町2-3-4です。連絡は a.b@example.co.jp まで。",
        "1985年4月1日生の職員、S60.4.1生まれ。Name: John Smith, DOB 04/01/1985",
    ]
    return out


@pytest.mark.parametrize("detector", [m.ID for m in SCANNER.textual])
def test_text_detector_windows_find_what_the_whole_text_has(detector):
    module = next(m for m in SCANNER.textual if detector == m.ID)
    for raw in texts():
        text = fold(raw)
        whole = set(module.find(text))
        windowed = {(lo + off, f) for lo, hi in SCANNER.prefilter.windows(text).get(detector, ())
                    for off, f in module.find(text[lo:hi])}
        assert windowed == whole


def test_scanner_findings_equal_unfiltered_detectors():
    """The scanner's hits on the evaluation texts are what the detectors find on the whole text."""
    for raw in texts():
        text = fold(raw)
        expected = {(s, f) for tok, d, s, e in numbers.tokens(text, LENGTHS, strict=True)
                    for m in SCANNER.by_len.get(len(d), ())
                    if (f := m.from_number(tok, d, text, s, e)) is not None}
        expected |= {h for m in SCANNER.textual for h in m.find(text)}
        got = set(SCANNER.text_hits(text))
        assert expected <= got   # plus names beside other findings (``near``)
        assert {h for h in got if h[1].detector != "person_name"} == \
            {h for h in expected if h[1].detector != "person_name"}


@pytest.mark.parametrize("kind", ["access-log", "orders", "prose-ja"])
def test_benign_text_leaves_no_numeric_window(kind):
    text = fold(benign_corpus(200_000, kinds=(kind,)).decode("utf-8", "ignore"))
    windows = SCANNER.prefilter.windows(text)
    assert NUMBERS not in windows      # order ids, dates, log times: no wanted digit count
    assert sum(hi - lo for spans in windows.values() for lo, hi in spans) < len(text) // 10


def test_no_detectors_no_pattern():
    assert Prefilter((), numeric=False).windows("090-1234-5678") == {}


FRAGMENTS = st.sampled_from([
    "09012345678", "@docomo.ne.jp", "s2112345678", "@u.example.ac.jp", "〒192-0001", "東京都", "八王子市戸吹町1-2-3",
    "千代田区丸の内1-1-1", "氏名", "：山田 太郎", "旅券番号", "TK1234567", "生年月日", "1985年4月1日", "S60.4.1",
    "123-45-6789", "03-1234-5678", "4111111111111111", "IBAN", "DE89370400440532013000", "個人番号",
    "123456789018", "歳", "生", "(", ")", "-", " ", "\n", "a", ".", "born", "Name", "SSN", "0",
])


@settings(max_examples=800, deadline=None)
@given(st.lists(FRAGMENTS, min_size=1, max_size=14).map("".join))
def test_detectors_next_to_each_other_lose_nothing(text):
    """Fragments of different detectors touching each other (a number against an @, a
    label against a number): the windows find what the detectors find on the whole text."""
    expected = {(s, f) for tok, d, s, e in numbers.tokens(text, LENGTHS, strict=True)
                for m in SCANNER.by_len.get(len(d), ())
                if (f := m.from_number(tok, d, text, s, e)) is not None}
    expected |= {h for m in SCANNER.textual for h in m.find(text)}
    got = {h for h in SCANNER.text_hits(text) if h[1].detector != "person_name" or h in expected}
    assert got == expected


@pytest.mark.parametrize("text, detector", [
    ("連絡先: 09012345678@docomo.ne.jp", "email"),
    ("Mail: s2112345@u.example.ac.jp", "email"),
    ("〒192-0001東京都八王子市戸吹町1-2-3", "address"),
    ("氏名4111111111111111(", "credit_card"),
    ("生年月日123-45-6789", "us_ssn"),
    ("東京都03-1234-5678", "phone"),
    ("TK1234567旅券番号", "passport_jp"),
    ("IBAN" + " " * 190 + "GB82 WEST 1234 5698 7654 32", "iban"),
    ("GB82 WEST 1234 5698 7654 32" + " " * 190 + "IBAN", "iban"),
])
def test_touching_anchors_found(text, detector):
    assert detector in {f.detector for _o, f in SCANNER.text_hits(fold(text))}


@pytest.mark.parametrize("text", [
    "zz IBAN".ljust(210) + "GB82WEST12345698765432".ljust(251) + "IBANS are listed here",
    "XIBAN GB82WEST12345698765432".ljust(249) + "IBAN",
])
def test_a_window_edge_does_not_cut_a_word(text):
    """A window that ended inside IBANS (or began inside XIBAN) would read the word IBAN."""
    windowed = [f for _o, f in SCANNER.text_hits(text) if f.detector == "iban"]
    assert windowed == [f for _o, f in iban.find(text)] == []
