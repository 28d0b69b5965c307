import pytest
from faker import Faker
from numeric_path import from_numbers

from dlp.detect import postal_code
from dlp.detect.normalize import fold


def numbers(text: str) -> list:
    return from_numbers(postal_code, text)


@pytest.mark.parametrize("text, key", [
    ("〒100-0001 東京都千代田区千代田1-1", "100-0001"),
    ("住所は530-0001 大阪市北区梅田", "530-0001"),
    ("〒2310023", "231-0023"),
    ("〒 231-0023", "231-0023"),
    ("郵便番号：1500001", "150-0001"),
    ("zip 1060032", "106-0032"),
    ("〒060-8621", "060-8621"),              # the individual code of a large office
    ("〒１００－０００１", "100-0001"),        # full width
    ("〒１００ー０００１", "100-0001"),        # long-vowel mark as a dash between digits
])
def test_found(text, key):
    assert [f.key for f in numbers(text)] == [key]


@pytest.mark.parametrize("text", [
    "〒999-9999",                 # never assigned
    "〒000-0000",
    "〒100-9999",
    "注文番号 1000001",            # seven bare digits without 〒 or label
    "伝票 150-0001-23",            # part of a longer code
    "品番 A-100-0001",
    "v1.100-0001",
    "100-00012",
])
def test_rejected(text):
    assert numbers(text) == []


def test_label_names_only_the_first_number_after_it():
    assert [f.key for f in numbers("〒150-0001 注文番号 1000001")] == ["150-0001"]
    assert [f.key for f in numbers("郵便番号 1500001 / 1000001")] == ["150-0001"]


def test_bracketed_token_from_the_scanner():
    text = "(100-0001)"
    assert postal_code.from_number("(100-0001", "1000001", text, 0, 9).key == "100-0001"


def test_key_mask_and_identifies():
    [f] = numbers("〒100-0001")
    assert f.detector == "postal_code" and f.masked == "100-****" and not f.identifies


def test_check_labelled_cell():
    assert postal_code.check("100-0001").key == "100-0001"
    assert postal_code.check("〒1000001").key == "100-0001"
    assert postal_code.check(fold("〒　１００－０００１")).key == "100-0001"
    assert postal_code.check("999-9999") is None
    assert postal_code.check("100-00011") is None
    assert postal_code.check("東京都") is None


def test_faker_postcodes_are_checked_not_trusted():
    """Faker makes random postcodes: every one found must exist, whichever they are."""
    fake = Faker("ja_JP")
    Faker.seed(7)
    for _ in range(200):
        code = fake.postcode()
        f = postal_code.check(code)
        assert (f is not None) == postal_code.exists(code.replace("-", ""))


def test_lookup_is_cached_and_small():
    bits = postal_code._codes()
    assert bits is postal_code._codes()
    assert len(bits) == 10**7 // 8
    assert sum(bin(b).count("1") for b in bits) > 120_000


@pytest.mark.parametrize("header, ok", [
    ("郵便番号", True), ("〒", True), ("ZIP", True), ("zip_code", True), ("Postal Code", True),
    ("postcode", True),
    ("住所", False), ("postal address", False), ("電話番号", False), ("unzip", False), ("郵便物", False),
])
def test_labels(header, ok):
    assert bool(postal_code.LABELS.search(header)) == ok
