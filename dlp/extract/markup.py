"""HTML and generic XML payloads.

HTML (pages, HTML mail bodies, "xls" files that are really HTML tables): visible text as
lines, block elements ending paragraphs, scripts and styles skipped, tables as Tables. The
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
from html.parser import HTMLParser

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
_SKIP = frozenset({"script", "style", "template", "svg", "noscript", "head"})
FEED = 1 << 20
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
        except (LookupError, UnicodeDecodeError):
            pass
    return textmod.detect_encoding(data)


class _Html(HTMLParser):
    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.source = source
        self.items: list[Table | TextBlock] = []
        self.lines: list[str] = [""]
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
        self.lines[-1] += parts[0]
        self.lines.extend(parts[1:])
        self.size += len(s)
        if self.size > textmod.BLOCK:
            self.flush()

    def _break(self) -> None:
        if self.lines[-1].strip():
            self.lines.extend(["", ""])

    def flush(self) -> None:
        """The text so far as items: delimited rows (a CSV written into a page) as a Table."""
        text = "\n".join(ln.strip() for ln in self.lines).strip()
        if text:
            self.items.extend(textmod.str_items(re.sub(r"\n{3,}", "\n\n", text), self.source))
        for document in self.documents:
            self.items.extend(textmod.str_items(document, f"{self.source}/cell"))
        self.lines, self.size, self.documents = [""], 0, []


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
