"""Runs the enabled detectors over extracted items and groups findings into records.

Table rows and JSON objects arrive as records with labels: a labelled cell is checked by the
detector its label names (a 氏名 column holds names), other cells are scanned. Free text is
scanned whole (one pass per detector over the block, not per line), then findings are grouped
into records: a line, merged with the following lines of its paragraph while they add no
second identity (a mail signature of name, phone and e-mail lines is one person; a list of
addresses one per line is many).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import regex

from dlp.detect.normalize import fold
from dlp.detect.registry import MODULES
from dlp.model import Finding, Record, TextBlock

_BLANK_LINE = regex.compile(r"\n[ \t\r\u3000]*\n")


@dataclass(frozen=True)
class RecordFindings:
    """The findings of one record, with a digest of its other values (see count.py)."""

    findings: tuple[Finding, ...]
    fingerprint: str | None = None


class DetectorSet:
    """The enabled detectors, compiled once per policy and reused for every transfer."""

    def __init__(self, enabled: frozenset[str]):
        self.modules: tuple[ModuleType, ...] = tuple(m for m in MODULES if m.ID in enabled)
        self._labels: dict[str | None, ModuleType | None] = {None: None}

    def for_label(self, label: str | None) -> ModuleType | None:
        """The detector a column header or JSON key names, if any (cached per label)."""
        try:
            return self._labels[label]
        except KeyError:
            pass
        assert label is not None
        norm = fold(label).strip().strip("*").strip()
        found = next((m for m in self.modules if m.LABELS.search(norm)), None)
        self._labels[label] = found
        return found

    def record(self, record: Record) -> RecordFindings:
        findings: list[Finding] = []
        other: list[str] = []
        for label, value in record.fields:
            if not value:
                continue
            text = fold(value)
            det = self.for_label(label)
            if det is not None:
                f = det.check(text)
                if f is not None:
                    findings.append(f)
                    if f.detector != "person_name":
                        other.append(f.key)
                    continue
            other.append(text.strip())
            for m in self.modules:
                findings.extend(f for _off, f in m.find(text))
        digest = hashlib.blake2b("\x1f".join(other).encode(), digest_size=12).hexdigest()
        return RecordFindings(tuple(findings), digest)

    def block(self, block: TextBlock) -> Iterator[RecordFindings]:
        """Records of a free-text block, built from where its findings lie."""
        text = fold(block.text)
        hits: list[tuple[int, Finding]] = []
        for m in self.modules:
            hits.extend(m.find(text))
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
        prev_end = -1
        for start, end, fs in lines:
            new_paragraph = prev_end < 0 or bool(_BLANK_LINE.search(text, prev_end, start + 1))
            if current and (new_paragraph or _conflicts(current, fs)):
                yield RecordFindings(tuple(current))
                current = []
            current.extend(fs)
            prev_end = end
        if current:
            yield RecordFindings(tuple(current))


def _conflicts(current: list[Finding], line: list[Finding]) -> bool:
    """True when ``line`` carries another identity than the record built so far."""
    have = {(f.detector, f.key) for f in current if f.identifies}
    have_dets = {d for d, _ in have}
    return any(f.identifies and f.detector in have_dets and (f.detector, f.key) not in have
               for f in line)
