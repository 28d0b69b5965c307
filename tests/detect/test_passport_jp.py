import pytest
import regex

from dlp.detect import passport_jp as passport
from dlp.detect.normalize import fold

NUMBER = "TK4071896"                       # synthetic


def scan(text: str):
    return [f for _off, f in passport.find(fold(text))]


@pytest.mark.parametrize("text", [f"旅券番号：{NUMBER}", f"パスポート番号 {NUMBER}", f"Passport No. {NUMBER}",
                                  f"passport\n{NUMBER}", f"{NUMBER}（旅券）", "旅券番号 MZ5208143"])
def test_found_with_label(text):
    [f] = scan(text)
    assert f.key in (NUMBER, "MZ5208143") and f.identifies and f.detector == "passport_jp"


def test_offset_is_the_value_start():
    text = f"旅券番号：{NUMBER}"
    [(off, _f)] = passport.find(text)
    assert text[off:off + 9] == NUMBER


@pytest.mark.parametrize("text", [NUMBER, f"品番 {NUMBER}", f"予約番号 {NUMBER}"])
def test_not_found_without_label(text):
    assert scan(text) == []


@pytest.mark.parametrize("value", ["TK407189", "TK40718960", "T4071896", "TKX4071896", "XTK4071896", "TK4071896X",
                                   "TK0000000", "tk4071896"])
def test_wrong_shapes_rejected(value):
    assert scan(f"旅券番号 {value}") == []


def test_full_width():
    [f] = scan("旅券番号：ＴＫ４０７１８９６")
    assert f.key == NUMBER


def test_check_labelled_cell():
    assert passport.check(NUMBER).key == NUMBER
    assert passport.check(" tk4071896 ").key == NUMBER          # typed in lower case into a form
    assert passport.check(fold("ＴＫ４０７１８９６")).key == NUMBER
    assert passport.check("TK407189") is None
    assert passport.check("TK0000000") is None


def test_mask_keeps_ends_only():
    f = passport.check(NUMBER)
    assert f.masked == "T*******6"
    assert len(regex.sub(r"\D", "", f.masked)) <= 4


@pytest.mark.parametrize("header", ["旅券番号", "パスポート番号", "Passport No", "passport_number"])
def test_labels_match(header):
    assert passport.LABELS.search(header)


@pytest.mark.parametrize("header", ["電話番号", "注文番号", "郵便番号", "会員番号", "個人番号", "品番"])
def test_labels_do_not_match_other_headers(header):
    assert not passport.LABELS.search(header)
