"""Extraction: any outbound body → Records, Tables and TextBlocks for the detectors.

The true type is sniffed from magic bytes and structure (``sniff``), never trusted from a name
or a declared type, and dispatched to one handler per format family:

  archives       zip, tar, 7z, gzip/bz2/xz/zstd      spreadsheets  xlsx/xlsm, xls
  documents      docx, pptx, odt, odp, ods          pdf, rtf      text layer, text
  mail           eml, msg                           ole           doc/ppt, encrypted OOXML
  forms          multipart, urlencoded              jsondoc       JSON, NDJSON, base64 values
  markup         html, xml                          text, binary  encodings, CSV; text runs

Handlers yield items plus events (``events.py``): a Member (a file inside: archive member,
attachment, base64 string) is extracted here, one level deeper, under the same Budget; an
Encrypted part is reported by name; a Problem (one unreadable part) is recorded and the
siblings go on. A handler failing on hostile input costs its own part, never the transfer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import chain

from dlp.extract import (
    archives,
    binary,
    documents,
    embedded,
    forms,
    jsondoc,
    mail,
    markup,
    ole,
    pdf,
    request,
    rtf,
    spreadsheets,
    text,
)
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.content_encoding import decode_body
from dlp.extract.events import Encrypted, Event, Member, Mismatch, Problem
from dlp.extract.sniff import UNSUPPORTED, sniff, text_kind
from dlp.model import Record, ScanResult, Table, TextBlock, Transfer

Item = Record | Table | TextBlock
Handler = Callable[[bytes, str, Budget, str], Iterable[Event]]

log = logging.getLogger(__name__)

MAX_FILENAMES = 100
"""File names kept per transfer for the incident (an archive may hold thousands)."""
MAX_ERRORS = 20
"""Error strings kept per transfer (a 42.zip yields thousands of the same kind)."""

__all__ = ["MAX_FILENAMES", "Extractor", "Item", "sniff"]


def _plain(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    yield from text.text_items(data, where, budget)
    yield from embedded.run_members(data, where, budget)


def _binary(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    yield from binary.run_blocks(data, where, budget)


def _encoded_body(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    """A whole body that is one base64, base32 or hex string: the file it carries. Anything
    else (a base64 line in front of a list) is text, with its encoded runs read besides."""
    decoded = embedded.decode(data.decode("ascii", "replace").strip())
    if decoded is None:
        raise Mismatch()
    yield Member(where, decoded[0], decoded[1], is_file=False)


def _pgp(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    yield Encrypted(where)


BINARY_HANDLERS: dict[str, Handler] = {
    "zip": archives.zip_items,
    "tar": archives.tar_items,
    "7z": archives.sevenzip_items,
    "gzip": lambda d, w, b, _c: archives.stream_items(d, w, b, "gzip"),
    "bz2": lambda d, w, b, _c: archives.stream_items(d, w, b, "bz2"),
    "xz": lambda d, w, b, _c: archives.stream_items(d, w, b, "xz"),
    "zstd": lambda d, w, b, _c: archives.stream_items(d, w, b, "zstd"),
    "docx": documents.docx_items,
    "pptx": documents.pptx_items,
    "odt": documents.odf_items,
    "odp": documents.odf_items,
    "ods": documents.odf_items,
    "xlsx": spreadsheets.xlsx_items,
    "xls": spreadsheets.xls_items,
    "ole": ole.ole_items,
    "ooxml-encrypted": ole.encrypted_ooxml_items,
    "msg": mail.msg_items,
    "pdf": pdf.pdf_items,
    "rtf": rtf.rtf_items,
}
TEXT_HANDLERS: dict[str, Handler] = {
    "json": jsondoc.json_items,
    "html": markup.html_items,
    "xml": markup.xml_items,
    "eml": mail.eml_items,
    "urlencoded": forms.urlencoded_items,
    "base64": _encoded_body,
    "pgp": _pgp,
    "text": _plain,
}


class Extractor:
    """Walks one transfer, recording side facts (file names, encrypted members, errors)."""

    def __init__(self, budget: Budget, result: ScanResult):
        self.budget = budget
        self.result = result

    def transfer_items(self, transfer: Transfer) -> Iterator[Item]:
        limits = self.budget.limits
        if len(transfer.body) > limits.max_body:
            raise Uninspectable("too_large", f"body of {len(transfer.body)} bytes exceeds "
                                f"inspect.max_body ({limits.max_body} bytes)")
        if transfer.body:
            body = decode_body(transfer.body, transfer.content_encoding, self.budget)
            self.result.bytes_inspected += len(body)
            name = transfer.filename or ""
            if transfer.filename:
                self._filename(transfer.filename)
            yield from self.payload_items(body, transfer.content_type, name, 0)
        if transfer.protocol == "http":
            yield from self.request_items(transfer)

    def request_items(self, transfer: Transfer) -> Iterator[Item]:
        """The request line and headers, one more part of the transfer (``request.py``)."""
        self.result.bytes_inspected += len(transfer.path) + sum(map(len, chain.from_iterable(transfer.headers)))
        encrypted: list[str] = []
        try:
            for event in request.request_events(transfer.path, transfer.headers, self.budget):
                yield from self._event(event, 0, encrypted)
        except Uninspectable as e:
            if e.reason == "timeout":
                raise
            self.problem(e.reason, f"{request.SOURCE}: {e}")
        finally:
            self._encrypted(encrypted)

    def payload_items(self, data: bytes, content_type: str, name: str, depth: int) -> Iterator[Item]:
        """Items of one payload, guarded so a failure is recorded, not raised."""
        where = name or "body"
        try:
            yield from self._payload(data, content_type, where, depth)
        except Uninspectable as e:
            if e.reason == "timeout":
                raise
            self.problem(e.reason, str(e))
        except Exception as e:  # a library failing on hostile input: this part only
            log.debug("extractor failed on %s", where, exc_info=True)
            self.problem("corrupt", f"{where}: extractor failed ({type(e).__name__})")

    def handler_for(self, data: bytes, content_type: str, where: str) -> tuple[str, Handler]:
        """The format of a payload and its handler."""
        kind = sniff(data)
        if kind in UNSUPPORTED:
            raise Uninspectable("unsupported", f"{where}: {UNSUPPORTED[kind]} cannot be read")
        if kind:
            return kind, BINARY_HANDLERS[kind]
        ctype = content_type.split(";")[0].strip().lower()
        if ctype == "multipart/form-data":
            return "multipart", lambda d, w, b, _c: forms.multipart_items(d, w, b, content_type)
        encoding = text.detect_encoding(data)
        if encoding is None:
            return "binary", _binary
        kind = text_kind(text.decode_as(data[:4096], encoding), content_type)
        if kind == "text":
            return kind, partial(_encoded_text, encoding=encoding)
        return kind, TEXT_HANDLERS[kind]

    def _payload(self, data: bytes, content_type: str, where: str, depth: int) -> Iterator[Item]:
        self.budget.check_time()
        self.budget.check_depth(depth, where)
        kind, handler = self.handler_for(data, content_type, where)
        produced = False
        encrypted: list[str] = []
        try:
            try:
                for event in handler(data, where, self.budget, content_type):
                    produced = True
                    yield from self._event(event, depth, encrypted)
            except Mismatch:
                if produced or kind in ("text", "binary"):
                    raise Uninspectable("corrupt", f"{where}: {kind} content ended unexpectedly") from None
                for event in _plain(data, where, self.budget):
                    yield from self._event(event, depth, encrypted)
        finally:
            self._encrypted(encrypted)

    def _event(self, event: Event, depth: int, encrypted: list[str]) -> Iterator[Item]:
        if isinstance(event, Table):
            yield Table(event.header, self._rows(event.rows, event.source), event.source)
        elif isinstance(event, Record | TextBlock):
            yield event
        elif isinstance(event, Member):
            if event.is_file:
                self._filename(event.name)
            yield from self.payload_items(event.data, event.content_type, event.name, depth + 1)
        elif isinstance(event, Encrypted):
            if event.name != "body":
                self._filename(event.name)
            encrypted.append(event.name)
        elif isinstance(event, Problem):
            self.problem(event.reason, event.message)

    def _rows(self, rows: Iterable[list[str]], source: str) -> Iterator[list[str]]:
        """A table's rows; a sheet that breaks off mid-way costs its remaining rows only."""
        try:
            yield from rows
        except Uninspectable as e:
            if e.reason == "timeout":
                raise
            self.problem(e.reason, str(e))
        except Exception as e:
            log.debug("extractor failed on %s", source, exc_info=True)
            self.problem("corrupt", f"{source}: extractor failed ({type(e).__name__})")

    def problem(self, reason: str, message: str) -> None:
        """Record an uninspectable part: every reason, the first MAX_ERRORS messages."""
        errors = self.result.errors
        if len(errors) < MAX_ERRORS:
            self.result.mark_uninspectable(reason, message)
            return
        if reason not in self.result.uninspectable:
            self.result.uninspectable.append(reason)
        if len(errors) == MAX_ERRORS:
            errors.append("further errors omitted")

    def _filename(self, name: str) -> None:
        if len(self.result.filenames) < MAX_FILENAMES and name not in self.result.filenames:
            self.result.filenames.append(name)

    def _encrypted(self, names: list[str]) -> None:
        if not names:
            return
        self.result.encrypted = True
        self.result.encrypted_files.extend(names)
        self.problem(
            "encrypted", f"encrypted content cannot be scanned: {', '.join(names[:5])}"
            + (f" and {len(names) - 5} more" if len(names) > 5 else ""))


def _encoded_text(data: bytes, where: str, budget: Budget, _ctype: str = "", *, encoding: str) -> Iterator[Event]:
    yield from text.text_items(data, where, budget, encoding=encoding)
    yield from embedded.run_members(data, where, budget)
