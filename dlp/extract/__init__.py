"""Extraction: any outbound body → Records and TextBlocks for the detectors.

The true type is sniffed from magic bytes and structure, never trusted from a name. All
extractors share one Budget. A part that cannot be inspected is recorded with its reason in
the ScanResult and extraction goes on with its siblings, so one corrupt member neither
crashes the scan nor hides the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

from dlp.extract import archives, binary, forms, text
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.content_encoding import decode_body
from dlp.model import Record, ScanResult, TextBlock, Transfer

Item = Record | TextBlock

MAX_FILENAMES = 100
"""File names kept per transfer for the incident (an archive may hold thousands)."""

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"PK\x03\x04", 0, "zip"),
    (b"PK\x05\x06", 0, "zip"),
    (b"\x1f\x8b", 0, "gzip"),
    (b"BZh", 0, "bz2"),
    (b"\xfd7zXZ\x00", 0, "xz"),
    (b"7z\xbc\xaf\x27\x1c", 0, "7z"),
    (b"ustar", 257, "tar"),
)


def sniff(data: bytes) -> str | None:
    """The container type of ``data`` by its magic bytes, or None."""
    for magic, offset, kind in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return kind
    return None


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
        body = decode_body(transfer.body, transfer.content_encoding, self.budget)
        self.result.bytes_inspected += len(body)
        name = transfer.filename or ""
        if transfer.filename:
            self._filename(transfer.filename)
        yield from self.payload_items(body, transfer.content_type, name, 0)

    def payload_items(self, data: bytes, content_type: str, name: str, depth: int) -> Iterator[Item]:
        """Items of one payload, guarded so a failure is recorded, not raised."""
        try:
            yield from self._payload(data, content_type, name, depth)
        except Uninspectable as e:
            self.result.mark_uninspectable(e.reason, str(e))

    def _payload(self, data: bytes, content_type: str, name: str, depth: int) -> Iterator[Item]:
        self.budget.check_time()
        self.budget.check_depth(depth, name or "body")
        ctype = content_type.split(";")[0].strip().lower()
        kind = sniff(data)
        where = name or "body"
        if kind == "zip":
            encrypted: list[str] = []
            for member, content in archives.zip_members(data, self.budget, where, encrypted):
                self._filename(member)
                yield from self.payload_items(content, "", member, depth + 1)
            self._encrypted(encrypted)
        elif kind == "tar":
            for member, content in archives.tar_members(data, self.budget, where):
                self._filename(member)
                yield from self.payload_items(content, "", member, depth + 1)
        elif kind in ("gzip", "bz2", "xz"):
            inner = archives.decompress_stream(data, kind, self.budget, where)
            yield from self.payload_items(inner, "", where.removesuffix("." + kind), depth + 1)
        elif kind == "7z":
            raise Uninspectable("unsupported", f"{where}: 7z archives cannot be read yet")
        elif ctype == "multipart/form-data":
            for part in forms.multipart_parts(data, content_type):
                if part.filename:
                    self._filename(part.filename)
                label = part.filename or part.name or where
                if part.filename is None and part.name and not sniff(part.data) and len(part.data) < 4096:
                    yield Record(((part.name, part.data.decode("utf-8", "replace")),), where)
                else:
                    yield from self.payload_items(part.data, part.content_type, label, depth + 1)
        elif ctype == "application/x-www-form-urlencoded":
            yield forms.urlencoded_record(data, where)
        elif text.looks_binary(data):
            yield binary.text_runs(data, where)
        else:
            records = forms.json_records(data, where) if _maybe_json(ctype, data) else None
            if records is not None:
                yield from records
            else:
                yield from text.text_items(data, where)

    def _filename(self, name: str) -> None:
        if len(self.result.filenames) < MAX_FILENAMES:
            self.result.filenames.append(name)

    def _encrypted(self, names: list[str]) -> None:
        if not names:
            return
        self.result.encrypted = True
        self.result.encrypted_files.extend(names)
        self.result.mark_uninspectable(
            "encrypted", f"encrypted content cannot be scanned: {', '.join(names[:5])}"
            + (f" and {len(names) - 5} more" if len(names) > 5 else ""))


def _maybe_json(ctype: str, data: bytes) -> bool:
    if "json" in ctype:
        return True
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"{", b"[")
