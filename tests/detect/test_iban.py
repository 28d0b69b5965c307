import pytest
from stdnum import iban as stdiban

from dlp.detect import iban
from dlp.detect.normalize import fold


def make(country: str, bban: str) -> str:
    """A synthetic IBAN: ``bban`` with the right mod-97 check digits."""
    return country + stdiban.calc_check_digits(country + "00" + bban) + bban


DE = make("DE", "370400440532013000")
GB = make("GB", "WEST12345698765432")
NL = make("NL", "ABNA0417164300")
NO = make("NO", "86011117947")          # the shortest (15)
FR = make("FR", "20041010050500013M02606")


def spaced(compact: str) -> str:
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def keys(text: str) -> list[str]:
    return [f.key for _o, f in iban.find(fold(text))]


@pytest.mark.parametrize("value", [DE, GB, NL, NO, FR])
def test_found_contiguous_and_grouped(value):
    assert keys(f"振込先 IBAN {value} まで") == [value]
    assert keys(f"IBAN: {spaced(value)}, BIC COBADEFFXXX") == [value]
    assert keys(f"iban: {value}") == [value]


def test_needs_the_word_iban_nearby():
    assert keys(f"振込先 {DE} まで") == []
    assert keys(f"LIBANON {DE}") == []               # the word, not the letters in another word
    assert keys(f"IBAN{' ' * 300}{DE}") == []        # beyond REACH


def test_offset_and_several():
    text = f"IBAN a {spaced(DE)} b {GB}"
    found = list(iban.find(text))
    assert [(o, f.key) for o, f in found] == [(7, DE), (text.index(GB), GB)]


def test_following_word_is_not_swallowed():
    assert keys(f"IBAN {spaced(DE)} ABCD") == [DE]
    assert keys(f"IBAN {spaced(NO)} ZZZ") == [NO]


@pytest.mark.parametrize("text", [
    DE[:2] + ("00" if DE[2:4] != "00" else "01") + DE[4:],      # wrong check digits
    DE[:-1] + ("1" if DE[-1] != "1" else "2"),                  # mod-97 fails
    make("DE", "37040044053201300"),                            # wrong length for DE
    make("XX", "370400440532013000"),                           # no such country
    "AB12 3456 7890 1234",                                      # random code
    "ZZ" + DE,                                                  # inside a longer token
])
def test_rejected(text):
    assert keys(f"IBAN {text}") == []


def test_full_width_input():
    wide = spaced(DE).translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)} | {0x20: 0x3000})
    assert keys(f"ＩＢＡＮ口座：{wide}") == [DE]


def test_mask_keeps_country_and_last_four():
    [(_o, f)] = iban.find(f"IBAN {DE}")
    assert f.masked == "DE" + "*" * (len(DE) - 6) + DE[-4:]
    assert DE[4:-4] not in f.masked and not f.identifies


def test_check_labelled_cell():
    assert iban.check(spaced(GB)).key == GB
    assert iban.check(GB.lower()).key == GB
    assert iban.check(GB + "0") is None
    assert iban.check("n/a") is None


@pytest.mark.parametrize("header, ok", [
    ("IBAN", True), ("iban_number", True), ("国際銀行口座番号", True),
    ("口座番号", False), ("librarian", False), ("BIC", False),
])
def test_labels(header, ok):
    assert bool(iban.LABELS.search(header)) == ok


def test_ibans_one_space_apart_are_all_found():
    at = [make("AT", f"1904300234573{i:03d}") for i in range(4)]      # 20 characters: groups of four
    assert keys("IBAN: " + " ".join(at)) == at


def test_an_iban_after_other_groups_is_found():
    assert keys("IBAN " + " ".join(["AB12"] * 8) + " " + spaced(DE)) == [DE]


def test_dotted_capital_i_is_not_the_word():
    assert keys(f"İBAN: {spaced(DE)}") == []
