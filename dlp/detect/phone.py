"""Telephone numbers valid in their numbering plan (Japan by default).

Japanese numbers are checked against the national-number patterns that ``phonenumbers``
ships (compiled once into one regex: ``phonenumbers.parse`` costs ~20 µs, too slow for
30,000-row lists). Numbers with another country code go through ``phonenumbers`` itself.
A phone number alone does not identify a person (company switchboards, shared lines).
"""

import phonenumbers
import regex
from phonenumbers import PhoneMetadata

from dlp.model import Finding

ID = "phone"
LABELS = regex.compile(r"電話|携帯|TEL|phone|mobile|FAX|連絡先|ﾃﾞﾝﾜ|でんわ", regex.IGNORECASE)
CANDIDATE = regex.compile(r"(?<![\w+.-])(?:\+\d{1,3}[ -]?(?:\(0\))?[ -]?|\(?0)\d[\d ()-]{7,14}\d(?![\w-]|\.\d)")
_SEPARATORS = str.maketrans("", "", " -()")

_JP = PhoneMetadata.metadata_for_region("JP")
_JP_TYPES = [
    d.national_number_pattern
    for d in (_JP.fixed_line, _JP.mobile, _JP.toll_free, _JP.premium_rate,
              _JP.personal_number, _JP.voip, _JP.pager, _JP.uan)
    if d is not None and d.national_number_pattern
]
_JP_VALID = regex.compile("(?:" + "|".join(f"(?:{p})" for p in _JP_TYPES) + ")")


def _national_jp(digits: str) -> str | None:
    """Return the national significant number if ``digits`` (with leading 0) is valid in JP."""
    if len(digits) not in (10, 11) or digits[0] != "0" or digits[1] == "0":
        return None
    nsn = digits[1:]
    return nsn if _JP_VALID.fullmatch(nsn) else None


def _mask(e164: str) -> str:
    national = e164[3:] if e164.startswith("+81") else e164
    national = "0" + national if e164.startswith("+81") else national
    return f"{national[:3]}-****-{national[-4:]}"


def _finding_from(raw: str) -> Finding | None:
    compact = raw.translate(_SEPARATORS)
    if compact.startswith("+"):
        if compact.startswith("+810"):
            compact = "+81" + compact[4:]
        if compact.startswith("+81"):
            nsn = _national_jp("0" + compact[3:])
            return Finding(ID, "+81" + nsn, _mask("+81" + nsn)) if nsn else None
        try:
            num = phonenumbers.parse(compact, None)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(num):
            return None
        e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        return Finding(ID, e164, _mask(e164))
    nsn = _national_jp(compact)
    return Finding(ID, "+81" + nsn, _mask("+81" + nsn)) if nsn else None


def find(text: str):
    """Yield (offset, finding) for every valid number in folded text."""
    for m in CANDIDATE.finditer(text):
        f = _finding_from(m.group())
        if f:
            yield m.start(), f


def check(value: str) -> Finding | None:
    """A cell labelled as a phone: the whole value must be one number."""
    v = value.strip()
    return _finding_from(v) if CANDIDATE.fullmatch(v) else None
