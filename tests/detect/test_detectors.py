import pytest

from dlp.detect import email, person_name
from dlp.detect.normalize import fold
from dlp.detect.registry import DETECTOR_IDS
from dlp.detect.scanner import DetectorSet

SCANNER = DetectorSet(frozenset(DETECTOR_IDS))


def found(text: str, detector: str) -> list:
    return [f for _o, f in SCANNER.text_hits(fold(text)) if f.detector == detector]


@pytest.mark.parametrize("text, key", [
    ("090-1234-5678", "+819012345678"),
    ("０９０－１２３４－５６７８", "+819012345678"),
    ("09012345678", "+819012345678"),
    ("03-1234-5678", "+81312345678"),
    ("0120-123-456", "+81120123456"),
    ("050-1234-5678", "+815012345678"),
    ("+81 90 1234 5678", "+819012345678"),
    ("+81-3-1234-5678", "+81312345678"),
    ("+1 202-555-0143", "+12025550143"),
    ("+1 011-555-0143", None),   # no US area code starts with 0
    ("+44 20 7946 0958", "+442079460958"),
])
def test_phone_numbers(text, key):
    keys = {f.key for f in found(f"TEL {text} まで", "phone")}
    assert keys == ({key} if key else set())


@pytest.mark.parametrize("text", ["43-9150-0080", "2024-01-15", "123456789012", "0000-000-000",
                                  "order 0901234567890"])
def test_not_phone_numbers(text):
    assert found(text, "phone") == []


def test_phone_mask_keeps_only_prefix_and_last_four():
    [f] = found("090-1234-5678", "phone")
    assert f.masked == "090-****-5678" and not f.identifies


def test_email_personal_and_role():
    found = {f.key: f.identifies for _o, f in email.find("to Taro.Yamada@Example.co.jp, cc info@example.jp")}
    assert found == {"taro.yamada@example.co.jp": True, "info@example.jp": False}
    assert email.check("a..b@example.jp") is None
    [(_o, f)] = email.find("hanako@example.jp")
    assert f.masked == "h***@example.jp"


@pytest.mark.parametrize("value, ok", [
    ("山田 太郎", True), ("ﾔﾏﾀﾞ ﾀﾛｳ", True), ("やまだ たろう", True), ("Taro Yamada", True),
    ("株式会社山田商事", False), ("Acme Inc.", False), ("090-1234-5678", False), ("", False),
    ("林", True), ("x", False),
])
def test_names_in_name_columns(value, ok):
    assert (person_name.check(value) is not None) == ok


def test_name_mask():
    assert person_name.check("山田 太郎").masked == "山田 *郎"
    assert person_name.check("山田太郎").masked == "山田*郎"


def test_inline_labelled_name_in_prose():
    [(_o, f)] = person_name.find("お申込者 氏名：鈴木 一郎 様")
    assert f.key == "鈴木一郎"


def test_fold_keeps_length():
    s = "ＴＥＬ：０９０ー１２３４―５６７８　ｶﾞｷﾞ"
    assert len(fold(s)) == len(s)
    assert fold(s).startswith("TEL:090-1234-5678 ")


@pytest.mark.parametrize("cell", ["090-1234-5678", "03-1234-5678", "0312345678", "(03) 1234-5678",
                                  "+81 90 1234 5678", "+1 202-555-0143", "050-1234-5678"])
def test_phone_fast_check_keys_as_the_full_check(cell):
    from dlp.detect import phone
    assert phone.fast_check(cell) == phone.check(cell) is not None


@pytest.mark.parametrize("cell", ["", "abc", "0012345678", "123-4567-8901", "090-1234-56789"])
def test_phone_fast_check_rejects_what_is_not_a_domestic_number(cell):
    from dlp.detect import phone
    assert phone.fast_check(cell) is None


def test_a_record_that_held_nothing_is_remembered_and_one_with_findings_is_not():
    from dlp.model import Record
    scanner = DetectorSet(frozenset(DETECTOR_IDS))
    clean = Record((("cookie:_ga", "GA1.2.1234567890.1700000000"), ("X-Csrf", "4f3b2a1c")))
    personal = Record((("name", "山田 太郎"), ("tel", "090-1234-5678")))
    assert scanner.record(clean).findings == () and clean.fields in scanner._clean
    first = scanner.record(personal).findings
    assert first and personal.fields not in scanner._clean
    assert scanner.record(personal).findings == first and scanner.record(clean).findings == ()
