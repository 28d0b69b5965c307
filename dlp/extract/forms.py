"""HTTP form bodies: multipart/form-data and application/x-www-form-urlencoded.

Each multipart part keeps its filename and content type, and the file inside is extracted by
its true type; form field names become record labels. A field that is a document of its own
(rows pasted into a textarea, a file as base64 or a data: URL, a JSON document) is extracted
as that document. A body that is not of the declared form shape is read as text instead, so
a label never hides content. JSON bodies are read by ``jsondoc``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value
from itertools import islice

from dlp.extract import embedded
from dlp.extract import text as textmod
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import Event, Member, Mismatch, Problem
from dlp.extract.sniff import magic
from dlp.model import Record


@dataclass(frozen=True)
class Part:
    """One piece of a body: a multipart part or an embedded file."""

    data: bytes
    filename: str | None
    content_type: str
    name: str | None = None
    transfer_encoding: str = ""


PARAMS_LENGTH = 16 * 1024
PARAMS_MAX = 100
"""A parameterised header (Content-Type, Content-Disposition) is read up to this length and
this many parameters: the email package's parameter splitter rescans the rest of the value
for each ``;`` (quadratic: one 160 KB Content-Disposition took tens of seconds in one call).
A real one holds a handful, and a 255-character file name percent-encoded fits."""


def bounded_params(value: str) -> str:
    """``value`` cut to PARAMS_LENGTH characters and PARAMS_MAX parameters."""
    value = value[:PARAMS_LENGTH]
    if value.count(";") > PARAMS_MAX:
        value = ";".join(value.split(";", PARAMS_MAX + 1)[:PARAMS_MAX + 1])
    return value


def header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split ``type/sub; a=b; filename*=UTF-8''x`` into the main value and decoded params."""
    value = bounded_params(value)
    msg = Message()
    msg["X"] = value
    main = msg.get_content_type() if "/" in value.split(";")[0] else value.split(";")[0].strip().lower()
    params: dict[str, str] = {}
    for key, val in msg.get_params(header="X", unquote=True)[1:] or []:
        params[key.lower()] = collapse_rfc2231_value(val) if isinstance(val, tuple) else val
    return main, params


def multipart_parts(body: bytes, content_type: str) -> Iterator[Part]:
    """Parts of a multipart body, the preamble and epilogue included when they hold anything
    (an insider's script can put a list there; a browser never does). A body whose boundary
    is missing or absent is no multipart body at all: Mismatch, read as text. A body that
    breaks off after its first part raises Uninspectable('corrupt') after what it holds."""
    _main, params = header_params(content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise Mismatch()
    delim = b"--" + boundary.encode("latin-1")
    start = body.find(delim)
    if start < 0:
        raise Mismatch()
    if body[:start].strip():
        yield Part(data=body[:start], filename=None, content_type="", name="preamble")
    pos = start + len(delim)
    while True:
        if body[pos:pos + 2] == b"--":
            epilogue = body[pos + 2:]
            if epilogue.strip():
                yield Part(data=epilogue, filename=None, content_type="", name="epilogue")
            break  # closing delimiter
        eol = body.find(b"\n", pos)
        if eol < 0:
            break
        nxt = body.find(b"\r\n" + delim, eol)
        sep = 2
        if nxt < 0:
            nxt = body.find(b"\n" + delim, eol)
            sep = 1
        if nxt < 0:  # truncated last part: inspect what is there, then report it
            nxt, sep = len(body), 0
        yield _part(*_split_part(body[eol + 1:nxt]))
        if sep == 0:
            raise Uninspectable("corrupt", "multipart body: last part has no closing boundary")
        pos = nxt + sep + len(delim)


def _split_part(raw: bytes) -> tuple[bytes, bytes]:
    """(headers, content) of a part after its boundary line. A part without headers starts
    with the blank line (RFC 2046): all of it is content. A part with no blank line at all
    is read whole as content too (its header lines are still parsed): no byte of a part
    goes unread because its headers are missing or unterminated."""
    for blank in (b"\r\n", b"\n"):
        if raw.startswith(blank):
            return b"", raw[len(blank):]
    for separator in (b"\r\n\r\n", b"\n\n"):
        head_end = raw.find(separator)
        if head_end >= 0:
            return raw[:head_end], raw[head_end + len(separator):]
    return raw, raw


def _part(headers_blob: bytes, data: bytes) -> Part:
    disposition, ctype, cte = "", "application/octet-stream", ""
    for line in headers_blob.decode("utf-8", "replace").splitlines():
        key, _, val = line.partition(":")
        if key.strip().lower() == "content-disposition":
            disposition = val.strip()
        elif key.strip().lower() == "content-type":
            ctype = val.strip()
        elif key.strip().lower() == "content-transfer-encoding":
            cte = val.strip().lower()
    _d, dparams = header_params(disposition) if disposition else ("", {})
    filename = dparams.get("filename")
    return Part(data=data, filename=filename, content_type=ctype, name=dparams.get("name"),
                transfer_encoding=cte)


_FORM = re.compile(rb"[^&=\s]{1,256}=[^&\s]*(?:&[^&=\s]{1,256}=[^&\s]*)*&?\s*")
"""What a browser sends as application/x-www-form-urlencoded: name=value pairs joined by &,
every space and line end percent-encoded. A body of any other shape is not a form, whatever
its Content-Type says (``curl --data-binary @list.csv`` labels a CSV so)."""


_SPACE = re.compile(rb"\s")
_BAD_PAIR = re.compile(rb"(?:^|&)(?:=|&|[^=&]*(?:&|$)|[^=&]{257})")
"""A pair without a name, an empty pair, a pair without ``=``, or a name over 256 bytes."""


def is_form(body: bytes) -> bool:
    """``_FORM.fullmatch(body)``, decided by searches: the regex engine keeps a backtracking
    frame per repetition of a group, ~44 bytes per body byte (a 64 MB body took 2.8 GB)."""
    core = body.rstrip()
    if core.endswith(b"&"):
        core = core[:-1]
    return bool(core) and not _SPACE.search(core) and not _BAD_PAIR.search(core)


def urlencoded_fields(body: bytes) -> list[tuple[str, bytes]] | None:
    """The (name, value bytes) pairs of a form body, percent-decoded as bytes (a form is sent
    in its page's encoding: Shift_JIS and EUC-JP pages exist), or None if it is no form."""
    if not is_form(body):
        return None
    return list(_pairs(body))


_PAIR = re.compile(rb"[^&]+")


def _pairs(body: bytes) -> Iterator[tuple[str, bytes]]:
    """The decoded pairs of a body ``_FORM`` matches, one at a time (a 64 MB body holds
    16 million: as a list they cost gigabytes)."""
    for m in _PAIR.finditer(body):
        name, sep, value = m.group().strip().partition(b"=")
        if sep:
            yield _unquote(name).decode("utf-8", "replace"), _unquote(value)


def _unquote(value: bytes) -> bytes:
    return urllib.parse.unquote_to_bytes(value.replace(b"+", b" "))


FIELD_MAX = 4096
"""A form field up to this size is a value of the form's record; larger ones are payloads."""
MAGIC_MIN = 64
"""Shorter values are read as text, never as a file of a known format: no real file is that
small, and the magic check would cost on every cookie of every request."""


RECORD_FIELDS = 10_000
"""Values of one form handed over as one record at most (as ``jsondoc.MAX_FIELDS``): a body of
a million name=value pairs is no one person, and one record of them took the detectors 30 s
with no deadline check in between."""


def record_chunks(record: Record, budget: Budget) -> Iterator[Record]:
    """``record`` as is, or in records of RECORD_FIELDS values, the deadline checked before each."""
    fields = record.fields
    if len(fields) <= RECORD_FIELDS:
        yield record
        return
    for start in range(0, len(fields), RECORD_FIELDS):
        budget.check_time()
        yield Record(fields[start:start + RECORD_FIELDS], record.source)


def field_events(fields: list[tuple[str | None, bytes]], where: str, budget: Budget) -> Iterator[Event]:
    """One form submission (or a request's query and headers), see ``form_parts``: each
    document a Member counted against the budget, then the record of the single-line values."""
    return parts_events(form_parts(fields, where), where, budget)


def parts_events(parts: tuple[tuple[Member, ...], Record | None], where: str, budget: Budget) -> Iterator[Event]:
    """The events of a form read by ``form_parts``: each Member counted against the budget,
    then the record."""
    members, record = parts
    for member in members:
        budget.add_member(where)
        yield member
    if record is not None:
        yield from record_chunks(record, budget)


def form_parts(fields: Sequence[tuple[str | None, bytes]], where: str) -> tuple[tuple[Member, ...], Record | None]:
    """Single-line values together as one record labelled by their names, in the charset of
    the values as a whole. A value that is a document of its own (several lines: rows pasted
    into a textarea; over FIELD_MAX; a known file format; JSON; base64, base32 or hex) is a
    Member, read by its true type. Pure, so a caller may remember the result."""
    encoding = _charset([v for _n, v in fields if not v.isascii()])
    record: list[tuple[str | None, str]] = []
    members: list[Member] = []
    for name, raw in fields:
        label = f"{where}/{name or 'field'}"
        value = raw.decode("ascii") if raw.isascii() else textmod.decode_as(raw, encoding)
        stripped = value.strip()
        if len(raw) >= FIELD_MAX or "\n" in stripped or "\r" in stripped or (len(raw) >= MAGIC_MIN and magic(raw)):
            members.append(Member(label, raw, is_file=False))
            continue
        member = _field_value(label, stripped)
        if member is not None:
            members.append(member)
        elif stripped:
            record.append((name, value))
    return tuple(members), (Record(tuple(record), where) if record else None)


def _charset(foreign: list[bytes]) -> str:
    """The charset of a form's non-ASCII values as a whole: UTF-8 if they are valid UTF-8
    (the common case, decided without the detector), else as detected."""
    joined = b"\n".join(foreign)
    try:
        joined.decode("utf-8")
    except UnicodeDecodeError:
        return textmod.detect_encoding(joined) or "utf-8"
    return "utf-8"


def _field_value(label: str, value: str) -> Member | None:
    """A field that carries a file (base64, base32, hex, data: URL) or a JSON document."""
    if len(value) >= 2 and value[0] in "{[" and value[-1] in "}]":
        return Member(label, value.encode("utf-8"), "application/json", is_file=False)
    if embedded.looks_encoded(value):
        decoded = embedded.decode(value)
        if decoded is not None:
            return Member(label, decoded[0], decoded[1], is_file=False)
    return None


def urlencoded_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    """A urlencoded form (see ``field_events``); a body that is no form is text (Mismatch)."""
    if not is_form(data):
        raise Mismatch()
    pairs = _pairs(data)
    while batch := list(islice(pairs, RECORD_FIELDS)):  # the deadline checked per batch
        budget.check_time()
        yield from field_events(batch, where, budget)


def multipart_items(data: bytes, where: str, budget: Budget, content_type: str) -> Iterator[Event]:
    """Each part of a multipart/form-data body: the unnamed-file fields together (see
    ``field_events``), files (by their true type, whatever the part says) as Members. A body
    cut short still yields what it holds, then the error."""
    fields: list[tuple[str | None, bytes]] = []
    try:
        for part in multipart_parts(data, content_type):
            budget.check_time()
            content = part.data
            if part.transfer_encoding == "base64":
                decoded = embedded.decode(content.decode("ascii", "replace"))
                content = decoded[0] if decoded else content
            if part.filename is None and part.name:
                fields.append((part.name, content))
                continue
            budget.add_member(where)
            # a part is a file of the upload itself: named as the browser sent it
            yield Member(part.filename or where, content, part.content_type, is_file=part.filename is not None)
    except Uninspectable as e:
        if e.reason == "timeout":
            raise
        yield Problem(e.reason, f"{where}: {e}")
    if fields:
        yield from field_events(fields, where, budget)
