import pytest
import regex
from numeric_path import from_numbers

from dlp.detect import pension_number_jp as pension
from dlp.detect.normalize import fold

_TOKEN = regex.compile(r"\d[\d -]*\d")


def scan(text: str) -> list:
    return from_numbers(pension, text)


NUMBER = "4096358172"                      # synthetic: there is no check digit to compute
GROUPED = f"{NUMBER[:4]}-{NUMBER[4:]}"


@pytest.mark.parametrize("text", [
    f"基礎年金番号：{GROUPED}",
    f"年金番号 {NUMBER[:4]} {NUMBER[4:]}",
    f"Pension No. {GROUPED}",
    f"年金手帳の番号\n{GROUPED}",
    f"{GROUPED}（基礎年金番号）",
    f"基礎年金番号：{NUMBER}",
    f"年金番号（10桁） {NUMBER}",
    f"basic pension number: {NUMBER}",
])
def test_found_with_label(text):
    [f] = scan(text)
    assert f.key == NUMBER and f.identifies and f.detector == "pension_number_jp"


@pytest.mark.parametrize("text", [GROUPED, NUMBER, f"注文番号 {GROUPED}", f"会員番号 {NUMBER}"])
def test_not_found_without_label(text):
    assert scan(text) == []


@pytest.mark.parametrize("text, keys", [
    ("基礎年金番号・電話番号 0312345678", []),      # the nearer label is a phone's
    (f"年金番号 {GROUPED} TEL 0312345678", [NUMBER]),
    ("年金番号\n0312345678", []),                   # plain 10 digits: label on the same line
    ("年金番号 03-1234-5678", []),                   # a phone's grouping
    ("年金番号 123-4567890", []),
    ("年金番号 0000-000000", []),                    # placeholder
])
def test_phones_and_other_shapes_rejected(text, keys):
    assert [f.key for f in scan(text)] == keys


def test_full_width_digits():
    [f] = scan("基礎年金番号：４０９６－３５８１７２")
    assert f.key == NUMBER


def test_check_labelled_cell():
    assert pension.check(GROUPED).key == NUMBER
    assert pension.check(fold("４０９６　３５８１７２")).key == NUMBER
    assert pension.check(NUMBER[:-1]) is None
    assert pension.check("0000-000000") is None


def test_mask_keeps_at_most_last_four_digits():
    f = pension.check(GROUPED)
    assert f.masked == "****-**" + NUMBER[-4:]
    assert regex.sub(r"\D", "", f.masked) == NUMBER[-4:]


@pytest.mark.parametrize("header", ["基礎年金番号", "年金番号", "年金手帳番号", "Pension Number", "pension_no"])
def test_labels_match(header):
    assert pension.LABELS.search(header)


@pytest.mark.parametrize("header", ["電話番号", "注文番号", "郵便番号", "会員番号", "年金額", "pension_notes"])
def test_labels_do_not_match_other_headers(header):
    assert not pension.LABELS.search(header)
