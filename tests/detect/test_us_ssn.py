import pytest
from numeric_path import from_numbers

from dlp.detect import us_ssn
from dlp.detect.normalize import fold


def numbers(text: str) -> list:
    return from_numbers(us_ssn, text)


@pytest.mark.parametrize("text, key", [
    ("employee 536-90-4399 joined", "536904399"),
    ("SSN: 536904399", "536904399"),
    ("Social Security Number\n536904399", "536904399"),
    ("社会保障番号 ５３６９０４３９９", "536904399"),
    ("ＳＳＮ　５３６－９０－４３９９", "536904399"),
])
def test_found(text, key):
    assert [f.key for f in numbers(text)] == [key]


@pytest.mark.parametrize("text", [
    "order 536904399 shipped",        # nine bare digits need a label
    "SSN: 536 90 4399",               # spaced form is not the SSN form in free text
    "SSN 000-12-3456",                # area 000
    "SSN 666-12-3456",                # area 666
    "SSN 912-34-5678",                # area 9xx
    "SSN 987-65-4321",                # the advertising range (9xx)
    "SSN 123-00-4567",                # group 00
    "SSN 123-45-0000",                # serial 0000
    "SSN 078-05-1120",                # the Woolworth wallet card
    "SSN 219-09-9999",                # published in an advertisement
    "SSN 457-55-5462",
    "ref A536-90-4399",               # inside a longer code
    "v1.536-90-4399",
    "536-90-4399-12",
])
def test_rejected(text):
    assert numbers(text) == []


def test_label_names_only_the_first_number_after_it():
    assert [f.key for f in numbers("SSN 536-90-4399, order 123456789")] == ["536904399"]
    assert [f.key for f in numbers("SSN 536904399 and 123456789")] == ["536904399"]


def test_mask_and_identifies():
    [f] = numbers("536-90-4399")
    assert f.masked == "***-**-4399" and f.identifies and f.detector == "us_ssn"


def test_check_labelled_cell():
    assert us_ssn.check("536-90-4399").key == "536904399"
    assert us_ssn.check("536904399").key == "536904399"
    assert us_ssn.check(fold("５３６　９０　４３９９")).key == "536904399"
    assert us_ssn.check("536-904399") is None
    assert us_ssn.check("666-90-4399") is None
    assert us_ssn.check("n/a") is None


@pytest.mark.parametrize("header, ok", [
    ("SSN", True), ("ssn_last", True), ("Social Security No.", True), ("社会保障番号", True),
    ("session", False), ("lessn", False), ("security group", False), ("電話番号", False),
])
def test_labels(header, ok):
    assert bool(us_ssn.LABELS.search(header)) == ok
