"""Spreadsheets: xlsx/xlsm (openpyxl, read-only streaming) and legacy xls (xlrd). ODS is read
by ``documents.odf_items`` (an OpenDocument sheet is a table in content.xml).

Each sheet becomes a Table whose header is its first row that names columns, so the scanner
checks 電話番号 cells as phones and types unlabelled columns from their values. Rows are read
lazily; cells are shown as a person would read them (1980-01-01, not a serial number).

openpyxl reads parts itself, so the package is checked first: every part's declared size and
ratio against the Budget, and every XML part's prolog for DTDs and entity declarations (the
billion-laughs construction), before openpyxl opens it.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import warnings
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from dlp.extract import text as textmod
from dlp.extract.archives import open_zip
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.documents import embedded
from dlp.extract.events import Encrypted, Event, describe
from dlp.extract.xmlflow import MAX_COLUMNS, check_prolog
from dlp.model import Table, TextBlock

if TYPE_CHECKING:
    import xlrd


HEADER_SEARCH = 5
"""Rows searched for the header (title rows often come first)."""
XLS_MEMORY_FACTOR = 4
"""xlrd holds a whole workbook as Python objects, several times the file's size: charged to
the Budget as expansion before it is opened."""


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _row(values: Iterable[object]) -> list[str]:
    row = [cell_text(v) for v in values]
    while row and not row[-1]:
        row.pop()
    if len(row) > MAX_COLUMNS:
        row = row[:MAX_COLUMNS] + [c for c in row[MAX_COLUMNS:] if c][:MAX_COLUMNS]
    return row


def sheet_items(rows: Iterator[list[str]], source: str) -> Iterator[Table | TextBlock]:
    """A sheet's rows as one Table; title rows above the header are handed over as text."""
    head: list[list[str]] = []
    for row in rows:
        if row:
            head.append(row)
        if len(head) > HEADER_SEARCH:
            break
    start = next((i for i, r in enumerate(head[:HEADER_SEARCH])
                  if sum(1 for c in r if c) >= 2
                  and textmod.is_header(r, head[i + 1] if i + 1 < len(head) else None)), None)
    header: tuple[str | None, ...] = ()
    if start is not None:
        header = tuple(c.strip() for c in head[start])
        if start:
            yield TextBlock("\n".join(" ".join(r) for r in head[:start]), source)
        head = head[start + 1:]
    if not head:
        return
    yield Table(header, _chain(head, rows), source)


def _chain(first: list[list[str]], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield from first
    for row in rest:
        if row:
            yield row


# -- xlsx -----------------------------------------------------------------------------------

def xlsx_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    import openpyxl  # heavy: imported when a workbook arrives
    with open_zip(data, where) as zf:
        for info in zf.infolist():
            budget.add_member(where)
            what = f"{where}: {info.filename}"
            if info.flag_bits & 0x1:
                raise Uninspectable("corrupt", f"{what}: encrypted part in a workbook package")
            budget.check_declared(info.file_size, info.compress_size, what)
            if info.filename.endswith((".xml", ".rels")):
                check_prolog(zf, info.filename, budget, where)
                budget.accept(info.compress_size, info.file_size, what)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
        except Exception as e:  # openpyxl raises many types on hostile input
            raise Uninspectable("corrupt", f"{where}: cannot open workbook ({describe(e)})") from None
        try:
            for ws in wb.worksheets:
                budget.check_time()
                source = f"{where}/{ws.title}"
                if hasattr(ws, "reset_dimensions"):  # read-only sheets: ignore a hostile <dimension>
                    ws.reset_dimensions()
                yield from sheet_items(_xlsx_rows(ws, budget, source), source)
        finally:
            wb.close()
        yield from embedded(zf, budget, where)


def _xlsx_rows(ws: object, budget: Budget, source: str) -> Iterator[list[str]]:
    try:
        for n, values in enumerate(ws.iter_rows(values_only=True)):  # type: ignore[attr-defined]
            if n & 0x3FF == 0:
                budget.check_time()
            yield _row(values)
    except Uninspectable:
        raise
    except Exception as e:
        raise Uninspectable("corrupt", f"{source}: cannot read sheet ({describe(e)})") from None


# -- xls ------------------------------------------------------------------------------------

def xls_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    import xlrd
    budget.accept(len(data), len(data) * XLS_MEMORY_FACTOR, f"{where}: xls workbook (in-memory size)")
    with open(os.devnull, "w") as devnull:
        try:
            book = xlrd.open_workbook(file_contents=data, on_demand=True, logfile=devnull)
        except xlrd.XLRDError as e:
            if "encrypt" in str(e).lower():
                yield Encrypted(where)
                return
            raise Uninspectable("corrupt", f"{where}: cannot open xls workbook ({describe(e)})") from None
        except Exception as e:  # xlrd raises many types on hostile input
            raise Uninspectable("corrupt", f"{where}: cannot open xls workbook ({describe(e)})") from None
        try:
            for index in range(book.nsheets):
                budget.check_time()
                try:
                    sheet = book.sheet_by_index(index)
                except Exception as e:
                    raise Uninspectable("corrupt", f"{where}: cannot read sheet {index + 1} "
                                        f"({describe(e)})") from None
                source = f"{where}/{sheet.name}"
                yield from sheet_items(_xls_rows(book, sheet, budget), source)
                book.unload_sheet(index)
        finally:
            book.release_resources()


def _xls_rows(book: xlrd.book.Book, sheet: xlrd.sheet.Sheet, budget: Budget) -> Iterator[list[str]]:
    import xlrd
    for r in range(sheet.nrows):
        if r & 0x3FF == 0:
            budget.check_time()
        values: list[object] = []
        for cell in sheet.row(r):
            if cell.ctype == xlrd.XL_CELL_DATE:
                try:
                    values.append(xlrd.xldate_as_datetime(cell.value, book.datemode))
                except (ValueError, OverflowError, xlrd.xldate.XLDateError):
                    values.append(cell.value)
            elif cell.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_EMPTY):
                values.append(None)
            else:
                values.append(cell.value)
        yield _row(values)
