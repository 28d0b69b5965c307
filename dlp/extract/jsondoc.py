"""JSON and NDJSON bodies, parsed as a stream (ijson, C backend).

A 500 MB JSON export parsed by ``json.loads`` becomes gigabytes of Python objects; streamed,
only the open path and the object being built are held. Each object is one record labelled
by its keys, with the values of objects nested in it (``{"profile": {"name": …}, "mail": …}``
describes one person) unless they repeat its keys (``{"user": {…}, "manager": {…}}`` are two);
a list of plain values is one record per value (a mailing list); a list of lists is a table
(the Google Sheets API sends rows that way). String values that are base64 files or data:
URLs (webmail attachments) and strings that are JSON themselves come back as Members, named
after a sibling ``filename`` key when there is one.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import ijson

from dlp.extract import embedded
from dlp.extract import text as textmod
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import Event, Member, Mismatch, Problem, describe
from dlp.model import Record, Table

MAX_NESTING = 512
MAX_FIELDS = 10_000
"""Values of one object gathered before they are handed over (an object of a million keys)."""
PROBE_EVENTS = 64
"""Parser events a payload must get through before a parse error means corrupt JSON, not text."""
TABLE_CHUNK = 5000
_NAME_KEYS = frozenset({"filename", "file_name", "fileName", "name", "title", "attachmentName", "originalName"})


@dataclass
class _Map:
    label: str | None
    fields: list[tuple[str | None, str]] = field(default_factory=list)
    keys: set[str | None] = field(default_factory=set)   # the labels in fields (see _clash)
    key: str | None = None
    encoded: list[tuple[str | None, str]] = field(default_factory=list)
    filename: str | None = None


@dataclass
class _Array:
    label: str | None
    row: list[str] | None = None          # this array as a table row, while it holds only values
    rows: list[list[str]] = field(default_factory=list)
    header: tuple[str | None, ...] | None = None


class _Walker:
    def __init__(self, where: str):
        self.where = where
        self.stack: list[_Map | _Array] = []
        self.produced = False

    def _label(self) -> str | None:
        top = self.stack[-1] if self.stack else None
        if isinstance(top, _Map):
            return top.key
        return top.label if top else None

    def feed(self, event: str, value: object) -> Iterator[Event]:
        top = self.stack[-1] if self.stack else None
        if event == "map_key":
            assert isinstance(top, _Map)
            top.key = str(value)
        elif event in ("start_map", "start_array"):
            if len(self.stack) >= MAX_NESTING:
                raise Uninspectable("corrupt", f"{self.where}: JSON nested deeper than {MAX_NESTING} levels")
            if isinstance(top, _Array) and top.row is not None:  # not a plain row after all
                yield from self._scalars(top, top.row)
                top.row = None
            if event == "start_map":
                self.stack.append(_Map(self._label()))
            else:
                self.stack.append(_Array(self._label(), row=[] if isinstance(top, _Array) else None))
        elif event == "end_map":
            yield from self._end_map()
        elif event == "end_array":
            yield from self._end_array()
        else:
            yield from self._value(top, value)

    def _value(self, top: _Map | _Array | None, value: object) -> Iterator[Event]:
        if isinstance(top, _Array) and top.row is not None:
            top.row.append("" if value is None else str(value))
            return
        if value is None or isinstance(value, bool):
            return
        text = str(value)
        if isinstance(top, _Map):
            if isinstance(value, str) and _maybe_file(text):
                top.encoded.append((top.key, text))
                return
            if top.key in _NAME_KEYS and "." in text and len(text) < 256:
                top.filename = text
            top.fields.append((top.key, text))
            top.keys.add(top.key)
            if len(top.fields) >= MAX_FIELDS:
                yield self._record(tuple(top.fields))
                top.fields.clear()
                top.keys.clear()
        else:
            label = top.label if top else None
            if isinstance(value, str) and _maybe_file(text):
                yield from self._embedded(label, text, None)
            else:
                yield self._record(((label, text),))

    def _scalars(self, top: _Array, values: list[str]) -> Iterator[Event]:
        for v in values:
            if v:
                yield from self._value(_Array(top.label), v)

    def _end_map(self) -> Iterator[Event]:
        frame = self.stack.pop()
        assert isinstance(frame, _Map)
        members: list[Event] = []
        for key, text in frame.encoded:
            found = list(self._embedded(key, text, frame.filename))
            if found:
                members.extend(found)
            else:
                frame.fields.append((key, text))
                frame.keys.add(key)
        parent = self.stack[-1] if self.stack else None
        if isinstance(parent, _Map) and frame.fields and not self._clash(parent, frame):
            parent.fields.extend(frame.fields)  # {"profile": {...}, "mail": ...} is one entity
            parent.keys.update(frame.keys)
        elif frame.fields:
            yield self._record(tuple(frame.fields))
        yield from members

    @staticmethod
    def _clash(parent: _Map, child: _Map) -> bool:
        """A child object with keys its parent already has is another entity
        ({"user": {"name": …}, "manager": {"name": …}}): it stays its own record."""
        if len(parent.fields) + len(child.fields) > MAX_FIELDS:
            return True
        return not parent.keys.isdisjoint(child.keys)  # kept as fields grow: 10,000 children took 3 s

    def _end_array(self) -> Iterator[Event]:
        frame = self.stack.pop()
        assert isinstance(frame, _Array)
        parent = self.stack[-1] if self.stack else None
        if frame.row is not None and isinstance(parent, _Array):
            if any(frame.row):
                parent.rows.append(frame.row)
            if len(parent.rows) >= TABLE_CHUNK:
                yield self._table(parent)
        if frame.rows:
            yield self._table(frame)

    def _table(self, frame: _Array) -> Table:
        rows, frame.rows = frame.rows, []
        if frame.header is None:
            frame.header = ()
            if textmod.is_header(rows[0], rows[1] if len(rows) > 1 else None):
                frame.header = tuple(rows[0])
                rows = rows[1:]
        self.produced = True
        return Table(frame.header, rows, f"{self.where}/{frame.label or 'rows'}")

    def _record(self, fields: tuple[tuple[str | None, str], ...]) -> Record:
        self.produced = True
        return Record(fields, self.where)

    def _embedded(self, key: str | None, text: str, filename: str | None) -> Iterator[Member]:
        stripped = text.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            self.produced = True
            yield Member(f"{self.where}/{key or 'value'}", stripped.encode("utf-8"), "application/json",
                         is_file=False)
            return
        decoded = embedded.decode(text)
        if decoded is None:
            return
        data, ctype = decoded
        self.produced = True
        name = filename.replace("/", "_") if filename else (key or "value")
        yield Member(f"{self.where}/{name}", data, ctype, is_file=filename is not None)


def _maybe_file(text: str) -> bool:
    if len(text) < 2:
        return False
    if text[0] in "{[" and text.rstrip()[-1:] in "}]":
        return True
    return embedded.looks_encoded(text)


def _utf8(data: bytes) -> bytes:
    """ijson reads UTF-8: a BOM goes, other encodings (UTF-16, CP932) are converted."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:]
    enc = textmod.detect_encoding(data)
    if enc in (None, "utf-8", "utf-8-sig"):
        return data
    return textmod.decode_as(data, enc).encode("utf-8")


def json_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    """Records (and Tables, Members) of a JSON or NDJSON payload. Text that is no JSON from its
    start is plain text (Mismatch): a parse that fails within its first PROBE_EVENTS events
    (a log whose lines start with ``[2026-11-27 10:00:00]``) yields nothing before it says so.
    JSON that breaks off later is reported as corrupt and the whole payload is also scanned as
    text, so nothing after the break is missed."""
    walker = _Walker(where)
    raw = _utf8(data)
    probe: list[Event] | None = []      # held back until the payload has shown it is JSON
    try:
        parser = ijson.basic_parse(io.BytesIO(raw), multiple_values=True, use_float=True)
        for n, (event, value) in enumerate(parser):
            if n & 0x3FFF == 0:
                budget.check_time()
            if probe is None:
                yield from walker.feed(event, value)
                continue
            probe.extend(walker.feed(event, value))
            if n + 1 >= PROBE_EVENTS:
                yield from probe
                probe = None
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as e:
        if probe is not None:
            raise Mismatch() from None
        yield Problem("corrupt", f"{where}: invalid or truncated JSON ({describe(e)})")
        yield from textmod.text_items(data, where, budget)
        return
    if probe is not None:
        yield from probe
    if not walker.produced and not raw.strip():
        raise Mismatch()


def json_records(data: bytes, source: str, budget: Budget) -> list[Record] | None:
    """The Records of a JSON payload (for callers that want them as a list), None if no JSON."""
    try:
        return [e for e in json_items(data, source, budget) if isinstance(e, Record)]
    except Mismatch:
        return None
