"""HTML and generic XML payloads.

HTML (pages, HTML mail bodies, "xls" files that are really HTML tables): visible text as
lines, block elements ending paragraphs, scripts and styles skipped (unless they never close),
tables as Tables; text a browser would not show (noscript, template, SVG) is read too. The
charset comes from the detector, or from <meta charset> when the bytes agree with it.

XML (SOAP and REST bodies, exports): an element whose children are all simple values is one
record labelled by the child names (``<member><name>…</name><tel>…</tel></member>``), like a
JSON object; attributes label values too. Parsed as a stream with defusedxml, entity
declarations refused.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from html import unescape

from dlp.extract import text as textmod
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import Event, Mismatch
from dlp.extract.xmlflow import events, local
from dlp.model import Record, Table, TextBlock

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w:.\-]+)""", re.IGNORECASE)
_BLOCK = frozenset({
    "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header",
    "footer", "blockquote", "pre", "address", "dl", "dt", "dd", "form", "fieldset", "hr", "title",
    "table", "caption", "body", "main", "nav", "aside", "figure", "figcaption", "textarea",
})
_SKIP = frozenset({"script", "style"})
"""Code, not text. Every other element's text is read, shown or not (a list inside
<noscript>, <template>, an SVG <text> or a <head> never closed leaves all the same)."""
FEED = 1 << 20
TAG_MAX = 64 * 1024
"""Characters a tag, comment or declaration may span across a FEED boundary (see ``_Tokens``)."""
MAX_LEAVES = 1000
"""Simple values gathered under one element before they are handed over as records."""


def html_charset(data: bytes) -> str | None:
    """The encoding for an HTML payload: <meta charset> if the bytes decode in it, else detected."""
    m = _META_CHARSET.search(data[:4096])
    if m:
        declared = textmod.normalize_charset(m.group(1).decode("ascii", "replace"))
        try:
            if declared == "iso-2022-jp":
                return declared
            data[:65536].decode(declared)
            return declared
        except (LookupError, UnicodeError):  # not a codec, or one like idna that refuses the bytes
            pass
    return textmod.detect_encoding(data)


_TAG_NAME = re.compile(r"[a-zA-Z][^\t\n\r\f />\x00]*")
_RAW_TEXT = ("script", "style")
_RAW_END = {name: re.compile(rf"</{name}(?=[\s/>])", re.IGNORECASE) for name in _RAW_TEXT}
_CHARREF_END = re.compile(r"[\s;]")


class _Tokens:
    """An HTML tokenizer in one pass: start, end and self-closing tags (names only), text
    with character references resolved, script and style content as raw text; comments,
    declarations and processing instructions dropped. The standard library's HTMLParser
    rescans the rest of its input for each construct that does not end (``<a `` repeated,
    a quote left open): quadratic, 128 KiB took minutes in one call, out of the deadline's
    reach. Here each terminator is searched once for all constructs up to where it is
    found (``_Next``), so the cost is linear whatever the input. A construct that never
    ends is text, as far as the next ``<``: hidden content is read rather than lost."""

    def __init__(self) -> None:
        self.rest = ""          # an unfinished construct or character reference, for the next feed
        self.raw: str | None = None
        self.raw_text: list[str] = []  # content of the open script or style, until it closes
        self.pending: list[str] = []  # text since the last tag, handed over in one piece

    def feed(self, piece: str) -> None:
        self._run(self.rest + piece, final=False)
        self._flush_data()

    def close(self) -> None:
        self._run(self.rest, final=True)
        self._flush_data()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None: ...
    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None: ...
    def handle_endtag(self, tag: str) -> None: ...
    def handle_data(self, data: str) -> None: ...

    def _run(self, text: str, final: bool) -> None:
        n = len(text)
        pos = 0
        self.rest = ""
        following = _Next(text)
        while pos < n:
            if self.raw:
                m = _RAW_END[self.raw].search(text, pos)
                if m is None and final:  # never closed: not a script after all, its text is read
                    self.handle_endtag(self.raw)
                    self.raw = None
                    self._data("".join(self.raw_text) + text[pos:])
                    self.raw_text.clear()
                    return
                if m is None:
                    hold = max(pos, n - 16)  # "</script" may be cut by the feed
                    self.raw_text.append(text[pos:hold])
                    self.rest = text[hold:]
                    return
                self.raw_text.append(text[pos:m.start()])
                self.handle_data("".join(self.raw_text))
                self.raw_text.clear()
                end = following(">", m.end())
                pos = n if end < 0 else end + 1
                self.handle_endtag(self.raw)
                self.raw = None
                continue
            lt = text.find("<", pos)
            if lt < 0:
                amp = text.rfind("&", max(pos, n - 34))
                if not final and amp >= 0 and not _CHARREF_END.search(text, amp):
                    self._data(text[pos:amp])
                    self.rest = text[amp:]
                else:
                    self._data(text[pos:])
                return
            self._data(text[pos:lt])
            pos = lt
            if lt + 1 >= n or (text[lt + 1] == "/" and lt + 2 >= n):
                if final:
                    self._data(text[lt:])
                else:
                    self.rest = text[lt:]
                return
            second = text[lt + 1]
            if text.startswith("<!--", lt):
                kind, term, start = "comment", "-->", lt + 4
            elif second in "!?":
                kind, term, start = "other", ">", lt + 2
            elif second == "/":
                kind = "end" if text[lt + 2].isascii() and text[lt + 2].isalpha() else "other"
                term, start = ">", lt + 2
            elif second.isascii() and second.isalpha():
                kind, term, start = "start", ">", lt + 1
            else:
                self._data("<")
                pos = lt + 1
                continue
            end = following(term, start)
            if end < 0:
                if not final and n - lt <= TAG_MAX:
                    self.rest = text[lt:]
                    return
                self._data("<")  # never ends: text
                pos = lt + 1
                continue
            pos = end + len(term)
            if kind in ("start", "end"):
                self._flush_data()
            if kind == "start":
                name = _TAG_NAME.match(text, lt + 1).group().lower()  # type: ignore[union-attr]
                if text[end - 1] == "/":
                    self.handle_startendtag(name, [])
                else:
                    self.handle_starttag(name, [])
                    if name in _RAW_TEXT:
                        self.raw = name
            elif kind == "end":
                self.handle_endtag(_TAG_NAME.match(text, lt + 2).group().lower())  # type: ignore[union-attr]

    def _data(self, data: str) -> None:
        if data:
            self.pending.append(unescape(data) if "&" in data else data)

    def _flush_data(self) -> None:
        if self.pending:
            data = "".join(self.pending)
            self.pending.clear()
            self.handle_data(data)


class _Next:
    """Where a terminator next occurs at or after a position, for positions that only grow:
    each terminator's search resumes where the last one found it (or knows there is none)."""

    def __init__(self, text: str):
        self.text = text
        self.found: dict[str, tuple[int, int]] = {}

    def __call__(self, term: str, start: int) -> int:
        known = self.found.get(term)
        if known is not None:
            searched_from, at = known
            if searched_from <= start and (at < 0 or at >= start):
                return at
        at = self.text.find(term, start)
        self.found[term] = (start, at)
        return at


class _Html(_Tokens):
    def __init__(self, source: str):
        super().__init__()
        self.source = source
        self.items: list[Table | TextBlock] = []
        self.lines: list[str] = []      # finished lines
        self.line: list[str] = []       # pieces of the current line (a long line is joined once)
        self.line_blank = True
        self.size = 0
        self.skip = 0
        self.tables: list[list[list[str]]] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.header_row = False
        self.count = 0
        self.pre = 0
        self.documents: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.row = []
        elif tag in ("td", "th") and self.tables:
            self.cell = []
        elif tag == "br":
            self._text("\n")
        elif tag in _BLOCK:
            self.pre += tag in ("pre", "textarea")
            self._break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._text("\n")
        elif tag in _BLOCK:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in ("td", "th") and self.cell is not None:
            text = "".join(self.cell)
            if text.strip().count("\n") >= 2:  # rows pasted into one cell: a document of its own
                self.documents.append(text)
            if self.row is not None:
                self.row.append(" ".join(text.split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if any(self.row) and self.tables:
                self.tables[-1].append(self.row)
            self.row = None
        elif tag == "table" and self.tables:
            rows = self.tables.pop()
            if self.tables and self.cell is not None:
                self.cell.append(" ".join(" ".join(r) for r in rows))
            elif rows:
                self.flush()
                self.count += 1
                self.items.append(textmod.rows_table(iter(rows), f"{self.source}/table{self.count}"))
        elif tag in _BLOCK:
            self.pre = max(0, self.pre - (tag in ("pre", "textarea")))
            self._break()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.cell is not None or self.pre:
            self._text(data)
        else:  # spaces fold as a browser folds them; line ends stay (rows written as text)
            self._text("\n".join(" ".join(line.split()) or (" " if line else "") for line in data.split("\n")))

    def _text(self, s: str) -> None:
        if self.cell is not None:
            self.cell.append(s)
            return
        parts = s.split("\n")
        self.line.append(parts[0])
        self.line_blank = self.line_blank and not parts[0].strip()
        for part in parts[1:]:
            self.lines.append("".join(self.line))
            self.line = [part]
            self.line_blank = not part.strip()
        self.size += len(s)
        if self.size > textmod.BLOCK:
            self.flush()

    def _break(self) -> None:
        if not self.line_blank:
            self.lines.extend(("".join(self.line), ""))
            self.line, self.line_blank = [], True

    def flush(self) -> None:
        """The text so far as items: delimited rows (a CSV written into a page) as a Table."""
        self.lines.append("".join(self.line))
        text = "\n".join(ln.strip() for ln in self.lines).strip()
        if text:
            self.items.extend(textmod.str_items(re.sub(r"\n{3,}", "\n\n", text), self.source))
        for document in self.documents:
            self.items.extend(textmod.str_items(document, f"{self.source}/cell"))
        self.lines, self.line, self.line_blank, self.size, self.documents = [], [], True, 0, []


def html_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    parser = _Html(where)
    encoding = html_charset(data) or "utf-8"
    for piece in textmod.iter_text(data, encoding, FEED):
        budget.check_time()
        parser.feed(piece)
        yield from parser.items
        parser.items.clear()
    parser.close()
    parser.flush()
    yield from parser.items


_XML_DECL = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([\w.:\-]+)(["'])""")
_EXPAT_ENCODINGS = frozenset({"utf-8", "utf8", "utf-16", "utf16", "iso-8859-1", "latin-1", "us-ascii", "ascii"})


def utf8_xml(data: bytes) -> bytes:
    """XML expat can read: documents in Shift_JIS, EUC-JP and other multi-byte encodings are
    converted to UTF-8 and their declaration rewritten."""
    m = _XML_DECL.match(data[:512])
    if m:
        declared = m.group(2).decode("ascii").lower()
        if declared in _EXPAT_ENCODINGS:
            return data
        text = textmod.decode_as(data, declared)
        return _XML_DECL.sub(rb"\1UTF-8\3", text.encode("utf-8"), count=1)
    encoding = textmod.detect_encoding(data)
    if encoding in (None, "utf-8", "utf-8-sig", "utf-16"):
        return data
    return textmod.decode_as(data, encoding).encode("utf-8")


def xml_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    """Records of an XML payload; text that is not well-formed XML from its first line on is
    plain text, not XML."""
    data = utf8_xml(data)
    frames: list[list[tuple[str, str]]] = []   # simple values (and attributes) of open elements
    nested: list[bool] = []                     # whether an open element has structured children
    produced = False
    try:
        for event, elem, _stack in events(io.BytesIO(data), f"{where}: XML", budget):
            if event == "start":
                frames.append([(local(k), v) for k, v in elem.attrib.items() if v.strip()])
                nested.append(False)
                continue
            leaves = frames.pop()
            structured = nested.pop()
            value = (elem.text or "").strip()
            if not leaves and not structured:  # a simple value: its parent's field
                if frames:
                    if value:
                        frames[-1].append((local(elem.tag), value))
                    if len(frames[-1]) >= MAX_LEAVES:
                        yield from _records(frames[-1], where)
                        produced = True
                        frames[-1].clear()
                elif value:
                    yield TextBlock(value, where)
                    produced = True
                continue
            if frames:
                nested[-1] = True
            if value:
                leaves.append((local(elem.tag), value))
            if leaves:
                produced = True
                yield from _records(leaves, where)
    except Uninspectable as e:
        if not produced and e.reason == "corrupt" and "malformed XML (line 1," in str(e):
            raise Mismatch() from None
        raise


def _records(fields: list[tuple[str, str]], where: str) -> Iterator[Record]:
    """One record of an element's simple values; values all under one repeated name
    (``<email>`` × 50) are a list, one record each, like a JSON array."""
    names = {k for k, _v in fields}
    if len(names) == 1 and len(fields) > 1:
        for pair in fields:
            yield Record((pair,), where)
    else:
        yield Record(tuple(fields), where)
