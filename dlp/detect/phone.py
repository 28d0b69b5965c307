"""Telephone numbers valid in their numbering plan (Japan by default).

Japanese numbers are checked against the national-number patterns that ``phonenumbers``
ships (compiled once into one regex: ``phonenumbers.parse`` costs ~20 µs, too slow for
30,000-row lists). Numbers with another country code go through ``phonenumbers`` itself.
A phone number alone does not identify a person (company switchboards, shared lines).
"""

from __future__ import annotations

import re

import phonenumbers
import regex
from phonenumbers import PhoneMetadata

from dlp.model import Finding

ID = "phone"
LABELS = regex.compile(r"電話|携帯|TEL|phone|mobile|FAX|連絡先|ﾃﾞﾝﾜ|でんわ|ケータイ", regex.IGNORECASE)
DIGIT_LENGTHS = frozenset(range(9, 16))  # JP: 10-11; with +country code: 9-15
_SHAPE = re.compile(r"(?:\+\d{1,3}[ -]?(?:\(0\))?[ -]?)?\(?\d{1,5}\)?(?:[ -]?\(?\d{1,5}\)?){0,3}")

_JP = PhoneMetadata.metadata_for_region("JP")
_JP_TYPES = [
    d.national_number_pattern
    for d in (_JP.fixed_line, _JP.mobile, _JP.toll_free, _JP.premium_rate,
              _JP.personal_number, _JP.voip, _JP.pager, _JP.uan)
    if d is not None and d.national_number_pattern
]
_JP_VALID = re.compile("(?:" + "|".join(f"(?:{p})" for p in _JP_TYPES) + ")")


def _national_jp(digits: str) -> str | None:
    """Return the national significant number if ``digits`` (with leading 0) is valid in JP."""
    if len(digits) not in (10, 11) or digits[0] != "0" or digits[1] == "0":
        return None
    nsn = digits[1:]
    return nsn if _JP_VALID.fullmatch(nsn) else None


def _mask(number: str) -> str:
    """A Japanese number in its national form (090-****-5678), others in E.164 (+44-****-0958)."""
    return f"{number[:3]}-****-{number[-4:]}"


def _jp(nsn: str | None) -> Finding | None:
    return Finding(ID, "+81" + nsn, _mask("0" + nsn)) if nsn else None


def _compact(raw: str) -> str:
    """The number without its separators (a chain of replaces: several times faster than a
    translate table on short strings)."""
    return raw.replace("-", "").replace(" ", "").replace("(", "").replace(")", "")


def validate(raw: str) -> Finding | None:
    """A finding if ``raw`` (digits with separators, maybe +country) is a valid number."""
    if not _SHAPE.fullmatch(raw):
        return None
    compact = _compact(raw)
    if not compact.startswith("+"):
        return _jp(_national_jp(compact))
    if compact.startswith("+810"):
        compact = "+81" + compact[4:]
    if compact.startswith("+81"):
        return _jp(_national_jp("0" + compact[3:]))
    try:
        num = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return Finding(ID, e164, _mask(e164))


def from_number(token: str, digits: str, text: str, start: int, end: int) -> Finding | None:
    """Numeric fast path: national numbers start with 0, international ones with +."""
    if token[0] not in "0+(" or digits.startswith("00"):   # 00…: an international prefix or a zero-padded id
        return None
    return validate(token)


def check(value: str) -> Finding | None:
    """A cell labelled as a phone: the whole value must be one number."""
    return validate(value.strip())


def fast_check(value: str) -> Finding | None:
    """A cell of a trusted phone column (its sample validated with ``check``): a domestic
    number is accepted by its shape (10 or 11 digits after a trunk 0), without the numbering
    plan; the key is the same E.164 form ``check`` gives. Anything else takes the full check."""
    v = value.strip()
    digits = _compact(v)
    if len(digits) in (10, 11) and digits.isascii() and digits.isdigit() and digits[0] == "0" != digits[1]:
        return _jp(digits[1:])
    return check(v)
