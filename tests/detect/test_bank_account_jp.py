import pytest
import regex
from numeric_path import from_numbers

from dlp.detect import bank_account_jp as bank
from dlp.detect.normalize import fold

_TOKEN = regex.compile(r"\d[\d -]*\d")


def scan(text: str) -> list:
    return from_numbers(bank, text)


ACCOUNT = "3958172"                        # synthetic: account numbers have no check digit
BANK, BRANCH = "0001", "100"               # a real bank/branch pair (みずほ 本店), not a person
FULL = BANK + BRANCH + ACCOUNT


@pytest.mark.parametrize("text", [
    f"お振込先：みずほ銀行 本店 普通 {ACCOUNT}",
    f"三井住友銀行 渋谷支店 普通預金 {ACCOUNT} ヤマダ タロウ",
    f"口座番号：{ACCOUNT}",
    f"口座番号（7桁） {ACCOUNT}",
    f"当座 {ACCOUNT}",
    f"(普){ACCOUNT}",
    f"Bank account: {ACCOUNT}",
])
def test_account_number_after_an_account_word(text):
    [f] = scan(text)
    assert f.key == ACCOUNT and f.identifies and f.detector == "bank_account_jp"


@pytest.mark.parametrize("text", [
    ACCOUNT,
    f"注文番号 {ACCOUNT}",
    f"銀行振込でお支払い 注文番号 {ACCOUNT}",       # another label stands nearer
    f"みずほ銀行 TEL {ACCOUNT}",
    f"口座番号\n{ACCOUNT}",                         # account-only form: label on the same line
    "〒100-0005 東京都千代田区",                      # postcode shape
    f"普通 {ACCOUNT[:3]}-{ACCOUNT[3:]}",
    "口座番号 0000000",                              # placeholder
])
def test_account_number_without_context_rejected(text):
    assert scan(text) == []


@pytest.mark.parametrize("form", [f"{BANK}-{BRANCH}-{ACCOUNT}", f"{BANK} {BRANCH} {ACCOUNT}"])
def test_full_account_with_valid_bank_and_branch(form):
    [f] = scan(f"振込先 {form} です")
    assert f.key == FULL
    [f] = scan(form)                                # the 4-3-7 grouping and the pair suffice
    assert f.key == FULL


def test_full_account_plain_digits_need_context():
    assert scan(FULL) == []
    assert [f.key for f in scan(f"口座: {FULL}")] == [FULL]


@pytest.mark.parametrize("bank_code, branch", [("0001", "999"), ("0002", "100"), ("9999", "001")])
def test_unknown_bank_or_branch_rejected(bank_code, branch):
    assert bank.check(f"{bank_code}-{branch}-{ACCOUNT}") is None
    assert scan(f"口座 {bank_code}-{branch}-{ACCOUNT}") == []


def test_full_width_digits():
    fw = str.maketrans("0123456789-", "０１２３４５６７８９－")
    [f] = scan(f"みずほ銀行 本店 普通 {ACCOUNT.translate(fw)}")
    assert f.key == ACCOUNT
    [f] = scan(f"{BANK}-{BRANCH}-{ACCOUNT}".translate(fw))
    assert f.key == FULL


@pytest.mark.parametrize("value, key", [
    (ACCOUNT, ACCOUNT),
    (f"普通 {ACCOUNT}", ACCOUNT),
    (f"みずほ銀行 本店 普通 {ACCOUNT}", ACCOUNT),
    (f"{BANK}-{BRANCH}-{ACCOUNT}", FULL),
    (FULL, FULL),
    (f"{BANK}-999-{ACCOUNT}", None),
    (ACCOUNT[:6], None),
    ("0000000", None),
    ("みずほ銀行", None),
])
def test_check_labelled_cell(value, key):
    f = bank.check(fold(value))
    assert (f.key if f else None) == key


def test_masks_keep_at_most_last_four_digits():
    for value, digits in ((ACCOUNT, ACCOUNT), (FULL, FULL)):
        f = bank.check(value)
        assert regex.sub(r"\D", "", f.masked) == digits[-4:]
    assert bank.check(FULL).masked == "****-***-***" + ACCOUNT[-4:]


@pytest.mark.parametrize("header", ["口座番号", "振込先口座", "Bank Account", "account_number", "振込先"])
def test_labels_match(header):
    assert bank.LABELS.search(header)


@pytest.mark.parametrize("header", ["電話番号", "注文番号", "郵便番号", "会員番号", "口座名義", "口座名義人カナ",
                                    "銀行名", "account_id", "account"])
def test_labels_do_not_match_other_headers(header):
    assert not bank.LABELS.search(header)
