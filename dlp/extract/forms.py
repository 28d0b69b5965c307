"""HTTP request body shapes: multipart/form-data, urlencoded forms and JSON.

Each multipart part keeps its filename and content type so the file inside is extracted by
its true type; form fields and JSON keys become record labels.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value

from dlp.extract.budget import Uninspectable
from dlp.model import Record


@dataclass(frozen=True)
class Part:
    """One piece of a body: a multipart part or an embedded file."""

    data: bytes
    filename: str | None
    content_type: str
    name: str | None = None


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
    disposition, ctype = "", "application/octet-stream"
    for line in headers_blob.decode("utf-8", "replace").splitlines():
        key, _, val = line.partition(":")
        if key.strip().lower() == "content-disposition":
            disposition = val.strip()
        elif key.strip().lower() == "content-type":
            ctype = val.strip()
    _d, dparams = header_params(disposition) if disposition else ("", {})
    filename = dparams.get("filename")
    return Part(data=data, filename=filename, content_type=ctype, name=dparams.get("name"))


def urlencoded_record(body: bytes, source: str) -> Record:
    """A urlencoded form is one record labelled by its field names."""
    text = body.decode("utf-8", "replace")
    pairs = urllib.parse.parse_qsl(text, keep_blank_values=False, max_num_fields=100_000)
    return Record(tuple((k, v) for k, v in pairs), source)


def json_records(data: bytes, source: str) -> list[Record] | None:
    """JSON (or NDJSON) → one record per object, keys as labels; None if not JSON."""
    text = data.decode("utf-8-sig", "replace").strip()
    if not text or text[0] not in "[{\"":
        return None
    try:
        docs = [json.loads(text)]
    except (json.JSONDecodeError, RecursionError):
        try:
            docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        except (json.JSONDecodeError, RecursionError):
            return None
    out: list[Record] = []
    for doc in docs:
        _walk(doc, None, out, source)
    return out


def _walk(node: object, label: str | None, out: list[Record], source: str) -> None:
    stack: list[tuple[object, str | None]] = [(node, label)]
    while stack:
        item, lab = stack.pop()
        if isinstance(item, dict):
            fields = []
            for k, v in item.items():
                if isinstance(v, dict | list):
                    stack.append((v, str(k)))
                elif v is not None and not isinstance(v, bool):
                    fields.append((str(k), str(v)))
            if fields:
                out.append(Record(tuple(fields), source))
        elif isinstance(item, list):
            scalars = [(lab, str(v)) for v in item if not isinstance(v, dict | list | bool) and v is not None]
            # a list of scalars under one key: each value is its own record (a mailing list)
            out.extend(Record((s,), source) for s in scalars)
            stack.extend((v, lab) for v in item if isinstance(v, dict | list))
        elif item is not None:
            out.append(Record(((lab, str(item)),), source))
