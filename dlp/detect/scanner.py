"""Runs the enabled detectors over extracted items and groups findings into records.

- Tables: a labelled column (氏名, 電話番号...) is checked by the detector its header names;
  an unlabelled column is typed from a sample of its cells (a column where most cells are
  valid phone numbers is a phone column). Cells of untyped columns, and typed cells that fail
  their check, are scanned as text. One row is one record.
- JSON objects and forms: the same, with keys as labels; one object is one record.
- Free text: two RE2 passes find where any detector could find something (``prefilter``);
  the numeric-token pass shared by all numeric detectors and each textual detector then run
  on those windows only, and findings are grouped into records: a line,
  merged with the following lines of its paragraph while they add no second identity (a mail
  signature of name, phone and e-mail lines is one person; a list of addresses one per line
  is many).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from itertools import accumulate, chain, islice, zip_longest
from types import ModuleType
from typing import NamedTuple

import regex

from dlp.detect import morph, numbers
from dlp.detect.normalize import fold, fold_cells
from dlp.detect.prefilter import NUMBERS, Prefilter
from dlp.detect.registry import MODULES
from dlp.model import Finding, Record, Table, TextBlock

_BLANK_LINE = regex.compile(r"\n[ \t\r\u3000]*\n")
SAMPLE_ROWS = 64
"""Rows read ahead to type a table's unlabelled columns."""
TYPING_SHARE = 0.6
"""Share of a column's sampled cells that must validate for the column to be typed."""
TRUST_SHARE = 0.9
"""Share of a labelled column's sampled cells that must pass the full check before the rest
of the column is checked by shape only (``fast_check``, where a detector offers one)."""

Column = tuple[ModuleType, bool] | None
"""A column's detector and whether its label is weak evidence (a bare ``name``)."""


class _Fast(tuple):
    """A trusted column: (module, False), checked with the module's ``fast_check``."""

    __slots__ = ()


ROW_BATCH = 256
"""Rows of a table without typed columns scanned together as free text (see ``DetectorSet._free_rows``)."""
COLUMN_BATCH = 4096
"""Rows of a table with typed columns checked together, column by column (see ``TypedRows``)."""
_ROW_GAP = "\n" + " " * 64 + "\n"


class RecordFindings(NamedTuple):
    """The findings of one record, with its other values (what tells two records of the same
    name apart, see count.py; hashed there only when needed)."""

    findings: tuple[Finding, ...]
    values: Sequence[str] = ()


_NOTHING = RecordFindings(())


class TypedRows:
    """Rows of a table batch, held column by column: for each checked column its detector id
    and each row's finding (None where the cell was empty or failed its check). Each distinct
    value of a column was checked once, and one ``Finding`` is shared by the cells that hold
    it, so a 30,000-row list costs no per-cell Python beyond a lookup. ``PersonCounter.add_typed``
    counts these rows as ``add`` would count each row's ``RecordFindings``; ``unique`` gives
    each column's distinct findings in the order they first appear (for the keys and the
    evidence). Rows listed in ``skip`` were given as ``RecordFindings`` (their free-text cells
    held findings too) and are left out here."""

    __slots__ = ("_cells", "checked", "columns", "rows", "skip", "unique")

    def __init__(self, rows: int, columns: list[tuple[str, list[Finding | None]]],
                 unique: list[dict[str, Finding | None]], cells: list[Sequence[str]],
                 checked: list[bool], skip: frozenset[int]):
        self.rows = rows
        self.columns = columns
        self.unique = unique
        self._cells = cells
        self.checked = checked
        self.skip = skip

    def values(self, i: int) -> list[str]:
        """Row ``i``'s values that tell records apart (as ``DetectorSet._typed`` lists them):
        the keys of its findings other than names, and the other non-empty cells, stripped."""
        out: list[str] = []
        found = iter(self.columns)
        for cells, checked in zip(self._cells, self.checked, strict=True):
            f = next(found)[1][i] if checked else None
            if f is not None:
                if f.detector != "person_name":
                    out.append(f.key)
            elif cells[i]:
                out.append(cells[i].strip())
        return out

    def findings(self, i: int) -> list[Finding]:
        return [f for _det, col in self.columns if (f := col[i]) is not None]
CLEAN_CACHE_SIZE = 4096
"""Records remembered as holding nothing (then forgotten all at once: no LRU bookkeeping)."""
CLEAN_CACHE_VALUE_MAX = 4096
"""Only records up to this many characters are remembered."""


class DetectorSet:
    """The enabled detectors, compiled once per policy and reused for every transfer."""

    def __init__(self, enabled: frozenset[str]):
        self.modules: tuple[ModuleType, ...] = tuple(m for m in MODULES if m.ID in enabled)
        by_len: dict[int, list[ModuleType]] = {}
        for m in self.modules:
            for n in getattr(m, "DIGIT_LENGTHS", ()):
                by_len.setdefault(n, []).append(m)
        self.by_len = {n: tuple(ms) for n, ms in by_len.items()}
        self._from_number = {n: tuple(m.from_number for m in ms) for n, ms in by_len.items()}
        self.lengths = frozenset(self.by_len)
        self.textual = tuple(m for m in self.modules if hasattr(m, "find"))
        self.names = next((m for m in self.modules if hasattr(m, "near")), None)
        self.prefilter = Prefilter(self.textual, bool(self.by_len))
        self._clean: set[tuple[tuple[str | None, str], ...]] = set()
        self._labels: dict[str | None, Column] = {None: None}

    def for_label(self, label: str | None) -> Column:
        """The detector a column header or JSON key names, if any (cached per label)."""
        try:
            return self._labels[label]
        except KeyError:
            pass
        assert label is not None
        norm = fold(label).strip().strip("*:：").strip()
        found: Column = None
        for m in self.modules:
            if m.LABELS.search(norm):
                weak = getattr(m, "WEAK_LABELS", None)
                found = (m, bool(weak and weak.search(norm)))
                break
        self._labels[label] = found
        return found

    def _trusted(self, column: Column, i: int, sample: list[list[str]]) -> Column:
        """A column whose sampled cells nearly all pass the full check is checked by shape."""
        if column is None or column[1] or not hasattr(column[0], "fast_check"):
            return column
        values = [fold(r[i]) for r in sample if i < len(r) and r[i].strip()]
        ok = sum(1 for v in values if column[0].check(v) is not None)
        return _Fast((column[0], False)) if values and ok >= TRUST_SHARE * len(values) else column

    def text_hits(self, text: str, names: bool = True) -> list[tuple[int, Finding]]:
        """Every validated value in folded ``text``, with its offset. ``names=False`` skips
        name finding in free text (table rows get their name columns from typing instead)."""
        hits: list[tuple[int, Finding]] = []
        windows = self.prefilter.windows(text)
        for lo, hi in windows.get(NUMBERS, ()):
            self._numbers(text, numbers.tokens(text, self.lengths, True, lo, hi), hits)
        for m in self.textual:
            if not names and m.ID == "person_name":
                continue
            for lo, hi in windows.get(m.ID, ()):
                hits.extend((lo + off, f) for off, f in m.find(text[lo:hi]))
        if names and self.names is not None and hits:
            labelled = {off for off, f in hits if f.detector == "person_name"}
            hits.extend((off, f) for off, f in self.names.near(text, [off for off, _f in hits])
                        if off not in labelled)
        return hits

    def _numbers(self, text: str, toks: Iterable[tuple[str, str, int, int]],
                 hits: list[tuple[int, Finding]]) -> None:
        by_len = self._from_number
        for tok, digits, start, end in toks:
            for from_number in by_len.get(len(digits), ()):
                f = from_number(tok, digits, text, start, end)
                if f is not None:
                    hits.append((start, f))

    # -- structured items ------------------------------------------------------------------

    def _checker(self, column: Column) -> Callable[[str], Finding | None] | None:
        """The check function a column's cells go through (bound once per table)."""
        if column is None:
            return None
        module, weak = column
        if isinstance(column, _Fast):
            return module.fast_check
        return module.check_weak if weak else module.check

    def _fields(self, fields: Iterable[tuple[Column, str]], names: bool = True) -> RecordFindings:
        return self._cells(((self._checker(c), fold(v)) for c, v in fields if v), names)

    def _cells(self, cells: Iterable[tuple[Callable[[str], Finding | None] | None, str]],
               names: bool = True) -> RecordFindings:
        """Findings of one record from (check function or None, folded value) pairs."""
        findings, other, loose = self._typed(cells)
        if loose:
            findings.extend(f for _off, f in self.text_hits(loose, names))
        return RecordFindings(tuple(findings), other)

    @staticmethod
    def _typed(cells: Iterable[tuple[Callable[[str], Finding | None] | None, str]]
               ) -> tuple[list[Finding], list[str], str]:
        """Checked cells' findings, the values that tell records apart, and the text of the
        cells no check claimed (to be scanned as free text)."""
        findings: list[Finding] = []
        other: list[str] = []
        loose: list[str] = []
        for check, text in cells:
            if not text:
                continue
            if check is not None:
                f = check(text)
                if f is not None:
                    findings.append(f)
                    if f.detector != "person_name":
                        other.append(f.key)
                    continue
            other.append(text.strip())
            loose.append(text)
        return findings, other, "\n".join(loose)

    def _free_rows(self, rows: list[list[str]]) -> list[RecordFindings]:
        """The records with findings among rows that are free text only, scanned as one text
        so the detector passes run once per batch rather than once per row (a 50 MB CSV
        without personal data would otherwise spend its whole time budget on per-call
        overhead). Rows are separated by a blank stretch longer than any label's reach, so
        context never crosses rows. The text is joined in C, and rows are looked at one by
        one only when something was found."""
        texts = list(map("\n".join, rows))
        hits = self.text_hits(fold(_ROW_GAP.join(texts)), names=False)
        if not hits:
            return []
        return [RecordFindings(tuple(more), row)
                for row, more in zip(rows, _by_row(hits, map(len, texts)), strict=True) if more]

    def record(self, record: Record) -> RecordFindings:
        """The findings of one record. A small record found to hold nothing is remembered, so
        the same one again costs a lookup: a browser repeats its cookies and headers on every
        request (the result is a pure function of the fields and the detector set)."""
        fields = record.fields
        if fields in self._clean:
            return _NOTHING
        rec = self._fields((self.for_label(label), value) for label, value in fields)
        if not rec.findings and sum(len(v) for _l, v in fields) <= CLEAN_CACHE_VALUE_MAX:
            if len(self._clean) >= CLEAN_CACHE_SIZE:
                self._clean.clear()
            self._clean.add(fields)
        return rec

    def table(self, table: Table) -> Iterator[tuple[int, list[RecordFindings | TypedRows]]]:
        """The rows in batches: (rows in the batch, their findings), with unlabelled columns
        typed from a sample. A table with typed columns is checked column by column
        (``_typed_rows``); one without is scanned as free text, rows batched (``_free_rows``).
        Either way no per-cell Python runs for a cell that holds nothing (a resident list has
        tens of thousands of rows; an export without personal data yields nothing but row
        counts)."""
        rows = iter(table.rows)
        sample = list(islice(rows, SAMPLE_ROWS))
        width = max((len(r) for r in sample), default=0)
        columns = [self._trusted(self._column(table.header, i, sample), i, sample)
                   for i in range(max(width, len(table.header)))]
        checks = [self._checker(c) for c in columns]
        if not any(checks):  # nothing to check cell by cell: every row is free text
            parts = chain((sample,), iter(lambda: list(islice(rows, ROW_BATCH)), []))
            for part in parts:
                part = [row for row in part if row]
                yield len(part), self._free_rows(part)
            return
        typed = [(c[0], check) for c, check in zip(columns, checks, strict=True) if check is not None]
        parts = chain((sample,), iter(lambda: list(islice(rows, COLUMN_BATCH)), []))
        for part in parts:
            part = [row for row in part if row]
            if part:
                yield len(part), self._typed_rows(part, checks, typed)

    def _typed_rows(self, part: list[list[str]], checks: list[Callable[[str], Finding | None] | None],
                    typed: list[tuple[ModuleType, Callable[[str], Finding | None]]]
                    ) -> list[RecordFindings | TypedRows]:
        """A batch of rows of a table with checked columns, column by column: each column is
        folded in one call, each distinct value of a checked column is checked once
        (``check_column``), the cells no check claimed are joined per row (in C) and scanned
        as free text in one pass (``_free_rows``' layout). Rows where that text holds findings
        become ``RecordFindings`` (as the row-by-row path made them); the rest stay columns."""
        cells = [fold_cells(col) for col in zip_longest(*part, fillvalue="")]
        n = len(part)
        columns: list[tuple[str, list[Finding | None]]] = []
        unique: list[dict[str, Finding | None]] = []
        checked: list[bool] = []
        loose: list[Sequence[str]] = []
        checkers = iter(typed)
        for i, col in enumerate(cells):
            if i >= len(checks) or checks[i] is None:
                checked.append(False)
                loose.append(col)
                continue
            module, check = next(checkers)
            results = check_column(module, check, col)
            found = list(map(results.get, col))
            columns.append((module.ID, found))
            unique.append(results)
            checked.append(True)
            if None in results.values():   # some values failed their check: those cells are free text
                failed = {v for v, f in results.items() if f is None}
                loose.append([v if v in failed else "" for v in col])
        skip: list[int] = []
        extra: list[RecordFindings] = []
        if loose:
            texts = list(map("\n".join, map(partial(filter, None), zip(*loose, strict=True))))
            hits = self.text_hits(_ROW_GAP.join(texts), names=False)
            if hits:
                batch = TypedRows(n, columns, unique, cells, checked, frozenset())
                for i, more in enumerate(_by_row(hits, map(len, texts))):
                    if more:
                        skip.append(i)
                        extra.append(RecordFindings(tuple(batch.findings(i) + more), batch.values(i)))
        out: list[RecordFindings | TypedRows] = [TypedRows(n, columns, unique, cells, checked, frozenset(skip))]
        out.extend(extra)
        return out

    def _column(self, header: tuple[str | None, ...], i: int, sample: list[list[str]]) -> Column:
        if i < len(header) and header[i]:
            labelled = self.for_label(header[i])
            if labelled is not None:
                return labelled
        values = [fold(r[i]) for r in sample if i < len(r) and r[i].strip()]
        if len(values) < 3:
            return None
        need = max(3, TYPING_SHARE * len(values))
        best: tuple[int, ModuleType] | None = None
        for m in self.modules:
            if m.ID == "person_name" or not getattr(m, "TYPED_BY_CONTENT", True):
                continue
            ok = sum(1 for v in values if m.check(v) is not None)
            if ok >= need and (best is None or ok > best[0]):
                best = (ok, m)
        if best is not None:
            return best[1], False
        names = next((m for m in self.modules if m.ID == "person_name"), None)
        if names is not None:
            ok = sum(1 for v in values if names.check(v) is not None and morph.has_name(v))
            if ok >= need:
                return names, False
        return None

    # -- free text -------------------------------------------------------------------------

    def block(self, block: TextBlock) -> Iterator[RecordFindings]:
        """Records of a free-text block, built from where its findings lie."""
        text = fold(block.text)
        hits = self.text_hits(text)
        if not hits:
            return
        hits.sort(key=lambda h: h[0])
        lines: list[tuple[int, int, list[Finding]]] = []  # (start offset, line end, findings)
        for off, f in hits:
            if lines and off < lines[-1][1]:
                lines[-1][2].append(f)
                continue
            end = text.find("\n", off)
            lines.append((off, len(text) if end < 0 else end, [f]))
        current: list[Finding] = []
        identities: dict[str, set[str]] = {}  # detector -> keys of the identities in ``current``
        prev_end = -1
        for start, end, fs in lines:
            new_paragraph = prev_end < 0 or bool(_BLANK_LINE.search(text, prev_end, start + 1))
            if current and (new_paragraph or _conflicts(identities, fs)):
                yield RecordFindings(tuple(current))
                current = []
                identities = {}
            current.extend(fs)
            for f in fs:
                if f.identifies:
                    identities.setdefault(f.detector, set()).add(f.key)
            prev_end = end
        if current:
            yield RecordFindings(tuple(current))


def check_column(module: ModuleType, check: Callable[[str], Finding | None],
                 cells: Sequence[str]) -> dict[str, Finding | None]:
    """Each distinct non-empty value of a column with its finding (or None), in the order
    they first appear. A module may check many values in one pass (``check_many``, given the
    check function the column uses); else each distinct value is checked once."""
    values = dict.fromkeys(cells)
    values.pop("", None)
    many = getattr(module, "check_many", None)
    if many is not None:
        found = many(check, list(values))
        if found is not None:
            return dict(zip(values, found, strict=True))
    return {v: check(v) for v in values}


def _by_row(hits: list[tuple[int, Finding]], lengths: Iterable[int]) -> list[list[Finding]]:
    """The findings of a batch's text per row, from the rows' lengths (see ``_ROW_GAP``)."""
    starts = list(accumulate((n + len(_ROW_GAP) for n in lengths), initial=0))
    per_row: list[list[Finding]] = [[] for _ in range(len(starts) - 1)]
    for off, f in hits:
        per_row[bisect.bisect_right(starts, off) - 1].append(f)
    return per_row


def _conflicts(identities: dict[str, set[str]], line: list[Finding]) -> bool:
    """True when ``line`` carries another identity than the record built so far (whose
    identities are kept per detector as the record grows: a check costs the line, not the
    record, so a paragraph of one repeated value stays linear)."""
    return any(f.identifies and f.key not in identities.get(f.detector, (f.key,)) for f in line)
