import pytest
from numeric_path import from_numbers
from stdnum import luhn

from dlp.detect import credit_card
from dlp.detect.normalize import fold


def make(prefix: str, length: int, fill: str = "3") -> str:
    """A synthetic Luhn-valid number with ``prefix`` and ``length`` digits."""
    body = (prefix + fill * length)[:length - 1]
    return body + luhn.calc_check_digit(body)


def numbers(text: str) -> list:
    return from_numbers(credit_card, text)


def group(digits: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    out, i = [], 0
    for n in sizes:
        out.append(digits[i:i + n])
        i += n
    return sep.join(out)


VALID = [
    make("4", 16), make("4", 13), make("4", 19),                 # Visa
    make("51", 16), make("55", 16), make("2221", 16), make("2720", 16),   # Mastercard
    make("34", 15), make("37", 15),                              # Amex
    make("3528", 16), make("3589", 19),                          # JCB
    make("36", 14), make("300", 14), make("305", 14), make("38", 16),     # Diners
    make("6011", 16), make("65", 16), make("644", 16), make("649", 19),   # Discover
    make("62", 16), make("62", 19),                              # UnionPay
]


@pytest.mark.parametrize("digits", VALID)
def test_valid_issuers_contiguous(digits):
    [f] = numbers(f"カード {digits} で決済")
    assert f.key == digits and f.detector == "credit_card" and f.identifies


@pytest.mark.parametrize("text, key", [
    (group(make("4", 16), (4, 4, 4, 4)), make("4", 16)),
    (group(make("4", 16), (4, 4, 4, 4), "-"), make("4", 16)),
    (group(make("37", 15), (4, 6, 5)), make("37", 15)),
    (group(make("36", 14), (4, 6, 4), "-"), make("36", 14)),
    (group(make("62", 19), (4, 4, 4, 4, 3)), make("62", 19)),
])
def test_card_groupings(text, key):
    assert [f.key for f in numbers(f"No. {text} exp 12/30")] == [key]


@pytest.mark.parametrize("text", [
    make("4", 16)[:-1] + str((int(make("4", 16)[-1]) + 1) % 10),   # bad Luhn
    make("37", 16),                  # Amex prefix, 16 digits (Amex is 15)
    make("51", 15),                  # Mastercard prefix, 15 digits
    make("4", 15),                   # Visa has no 15-digit numbers
    make("2721", 16),                # just past the Mastercard 2-series
    make("9", 16), make("1", 16),    # no issuer
    make("3527", 16),                # just before JCB
    group(make("4", 16), (4, 8, 4)),                 # not a card grouping
    group(make("4", 16), (5, 5, 6), "-"),
    group(make("37", 15), (4, 4, 4, 3)),             # Amex is 4-6-5
    make("4", 16)[:8] + " " + make("4", 16)[8:12] + "-" + make("4", 16)[12:],   # mixed separators
])
def test_rejected(text):
    assert numbers(f"番号 {text} です") == []


@pytest.mark.parametrize("text", [
    f"0.{make('4', 16)}",            # a decimal fraction
    f"ABC{make('4', 16)}",           # inside a longer code
    f"ID-{make('4', 16)}",
    f"{make('4', 16)}-01",
])
def test_not_a_card_inside_other_tokens(text):
    assert numbers(text) == []


def test_bracketed_token_from_the_scanner():
    d = make("4", 16)
    text = f"カード ({d}) で"
    start = text.index("(")
    f = credit_card.from_number("(" + d, d, text, start, start + 1 + len(d))
    assert f is not None and f.key == d


def test_full_width_input():
    d = make("4", 16)
    wide = "－".join(d[i:i + 4] for i in range(0, 16, 4)).translate(
        str.maketrans("0123456789", "０１２３４５６７８９"))
    assert [f.key for f in numbers(f"カード番号：{wide}")] == [d]
    assert credit_card.check(fold(wide)).key == d


def test_mask_reveals_last_four_only():
    d = make("4", 16)
    [f] = numbers(d)
    assert f.masked == "****-****-****-" + d[-4:]
    assert d[:12] not in f.masked


def test_check_labelled_cell():
    assert credit_card.check(make("55", 16)).key == make("55", 16)
    assert credit_card.check(group(make("34", 15), (4, 6, 5), "-")).key == make("34", 15)
    assert credit_card.check(make("55", 17)) is None
    assert credit_card.check("4111 1111 1111 1112") is None
    assert credit_card.check("VISA") is None


@pytest.mark.parametrize("header, ok", [
    ("カード番号", True), ("クレジットカード", True), ("card number", True), ("card_no", True),
    ("CardNumber", True), ("cc_number", True), ("PAN", True),
    ("カード名義", False), ("card holder", False), ("card type", False), ("マイナンバーカード番号", False),
    ("ポイントカード番号", False), ("電話番号", False), ("occupancy", False),
])
def test_labels(header, ok):
    assert bool(credit_card.LABELS.search(header)) == ok
