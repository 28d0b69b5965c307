"""E-mail addresses.

A personal address identifies a person; role addresses (info@, support@, noreply@) belong
to a function, not a person, so they are findings that do not make a record a person.
"""

import regex

from dlp.model import Finding

ID = "email"
LABELS = regex.compile(r"e-?mail|mail|メール|ﾒｰﾙ|電子メール|アドレス", regex.IGNORECASE)
PATTERN = regex.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
ANCHOR = "@"
REACH = 64 + 256
"""A local part has at most 64 characters, a domain at most 255."""
ROLE_LOCALS = frozenset(
    "info support noreply no-reply donotreply admin administrator sales contact postmaster "
    "webmaster hostmaster abuse security help helpdesk office hr recruit press media billing "
    "team root mailer-daemon marketing service customer inquiry inquiries".split()
)


def _finding(value: str) -> Finding | None:
    local, _, domain = value.rpartition("@")
    if not local or len(local) > 64 or ".." in local or local.endswith("."):
        return None
    key = f"{local.lower()}@{domain.lower()}"
    masked = f"{local[0]}***@{domain.lower()}"
    return Finding(ID, key, masked, identifies=local.lower() not in ROLE_LOCALS)


def find(text: str):
    """Yield (offset, finding) for every address in folded text."""
    if "@" not in text:
        return
    for m in PATTERN.finditer(text):
        f = _finding(m.group())
        if f:
            yield m.start(), f


def check(value: str) -> Finding | None:
    """A cell labelled as e-mail: the whole value must be one address."""
    v = value.strip()
    m = PATTERN.fullmatch(v)
    return _finding(v) if m else None
