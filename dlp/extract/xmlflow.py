"""XML parts of office documents (OOXML, OpenDocument), parsed safely and as a stream.

Parts are read from their zip package through the Budget (declared size and ratio checked
before a byte is expanded) and parsed with defusedxml: document type and entity declarations
are refused (OOXML and ODF never need them; they are how billion-laughs bombs are built; a
bare document type declaration is harmless and allowed), and
the tree is pruned as it is read so a 200 MB sheet costs little memory.

``flow`` turns a part into the items the detectors want: paragraphs as lines of TextBlocks,
tables as Tables (header from the first row when it names columns).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml.ElementTree import iterparse

from dlp.extract import text as textmod
from dlp.extract.archives import read_zip_member
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import describe
from dlp.model import Table, TextBlock

TABLE_CHUNK = 5000
"""Rows of a table handed over at a time (a sheet of 100,000 rows is not held whole)."""
MAX_DEPTH = 1000
"""Elements open at once; documents nest a few dozen deep, a hostile one millions."""
MAX_COLUMNS = 1024
"""Cells kept per row; a repeated-cell attribute cannot make a row of 16,384 copies."""


def local(tag: object) -> str:
    """The local name of an element tag (namespaces differ between transitional and strict)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def xml_error(e: Exception, what: str) -> Uninspectable:
    """The specific Uninspectable for a parse failure of part ``what``."""
    if isinstance(e, defusedxml.DTDForbidden):
        return Uninspectable("corrupt", f"{what}: XML document type declarations are not allowed")
    if isinstance(e, defusedxml.EntitiesForbidden):
        return Uninspectable("corrupt", f"{what}: XML entity declarations are not allowed "
                             "(possible entity expansion bomb)")
    if isinstance(e, defusedxml.DefusedXmlException):
        return Uninspectable("corrupt", f"{what}: forbidden XML construct ({type(e).__name__})")
    if isinstance(e, ParseError):
        line, col = getattr(e, "position", (0, 0))
        return Uninspectable("corrupt", f"{what}: malformed XML (line {line}, column {col})")
    return Uninspectable("corrupt", f"{what}: cannot parse XML ({describe(e)})")


def events(source: IO[bytes], what: str, budget: Budget, forbid_dtd: bool = False,
           keep: frozenset[str] = frozenset()) -> Iterator[tuple[str, Element, list[Element]]]:
    """(event, element, open ancestors) of a streamed parse. An element is dropped from its
    parent right after its end event, so only the open path stays in memory, except inside
    an element named in ``keep`` (a paragraph keeps its runs until it ends)."""
    stack: list[Element] = []
    kept = 0  # open elements named in keep
    try:
        for n, (event, elem) in enumerate(iterparse(source, events=("start", "end"), forbid_dtd=forbid_dtd)):
            if n & 0xFFF == 0:
                budget.check_time()
            if event == "start":
                if len(stack) >= MAX_DEPTH:
                    raise Uninspectable("corrupt", f"{what}: XML nested deeper than {MAX_DEPTH} levels")
                stack.append(elem)
                if keep and local(elem.tag) in keep:
                    kept += 1
                yield event, elem, stack
            else:
                stack.pop()
                yield event, elem, stack
                if keep and local(elem.tag) in keep:
                    kept -= 1
                if stack and not kept:
                    stack[-1].remove(elem)
    except Uninspectable:
        raise
    except Exception as e:  # ParseError, defusedxml errors, zip errors mid-stream
        raise xml_error(e, what) from None


def open_part(zf: zipfile.ZipFile, name: str, budget: Budget, where: str) -> IO[bytes]:
    """A part of a package, as a stream, after its declared size and ratio are checked."""
    info = zf.getinfo(name)
    what = f"{where}: {name}"
    if info.flag_bits & 0x1:
        raise Uninspectable("encrypted", f"{what}: part is encrypted")
    budget.check_declared(info.file_size, info.compress_size, what)
    budget.accept(info.compress_size, info.file_size, what)
    try:
        return zf.open(info)
    except Exception as e:  # zipfile raises several types
        raise Uninspectable("corrupt", f"{what}: cannot read part ({describe(e)})") from None


def check_prolog(zf: zipfile.ZipFile, name: str, budget: Budget, where: str) -> None:
    """Parse a part up to its root element, so that a DTD or entity declaration (only allowed
    before the root) is refused before another library reads the part."""
    what = f"{where}: {name}"
    info = zf.getinfo(name)
    budget.check_declared(info.file_size, info.compress_size, what)
    try:
        with zf.open(info) as fh:
            for _event, _elem in iterparse(fh, events=("start",)):
                return
    except Exception as e:
        raise xml_error(e, what) from None


def read_part(zf: zipfile.ZipFile, name: str, budget: Budget, where: str) -> bytes:
    return read_zip_member(zf, zf.getinfo(name), budget, f"{where}: {name}")


# -- paragraphs and tables -----------------------------------------------------------------

@dataclass(frozen=True)
class Dialect:
    """Element names of one document family."""

    paragraph: frozenset[str]
    table: str
    row: str
    cell: frozenset[str]
    text: Callable[[Element], str]
    row_repeat: str | None = None
    cell_repeat: str | None = None
    table_name: str | None = None


def ooxml_text(p: Element) -> str:
    """Text of a w:p / a:p: its w:t (and deleted w:delText) runs, tabs and breaks."""
    out: list[str] = []
    for el in p.iter():
        name = local(el.tag)
        if name in ("t", "delText"):
            out.append(el.text or "")
        elif name == "tab":
            out.append("\t")
        elif name in ("br", "cr"):
            out.append("\n")
    return "".join(out)


def odf_text(p: Element) -> str:
    """Text of a text:p / text:h: text and tails, with text:s, text:tab and line breaks
    (iterative: a hostile file may nest spans thousands deep)."""
    out: list[str] = []
    todo: list[Element | str] = [p]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        name = local(item.tag)
        tail = item.tail or "" if item is not p else ""
        if name == "s" and item is not p:
            out.append(" " * _int(_attr(item, "c"), 1, 1024))
        elif name == "tab" and item is not p:
            out.append("\t")
        elif name == "line-break" and item is not p:
            out.append("\n")
        elif name in ("note", "annotation") and item is not p:
            pass
        else:
            out.append(item.text or "")
            todo.append(tail)
            todo.extend(reversed(list(item)))
            continue
        out.append(tail)
    return "".join(out)


OOXML = Dialect(frozenset({"p"}), "tbl", "tr", frozenset({"tc"}), ooxml_text)
ODF = Dialect(frozenset({"p", "h"}), "table", "table-row", frozenset({"table-cell", "covered-table-cell"}),
              odf_text, row_repeat="number-rows-repeated", cell_repeat="number-columns-repeated",
              table_name="name")


def _attr(el: Element, name: str) -> str | None:
    for key, val in el.attrib.items():
        if local(key) == name:
            return val
    return None


def _int(value: str | None, default: int, cap: int) -> int:
    try:
        return max(1, min(int(value or default), cap))
    except ValueError:
        return default


@dataclass
class _Table:
    name: str
    rows: list[list[str]] = field(default_factory=list)
    row: list[str] | None = None
    cell: list[str] | None = None
    header: tuple[str | None, ...] | None = None
    emitted: bool = False


def flow(source: IO[bytes], what: str, budget: Budget, dialect: Dialect, label: str) -> Iterator[Table | TextBlock]:
    """Paragraphs outside tables as TextBlocks (one line each, in order), tables as Tables.
    A table nested in a cell is flattened into that cell's text."""
    lines: list[str] = []
    size = 0
    tables: list[_Table] = []
    count = 0
    for event, elem, _stack in events(source, what, budget, keep=dialect.paragraph):
        name = local(elem.tag)
        if event == "start":
            if name == dialect.table:
                count += 1
                tname = _attr(elem, dialect.table_name) if dialect.table_name else None
                tables.append(_Table(tname or f"table{count}"))
            elif tables and name == dialect.row:
                tables[-1].row = []
            elif tables and name in dialect.cell:
                tables[-1].cell = []
            continue
        if name in dialect.paragraph:
            text = dialect.text(elem)
            if tables and tables[-1].cell is not None:
                tables[-1].cell.append(text)
            else:
                lines.append(text)
                size += len(text)
                if size > textmod.BLOCK:
                    yield TextBlock("\n".join(lines), label)
                    lines, size = [], 0
        elif tables and name in dialect.cell and tables[-1].cell is not None:
            t = tables[-1]
            value = " ".join(s for s in t.cell if s)
            t.cell = None
            if t.row is not None:
                repeat = _int(_attr(elem, dialect.cell_repeat), 1, MAX_COLUMNS) if dialect.cell_repeat else 1
                room = MAX_COLUMNS - len(t.row)
                t.row.extend([value] * min(repeat, room))
        elif tables and name == dialect.row and tables[-1].row is not None:
            t = tables[-1]
            row = t.row
            t.row = None
            while row and not row[-1]:
                row.pop()
            if row:  # empty rows (an ODS pads a sheet with a million of them) carry nothing
                t.rows.append(row)  # a repeated non-empty row says nothing new: kept once
            if len(t.rows) >= TABLE_CHUNK and len(tables) == 1:
                if lines:
                    yield TextBlock("\n".join(lines), label)
                    lines, size = [], 0
                yield from _emit(t, label)
        elif name == dialect.table and tables:
            t = tables.pop()
            if tables:  # nested: the inner table becomes text of the outer cell
                if tables[-1].cell is not None:
                    tables[-1].cell.extend(" ".join(r) for r in t.rows)
                continue
            if lines:
                yield TextBlock("\n".join(lines), label)
                lines, size = [], 0
            if t.rows or not t.emitted:
                yield from _emit(t, label)
    if lines:
        yield TextBlock("\n".join(lines), label)


def _emit(t: _Table, label: str) -> Iterator[Table | TextBlock]:
    """The rows gathered so far as a Table; on the first call the header is found among the
    first rows (title rows above it are handed over as text)."""
    rows, t.rows = t.rows, []
    source = f"{label}/{t.name}"
    if t.header is None:
        t.header = ()
        start = next((i for i, r in enumerate(rows[:5]) if sum(1 for c in r if c) >= 2), None)
        if start is not None and textmod.is_header(rows[start], rows[start + 1] if start + 1 < len(rows) else None):
            t.header = tuple(c.strip() for c in rows[start])
            if start:
                yield TextBlock("\n".join(" ".join(r) for r in rows[:start]), source)
            rows = rows[start + 1:]
    t.emitted = True
    yield Table(t.header, rows, source)
