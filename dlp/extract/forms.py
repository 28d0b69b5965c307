"""HTTP form bodies: multipart/form-data and application/x-www-form-urlencoded.

Each multipart part keeps its filename and content type, and the file inside is extracted by
its true type; form field names become record labels. A field that carries a file as base64
(or a data: URL) or a JSON document is extracted as that file or document. JSON bodies are
read by ``jsondoc``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value

from dlp.extract import embedded
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import Event, Member, Problem
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


def header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split ``type/sub; a=b; filename*=UTF-8''x`` into the main value and decoded params."""
    msg = Message()
    msg["X"] = value
    main = msg.get_content_type() if "/" in value.split(";")[0] else value.split(";")[0].strip().lower()
    params: dict[str, str] = {}
    for key, val in msg.get_params(header="X", unquote=True)[1:] or []:
        params[key.lower()] = collapse_rfc2231_value(val) if isinstance(val, tuple) else val
    return main, params


def multipart_parts(body: bytes, content_type: str) -> Iterator[Part]:
    """Parts of a multipart body; raise Uninspectable('corrupt') when it cannot be split."""
    _main, params = header_params(content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise Uninspectable("corrupt", "multipart body without a boundary parameter")
    delim = b"--" + boundary.encode("latin-1")
    start = body.find(delim)
    if start < 0:
        raise Uninspectable("corrupt", "multipart body: boundary not found")
    pos = start + len(delim)
    while True:
        if body[pos:pos + 2] == b"--":
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
        raw = body[eol + 1:nxt]
        head_end = raw.find(b"\r\n\r\n")
        skip = 4
        if head_end < 0:
            head_end, skip = raw.find(b"\n\n"), 2
        if head_end < 0:
            headers_blob, data = raw, b""
        else:
            headers_blob, data = raw[:head_end], raw[head_end + skip:]
        yield _part(headers_blob, data)
        if sep == 0:
            raise Uninspectable("corrupt", "multipart body: last part has no closing boundary")
        pos = nxt + sep + len(delim)


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


def urlencoded_record(body: bytes, source: str) -> Record:
    """A urlencoded form is one record labelled by its field names."""
    text = body.decode("utf-8", "replace")
    pairs = urllib.parse.parse_qsl(text, keep_blank_values=False, max_num_fields=100_000)
    return Record(tuple((k, v) for k, v in pairs), source)


FIELD_MAX = 4096
"""A form field up to this size is a value of the form's record; larger ones are payloads."""


def _field_value(name: str | None, value: str, where: str) -> Member | None:
    """A field that carries a file (base64, data: URL) or a JSON document, as a Member."""
    stripped = value.strip()
    if len(stripped) >= 2 and stripped[0] in "{[" and stripped[-1] in "}]":
        return Member(f"{where}/{name or 'field'}", stripped.encode("utf-8"), "application/json", is_file=False)
    if embedded.looks_encoded(stripped):
        decoded = embedded.decode(stripped)
        if decoded is not None:
            return Member(f"{where}/{name or 'field'}", decoded[0], decoded[1], is_file=False)
    return None


def urlencoded_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    """A urlencoded form: one record labelled by its field names; fields holding files or JSON
    are extracted as Members."""
    rec = urlencoded_record(data, where)
    fields = []
    for name, value in rec.fields:
        member = _field_value(name, value, where)
        if member is None:
            fields.append((name, value))
        else:
            budget.add_member(where)
            yield member
    if fields:
        yield Record(tuple(fields), where)


def multipart_items(data: bytes, where: str, budget: Budget, content_type: str) -> Iterator[Event]:
    """Each part of a multipart/form-data body: the small fields together as one record (one
    form submission), files (by their true type, whatever the part says) and large fields as
    Members. A body cut short still yields what it holds, then the error."""
    fields: list[tuple[str | None, str]] = []
    try:
        for part in multipart_parts(data, content_type):
            budget.check_time()
            content = part.data
            if part.transfer_encoding == "base64":
                decoded = embedded.decode(content.decode("ascii", "replace"))
                content = decoded[0] if decoded else content
            if part.filename is None and part.name and len(content) < FIELD_MAX and not magic(content):
                value = content.decode("utf-8", "replace")
                member = _field_value(part.name, value, where)
                if member is None:
                    fields.append((part.name, value))
                else:
                    yield member
                continue
            budget.add_member(where)
            # a part is a file of the upload itself: named as the browser sent it
            label = part.filename or part.name or where
            yield Member(label, content, part.content_type, is_file=part.filename is not None)
    except Uninspectable as e:
        if e.reason == "timeout":
            raise
        yield Problem(e.reason, f"{where}: {e}")
    if fields:
        yield Record(tuple(fields), where)
