import random

import pytest
import regex
from numeric_path import from_numbers
from stdnum.jp import cn

from dlp.detect import corporate_number

_TOKEN = regex.compile(r"\d[\d -]*\d")


def scan(text: str) -> list:
    return from_numbers(corporate_number, text)


def make(body: str) -> str:
    """A synthetic corporate number: the check digit + 12 digits."""
    return cn.calc_check_digit(body) + body


VALID = make("402718350964")
INVALID = str((int(VALID[0]) + 1) % 10) + VALID[1:]


def grouped(n: str, sep: str) -> str:
    return sep.join((n[0], n[1:5], n[5:9], n[9:]))


@pytest.mark.parametrize("form", [VALID, grouped(VALID, "-"), grouped(VALID, " ")])
@pytest.mark.parametrize("label", ["法人番号：", "Corporate Number: ", "corporate_no=", "（法人番号）"])
def test_found_with_label(form, label):
    [f] = scan(f"株式会社サンプル {label}{form}")
    assert f.key == VALID and not f.identifies and f.detector == "corporate_number"


@pytest.mark.parametrize("text", [VALID, f"JAN {VALID}", f"会社法人等番号 {grouped(VALID, '-')}"])
def test_not_found_without_label(text):
    assert scan(text) == []


def test_invalid_check_digit_rejected():
    assert not cn.is_valid(INVALID)
    assert scan(f"法人番号 {INVALID}") == []
    assert corporate_number.check(INVALID) is None


def test_wrong_grouping_and_placeholder_rejected():
    assert scan(f"法人番号 {VALID[:4]}-{VALID[4:]}") == []
    assert scan("法人番号 9999999999999") == []


def test_full_width_digits():
    fw = grouped(VALID, "－").translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    [f] = scan(f"法人番号：{fw}")
    assert f.key == VALID


def test_check_labelled_cell():
    assert corporate_number.check(grouped(VALID, "-")).key == VALID
    assert corporate_number.check(VALID[1:]) is None


def test_mask_keeps_at_most_last_four_digits():
    f = corporate_number.check(VALID)
    assert regex.sub(r"\D", "", f.masked) == VALID[-4:] and f.masked.endswith(VALID[-4:])


def test_random_13_digit_numbers_need_the_label():
    rng = random.Random(7)
    numbers = [f"{rng.randrange(10**12, 10**13)}" for _ in range(2_000)]
    valid = [n for n in numbers if cn.is_valid(n)]
    assert valid and scan("\n".join(numbers)) == []
    assert [f.key for f in scan("\n".join(f"法人番号 {n}" for n in numbers))] == valid


@pytest.mark.parametrize("header", ["法人番号", "Corporate Number", "corporate_no", "corporation_number"])
def test_labels_match(header):
    assert corporate_number.LABELS.search(header)


@pytest.mark.parametrize("header", ["電話番号", "注文番号", "郵便番号", "会員番号", "個人番号", "会社法人等番号",
                                    "corporate_notes"])
def test_labels_do_not_match_other_headers(header):
    assert not corporate_number.LABELS.search(header)
