"""Japanese bank accounts: bank code (4 digits) + branch code (3) + account number (7).

An account is written either in full (``0001-100-1234567``, 14 digits) or as the account
number after the bank, branch and account type (``みずほ銀行 本店 普通 1234567``). The full
form is checked against the Zengin bank/branch list shipped by the ``zengin-code`` package
(offline; precomputed at install into a bitmap in the reference file, ``refdata``): with its 4-3-7 grouping a valid
bank/branch pair is evidence enough, run together as 14 plain digits it also needs an account
word near it (14 digits are also timestamps such as 20240115093000). A bare 7-digit account
number has no check at all and 7 digits are everywhere, so it is a finding only right after
an account word on the same line (普通, 当座, 口座番号, 銀行, 支店, account) with no other
label (電話, 注文, 番号, 〒 …) in between; in a column or key labelled as an account the label
is the context. An account names its holder.

Not covered: ゆうちょ銀行's own 記号-番号 form (5 + 8 digits).
"""

from __future__ import annotations

import regex

from dlp.detect import refdata
from dlp.detect.context import WINDOW, near
from dlp.model import Finding

ID = "bank_account_jp"
TYPED_BY_CONTENT = False
"""A column is this kind only when its header says so: any column of seven-digit numbers would pass."""
LABELS = regex.compile(
    r"口座(?!名義|名|種別|種目|区分)|振込先|bank[ _-]?account|account[ _-]?(?:number|no(?![a-z]))",
    regex.IGNORECASE,
)
DIGIT_LENGTHS = frozenset({7, 14})
_ACCOUNT_WORD = (
    r"口座(?:番号)?|(?:普通|当座|貯蓄|総合)(?:預金)?|預金|銀行|信用金庫|信金|支店|本店|\((?:普|当)\)"
    r"|bank|account(?:[ _-]?(?:number|no(?![a-z])))?|acct"
)
CONTEXT = regex.compile(_ACCOUNT_WORD, regex.IGNORECASE)
# An account word, then up to 12 characters with no line break, no digits (another value;
# only a length note such as 7桁 may stand between) and no other label word.
_WORD_JUST_BEFORE = regex.compile(
    rf"(?:{_ACCOUNT_WORD})"
    r"(?:(?!番号|電話|携帯|TEL|FAX|〒|郵便|注文|会員|顧客|(?<![a-z])(?:No|ID)(?![a-z])"
    r"|phone|order|member|customer|invoice)(?:\d{1,2}桁|[^\d\n])){0,12}\Z",
    regex.IGNORECASE,
)
_SEPARATED = regex.compile(r"(\d{4})([ -])(\d{3})\2(\d{7})")
_CELL_ACCOUNT = regex.compile(r"\D{0,40}?(\d{7})")
_SEPARATORS = str.maketrans("", "", " -")


def branch_exists(code: str) -> bool:
    """True when the 7 digits are a bank code and one of its branch codes."""
    n = int(code)
    return bool(refdata.tables().branches[n >> 3] >> (n & 7) & 1)


def _full(digits: str) -> Finding | None:
    if len(digits) != 14 or not digits.isdigit() or not branch_exists(digits[:7]):
        return None
    return Finding(ID, digits, "****-***-***" + digits[-4:], identifies=True)


def _account(digits: str) -> Finding | None:
    if len(digits) != 7 or not digits.isdigit() or len(set(digits)) == 1:
        return None                             # 0000000 is a form placeholder
    return Finding(ID, digits, "***" + digits[-4:], identifies=True)


def from_number(token: str, digits: str, text: str, start: int, end: int) -> Finding | None:
    """A 14-digit full account or a 7-digit account number right after an account word."""
    if len(digits) == 14:
        if _SEPARATED.fullmatch(token):
            return _full(digits)
        if token == digits and near(text, start, end, CONTEXT):
            return _full(digits)
        return None
    if token != digits or not _WORD_JUST_BEFORE.search(text, max(0, start - WINDOW), start):
        return None
    return _account(digits)


def check(value: str) -> Finding | None:
    """A cell labelled as an account: a full account, or an account number after a bank,
    branch and type (``1234567``, ``普通 1234567``, ``みずほ銀行 本店 普通 1234567``)."""
    v = value.strip()
    compact = v.translate(_SEPARATORS)
    if len(compact) == 14 and compact.isdigit():
        return _full(compact)
    m = _CELL_ACCOUNT.fullmatch(v)
    return _account(m.group(1)) if m else None
