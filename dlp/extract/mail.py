"""Mail: RFC 5322 messages (.eml, the SMTP path's DATA) and Outlook .msg files.

Recipient addresses (To/Cc/Bcc) are records of a name and an address each (a mail with 300
customers in Cc: is a leak of 300 persons); subject and text bodies are text in their declared
charset (ISO-2022-JP read with NEC extensions); HTML bodies go to the HTML reader;
attachments and forwarded messages come back as Members. S/MIME and PGP encrypted parts are
reported as encrypted.

.msg is an OLE compound file of MAPI properties (``__substg1.0_XXXXTTTT`` streams: 001F
UTF-16LE, 001E 8-bit, 0102 binary); attachments and embedded messages are storages in it.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import re
from collections.abc import Iterator
from email.message import Message
from email.parser import BytesFeedParser
from email.utils import getaddresses

import olefile

from dlp.extract import text as textmod
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import Encrypted, Event, Member, Problem, describe
from dlp.extract.forms import bounded_params
from dlp.extract.ole import opened
from dlp.model import Record, TextBlock

ADDRESS_HEADERS = ("to", "cc", "bcc")
"""Recipients are records of the persons a message discloses (a customer list in Cc: is the
most reported leak in Japan); the sender's own address is not a disclosure and is left out."""
_TRUNCATION = frozenset({"CloseBoundaryNotFoundDefect", "StartBoundaryNotFoundDefect"})
"""Defects that mean a message was cut short (sloppy base64 padding alone is common and harmless)."""
MAX_PARTS = 1000
FEED = 64 * 1024
"""Bytes handed to the mail parser at a time, the deadline checked in between (the parser
takes ~0.3 ms per MIME part: a body of a million parts would run for minutes in one call)."""
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t]*")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _header(msg: Message, name: str) -> list[str]:
    """The values of header ``name``, unfolded and decoded (RFC 2047 encoded words, raw 8-bit
    bytes in their detected charset). Read from the raw values with ``decode_words``: the
    email package's own header objects (policy.default) cost quadratic time and memory in
    the number of encoded words (20,000 in a 400 KB Subject: took 4 GB)."""
    key = name.lower()
    return [decode_words(value) for k, value in msg.raw_items() if k.lower() == key and isinstance(value, str)]


def decode_words(value: str) -> str:
    """A raw header value as text, in one pass: adjacent encoded words of one charset are
    joined before decoding (a character may be split between them), the space between
    encoded words dropped (RFC 2047), a word that does not decode kept as it is."""
    value = _FOLD.sub("", value)
    if any("\udc80" <= ch <= "\udcff" for ch in value):  # 8-bit bytes (surrogate-escaped by the parser)
        value = textmod.decode(value.encode("utf-8", "surrogateescape"))[0]
    if "=?" not in value:
        return value
    out: list[str] = []
    run: list[bytes] = []   # bytes of adjacent encoded words in charset run_charset
    run_charset = ""
    pos = 0
    for m in _ENCODED_WORD.finditer(value):
        between = value[pos:m.start()]
        raw = _word_bytes(m.group(2), m.group(3))
        charset = m.group(1).split("*")[0]
        if raw is None:
            continue  # left in the text as written: appended with the next gap
        if run and (charset.lower() != run_charset.lower() or not _BETWEEN_WORDS.fullmatch(between)):
            out.append(textmod.decode_as(b"".join(run), run_charset))
            run = []
        if not run:
            out.append(between)
            run_charset = charset
        run.append(raw)
        pos = m.end()
    if run:
        out.append(textmod.decode_as(b"".join(run), run_charset))
    out.append(value[pos:])
    return "".join(out)


def _word_bytes(kind: str, data: str) -> bytes | None:
    try:
        if kind in "bB":
            return base64.b64decode(data + "=" * (-len(data) % 4))
        return binascii.a2b_qp(data.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return None


class _Policy(email.policy.Compat32):
    """compat32 (header values kept raw: ``_header`` decodes them; parts, payloads and defects
    as with any policy), with the parameterised headers bounded (``forms.bounded_params``)
    wherever the parser or a lookup reads them (boundary, charset, file name)."""

    def header_fetch_parse(self, name: str, value: str) -> str:  # type: ignore[override]
        if name.lower() in ("content-type", "content-disposition") and isinstance(value, str):
            value = bounded_params(value)
        return super().header_fetch_parse(name, value)


_POLICY = _Policy()


def _parse(data: bytes, where: str, budget: Budget) -> Message:
    """The message, parsed a FEED at a time within the deadline."""
    parser = BytesFeedParser(policy=_POLICY)
    view = memoryview(data)
    for start in range(0, len(data), FEED):
        parser.feed(bytes(view[start:start + FEED]))
        budget.check_time()
    return parser.close()


def _addresses(msg: Message, where: str) -> Iterator[Record]:
    for name in ADDRESS_HEADERS:
        values = _header(msg, name)
        if not values:
            continue
        try:
            pairs = getaddresses(values)
        except Exception:
            pairs = [("", v) for v in values]
        for display, addr in pairs:
            fields = tuple((label, v) for label, v in (("name", display), ("email", addr)) if v)
            if fields:
                yield Record(fields, f"{where}/{name}")


def eml_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    try:
        msg = _parse(data, where, budget)
    except Uninspectable:
        raise
    except Exception as e:
        raise Uninspectable("corrupt", f"{where}: cannot parse mail message ({describe(e)})") from None
    yield from _message(msg, where, budget)
    defects = {type(d).__name__ for part in msg.walk() for d in part.defects}
    broken = sorted(defects & _TRUNCATION)
    if broken:
        yield Problem("corrupt", f"{where}: damaged or truncated MIME message ({', '.join(broken)})")


def _message(msg: Message, where: str, budget: Budget) -> Iterator[Event]:
    yield from _addresses(msg, where)
    subject = " ".join(_header(msg, "subject"))
    if subject:
        yield TextBlock(subject, f"{where}/subject")
    for n, part in enumerate(msg.walk()):
        if n > MAX_PARTS:
            raise Uninspectable("too_large", f"{where}: more than {MAX_PARTS} MIME parts")
        budget.check_time()
        ctype = part.get_content_type()
        if part.is_multipart():
            if ctype == "multipart/encrypted":
                yield Encrypted(f"{where}/encrypted part")
            continue
        filename = _filename(part)
        if ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime") and (
                "enveloped" in str(part.get("content-type", "")).lower() or (filename or "").endswith(".p7m")):
            yield Encrypted(f"{where}/{filename or 'smime.p7m'}")
            continue
        if ctype == "application/pgp-encrypted":
            continue
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(inner_msg, Message):
                yield Member(f"{where}/{filename or 'message.eml'}", inner_msg.as_bytes(), "message/rfc822",
                             is_file=filename is not None)
            continue
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception:  # damaged transfer encoding: keep the raw text
            payload = str(part.get_payload()).encode("utf-8", "replace")
        budget.add_expanded(len(payload), f"{where}: MIME part")
        is_body = filename is None and part.get_content_maintype() == "text" and \
            str(part.get("content-disposition", "")).lower().find("attachment") < 0
        if is_body and ctype == "text/plain":
            charset = part.get_content_charset()
            text = textmod.decode_as(payload, charset) if charset else textmod.decode(payload)[0]
            if "-----BEGIN PGP MESSAGE-----" in text:
                yield Encrypted(f"{where}/PGP message")
            yield from textmod.str_items(text, f"{where}/body", budget)
        else:
            budget.add_member(where)
            label = filename or f"part{n}"
            yield Member(f"{where}/{label}", payload, ctype if is_body else "", is_file=filename is not None)


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    return decode_words(str(name)).replace("/", "_") if name else None


# -- Outlook .msg -----------------------------------------------------------------------------

_RECIP = {"3001": "name", "39FE": "email", "3003": "email"}


def msg_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    with opened(data, where, ".msg file", ".msg directory", storages=True) as (ole, entries):
        yield from _msg(ole, entries, (), where, budget, 0)


def _prop(ole: olefile.OleFileIO, path: list[str], budget: Budget, where: str) -> bytes:
    size = ole.get_size(path)
    budget.accept(max(size, 1), size, f"{where}: {'/'.join(path)}")
    return ole.openstream(path).read()


def _string(ole: olefile.OleFileIO, prefix: tuple[str, ...], entries: set[tuple[str, ...]], prop: str,
            budget: Budget, where: str, codepage: str = "cp932") -> str | None:
    for kind, enc in (("001F", "utf-16-le"), ("001E", codepage)):
        path = (*prefix, f"__substg1.0_{prop}{kind}")
        if path in entries:
            return _prop(ole, list(path), budget, where).decode(enc, "replace").rstrip("\x00")
    return None


def _msg(ole: olefile.OleFileIO, listing: list[list[str]], prefix: tuple[str, ...], where: str,
         budget: Budget, depth: int) -> Iterator[Event]:
    budget.check_depth(depth, where)
    entries = {tuple(e) for e in listing}
    strings = {p: _string(ole, prefix, entries, p, budget, where) for p in ("0037", "1000")}
    recips = sorted({e[len(prefix)] for e in entries
                     if len(e) > len(prefix) + 1 and e[:len(prefix)] == prefix
                     and e[len(prefix)].startswith("__recip_version1.0_")})
    for r in recips:
        fields = tuple((label, v) for p, label in _RECIP.items()
                       if (v := _string(ole, (*prefix, r), entries, p, budget, where)))
        if fields:
            yield Record(fields, f"{where}/to")
    if strings["0037"]:
        yield TextBlock(strings["0037"], f"{where}/subject")
    if strings["1000"]:
        yield from textmod.str_items(strings["1000"], f"{where}/body", budget)
    html_path = (*prefix, "__substg1.0_10130102")
    if not strings["1000"] and html_path in entries:
        yield Member(f"{where}/body.html", _prop(ole, list(html_path), budget, where), "text/html", is_file=False)
    attachments = sorted({e[len(prefix)] for e in entries
                          if len(e) > len(prefix) + 1 and e[:len(prefix)] == prefix
                          and e[len(prefix)].startswith("__attach_version1.0_")})
    for a in attachments:
        budget.add_member(where)
        budget.check_time()
        base = (*prefix, a)
        name = (_string(ole, base, entries, "3707", budget, where)
                or _string(ole, base, entries, "3704", budget, where) or a)
        name = name.replace("/", "_")
        data_path = (*base, "__substg1.0_37010102")
        inner = (*base, "__substg1.0_3701000D")
        if data_path in entries:
            yield Member(f"{where}/{name}", _prop(ole, list(data_path), budget, where))
        elif any(e[:len(inner)] == inner for e in entries):
            yield from _msg(ole, listing, inner, f"{where}/{name}", budget, depth + 1)
