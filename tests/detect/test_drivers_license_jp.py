import random

import pytest
import regex
from numeric_path import from_numbers
from synthetic import licence_number as make

from dlp.detect import drivers_license_jp as licence

_TOKEN = regex.compile(r"\d[\d -]*\d")


def scan(text: str) -> list:
    return from_numbers(licence, text)


VALID = make("30", "08", "417263")             # Tokyo, first licensed 2008


@pytest.mark.parametrize("label", ["運転免許証番号：", "免許証番号 ", "免許番号 第", "Driver's License No. ",
                                   "driving licence: ", "運転免許証 番号 "])
def test_found_with_label(label):
    [f] = scan(f"{label}{VALID}号")
    assert f.key == VALID and f.identifies and f.detector == "drivers_license_jp"


@pytest.mark.parametrize("text", [VALID, f"注文番号 {VALID}", f"会員番号：{VALID}"])
def test_not_found_without_label(text):
    assert scan(text) == []


@pytest.mark.parametrize("number", ["01" + VALID[2:], "99" + VALID[2:], "35" + VALID[2:], "300000000000"])
def test_invalid_commission_and_placeholders_rejected(number):
    assert scan(f"免許証番号 {number}") == []
    assert licence.check(number) is None


def test_unofficial_check_digit_does_not_reject():
    other = VALID[:10] + str((int(VALID[10]) + 1) % 10) + VALID[11]
    assert [f.key for f in scan(f"免許証番号 {other}")] == [other]


def test_only_plain_twelve_digits_in_free_text():
    assert scan(f"免許証番号 {VALID[:4]}-{VALID[4:8]}-{VALID[8:]}") == []
    assert licence.check(f"{VALID[:4]} {VALID[4:8]} {VALID[8:]}").key == VALID


def test_full_width_digits():
    fw = VALID.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    [f] = scan(f"運転免許証番号：第{fw}号")
    assert f.key == VALID


def test_mask_keeps_at_most_last_four_digits():
    f = licence.check(VALID)
    assert f.masked == "****-****-" + VALID[-4:]
    assert regex.sub(r"\D", "", f.masked) == VALID[-4:]


def test_random_numbers_need_the_label():
    rng = random.Random(12)
    numbers = [f"{rng.randrange(10**11, 10**12)}" for _ in range(2_000)]
    assert scan("\n".join(numbers)) == []
    expected = [n for n in numbers if n[:2] in licence.COMMISSIONS and len(set(n[2:])) > 1]
    assert expected
    assert [f.key for f in scan("\n".join(f"免許証番号 {n}" for n in numbers))] == expected


@pytest.mark.parametrize("header", ["運転免許証番号", "免許証番号", "免許番号", "Driver's License Number",
                                    "drivers_license_no", "driving licence"])
def test_labels_match(header):
    assert licence.LABELS.search(header)


@pytest.mark.parametrize("header", ["電話番号", "注文番号", "郵便番号", "会員番号", "個人番号", "license_key"])
def test_labels_do_not_match_other_headers(header):
    assert not licence.LABELS.search(header)
