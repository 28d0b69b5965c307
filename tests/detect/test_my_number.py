import random

import pytest
import regex
from numeric_path import from_numbers
from stdnum.jp import in_

from dlp.detect import my_number
from dlp.detect.normalize import fold

_TOKEN = regex.compile(r"\d[\d -]*\d")


def scan(text: str) -> list:
    return from_numbers(my_number, text)


def make(body: str) -> str:
    """A synthetic My Number: 11 digits + the check digit."""
    return body + in_.calc_check_digit(body)


VALID = make("30481726559")
INVALID = VALID[:-1] + str((int(VALID[-1]) + 1) % 10)


def grouped(n: str, sep: str) -> str:
    return sep.join((n[:4], n[4:8], n[8:]))


@pytest.mark.parametrize("form", [VALID, grouped(VALID, " "), grouped(VALID, "-")])
@pytest.mark.parametrize("label", ["個人番号：", "マイナンバー ", "My Number: ", "MyNumber=", "mynumber ",
                                   "my_number: ", "個人番号カードの番号は "])
def test_found_with_label(form, label):
    [f] = scan(f"{label}{form} です")
    assert f.key == VALID and f.identifies and f.detector == "my_number"


def test_label_on_line_above_or_after():
    assert [f.key for f in scan(f"個人番号\n{VALID}\n")] == [VALID]
    assert [f.key for f in scan(f"{grouped(VALID, '-')}（個人番号）")] == [VALID]


@pytest.mark.parametrize("text", [VALID, f"注文番号 {VALID}", f"伝票番号: {grouped(VALID, '-')}",
                                  f"個人番号は後日送付します。{'。' * 40}{VALID}"])
def test_not_found_without_label(text):
    assert scan(text) == []


def test_invalid_check_digit_rejected():
    assert in_.is_valid(VALID) and not in_.is_valid(INVALID)
    assert scan(f"個人番号 {INVALID}") == []
    assert my_number.check(INVALID) is None


@pytest.mark.parametrize("form", [f"{VALID[:3]}-{VALID[3:9]}-{VALID[9:]}", f"{VALID[:4]} {VALID[4:8]}-{VALID[8:]}",
                                  "000000000000", "0000-0000-0000"])
def test_wrong_grouping_and_placeholders_rejected(form):
    assert in_.is_valid(form.replace("-", "").replace(" ", ""))
    assert scan(f"個人番号 {form}") == []


def test_full_width_digits():
    fw = grouped(VALID, "－").translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    [f] = scan(f"マイナンバー：{fw}")
    assert f.key == VALID


def test_check_labelled_cell():
    assert my_number.check(f" {grouped(VALID, '-')} ").key == VALID
    assert my_number.check(fold(grouped(VALID, "　"))).key == VALID
    assert my_number.check(VALID + "0") is None
    assert my_number.check("abc") is None


def test_mask_keeps_at_most_last_four_digits():
    f = my_number.check(VALID)
    assert f.masked == "****-****-" + VALID[-4:]
    assert regex.sub(r"\D", "", f.masked) == VALID[-4:]


@pytest.mark.parametrize("header", ["個人番号", "マイナンバー", "My Number", "MyNumber", "my_number", "個人番号カード"])
def test_labels_match(header):
    assert my_number.LABELS.search(header)


@pytest.mark.parametrize("header", ["電話番号", "注文番号", "郵便番号", "会員番号", "法人番号", "number",
                                    "enemy_number"])
def test_labels_do_not_match_other_headers(header):
    assert not my_number.LABELS.search(header)


def test_precision_on_random_order_ids():
    rng = random.Random(20261101)
    numbers = [f"{rng.randrange(10**11, 10**12)}" for _ in range(10_000)]
    valid = [n for n in numbers if in_.is_valid(n) and len(set(n)) > 1]
    assert 700 < len(valid) < 1150            # about 1 in 11 pass the check digit
    assert scan("\n".join(numbers)) == []
    assert scan("\n".join(f"注文番号 {n}" for n in numbers)) == []
    found = scan("\n".join(f"個人番号 {n}" for n in numbers))
    assert [f.key for f in found] == valid
