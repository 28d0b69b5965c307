"""The words of the flow (see architecture notes): Transfer → Record → Finding → ScanResult → Decision.

Everything here is a plain, picklable value: a scan runs in a worker process and only the
small ``ScanResult`` travels back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class Transfer:
    """One outbound unit: an HTTP request (body, request line and headers), one WebSocket
    message or one SMTP message."""

    protocol: str                      # http | websocket | smtp | tcp
    body: bytes                        # as sent on the wire (before Content-Encoding is undone)
    content_type: str = ""
    content_encoding: str = ""
    filename: str | None = None        # name the transport gives the whole body, if any
    user: str | None = None
    client_ip: str | None = None
    host: str = ""                     # HTTP: request host; SMTP: the upstream MTA
    method: str = ""
    path: str = ""                     # HTTP: the request target (path and query) as sent
    headers: tuple[tuple[str, str], ...] = ()  # HTTP: request headers; with ``path``, content too
    recipients: tuple[str, ...] = ()   # SMTP: envelope recipients (scopes match their domains)
    sender: str | None = None          # SMTP: envelope sender
    port: int | None = None            # TCP tunnels: the destination port (host is its host)


@dataclass(frozen=True)
class Record:
    """A unit that may describe one person: a table row, a JSON object, a text line.

    ``fields`` keeps each value with its label (column header, JSON key) because labels
    are the strongest evidence of what a value is.
    """

    fields: tuple[tuple[str | None, str], ...]
    source: str = ""


@dataclass(frozen=True)
class Table:
    """Rows of a CSV/TSV or sheet with their header (None where there is none). The scanner
    types unlabelled columns from a sample of rows, so the rows come as one item."""

    header: tuple[str | None, ...]
    rows: Iterable[list[str]]
    source: str = ""


@dataclass(frozen=True)
class TextBlock:
    """Free text (a document body, a text upload): detectors scan it whole, then findings are
    grouped into records by line and paragraph."""

    text: str
    source: str = ""


class Finding(NamedTuple):
    """One validated value of one detector: ``key`` is normalised for counting, never logged.

    A NamedTuple rather than a frozen dataclass: a resident list makes one per cell, and
    tuples are created several times faster."""

    detector: str
    key: str
    masked: str
    identifies: bool = False           # names a natural person on its own (makes a record a person)


@dataclass
class ScanResult:
    """What the engine learnt about a transfer; contains no raw personal data."""

    persons: int = 0
    findings: dict[str, int] = field(default_factory=dict)
    evidence: dict[str, list[str]] = field(default_factory=dict)
    encrypted: bool = False
    encrypted_files: list[str] = field(default_factory=list)
    uninspectable: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    filenames: list[str] = field(default_factory=list)
    bytes_inspected: int = 0
    records: int = 0
    seconds: float = 0.0
    engine_error: str | None = None   # the engine itself failed: policy's on_error applies
    person_digests: bytes = b""       # 16 bytes per distinct person (unsalted; see count.py)

    def mark_uninspectable(self, reason: str, error: str) -> None:
        if reason not in self.uninspectable:
            self.uninspectable.append(reason)
        if error not in self.errors:
            self.errors.append(error)


@dataclass(frozen=True)
class Decision:
    """The verdict on a transfer and why."""

    action: str
    rules: tuple[str, ...] = ()
    exception: str | None = None
    uninspectable: tuple[str, ...] = ()
    incident_id: str | None = None
    severity: str | None = None          # set for special cases (departed accounts: critical)
    approval: str | None = None          # the quarantine release (incident id) that let it pass
