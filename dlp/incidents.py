"""The incident log: one JSON object per non-allow verdict, appended to
``<data-dir>/incidents.jsonl`` and fsynced, so the SOC has a record of every stop.

An incident holds counts, masked samples and metadata, never a raw value: the log must not
become a second copy of what it stopped.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dlp.model import Decision, ScanResult, Transfer

log = logging.getLogger("sekimori.incidents")

SEVERITY = {"log": "low", "quarantine": "medium", "block": "high"}


SEGMENT_MAX = 48
"""A path segment or query name longer than this, or percent-encoded, is shown as ``…``: a
request line can carry the personal data itself."""


def redacted_path(path: str) -> str:
    """``/up/%E5%B1%B1…?name=山田&id=1`` → ``/up/…?name=&id=``: query values, long or encoded
    path segments and long query names may carry personal data; the shape stays readable."""
    base, sep, query = path.partition("?")
    base = "/".join(_shown(seg) for seg in base.split("/"))
    if not sep:
        return base
    keys = [k for k, _v in urllib.parse.parse_qsl(query, keep_blank_values=True)]
    return base + "?" + "&".join(("…" if len(k) > SEGMENT_MAX else urllib.parse.quote(k)) + "=" for k in keys)


def _shown(part: str) -> str:
    return "…" if len(part) > SEGMENT_MAX or "%" in part else part


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def destination_of(transfer: Transfer) -> dict[str, Any]:
    """``{host, method, path}`` (HTTP, query values removed), ``{host, recipients_domains}``
    (SMTP) or ``{host, port}`` (a TCP tunnel)."""
    if transfer.protocol == "smtp":
        return {"host": transfer.host,
                "recipients_domains": sorted({r.rpartition("@")[2].lower() for r in transfer.recipients})}
    if transfer.protocol == "tcp":
        return {"host": transfer.host, "port": transfer.port}
    return {"host": transfer.host, "method": transfer.method, "path": redacted_path(transfer.path)}


EVIDENCE_HASHES = 20
"""Salted person hashes kept per incident: enough to tell whether two incidents carried
the same records, not a copy of the list."""


def build(incident_id: str, transfer: Transfer, scan: ScanResult, decision: Decision,
          person_hashes: list[str] | None = None) -> dict[str, Any]:
    """The incident record for a verdict (masked evidence and salted hashes only)."""
    severity = decision.severity or SEVERITY.get(decision.action, "info")
    if decision.action == "block" and scan.persons >= 1000:
        severity = "critical"
    return {
        "id": incident_id,
        "time": now_iso(),
        "action": decision.action,
        "rules": list(decision.rules),
        "exception": decision.exception,
        "protocol": transfer.protocol,
        "user": transfer.user,
        "client_ip": transfer.client_ip,
        "destination": destination_of(transfer),
        "filenames": scan.filenames,
        "size": len(transfer.body),
        "persons": scan.persons,
        "findings": scan.findings,
        "severity": severity,
        "uninspectable": list(decision.uninspectable),
        "encrypted_files": scan.encrypted_files,
        "errors": scan.errors,
        "evidence": {"samples": scan.evidence, "person_hashes": (person_hashes or [])[:EVIDENCE_HASHES]},
        "approval": decision.approval,
        "engine_error": bool(scan.engine_error),
    }


siem = logging.getLogger("sekimori.incident")
"""Each incident as one JSON line on this logger, for a SIEM reading the service's output."""


class IncidentLog:
    """Appends incidents durably (fsync), rotates by size; safe from several threads."""

    def __init__(self, data_dir: Path, rotate_bytes: int = 64 * 2**20, keep: int = 10):
        self.path = Path(data_dir) / "incidents.jsonl"
        self.rotate_bytes = rotate_bytes
        self.keep = keep
        self._lock = threading.Lock()

    def write(self, incident: dict[str, Any]) -> None:
        text = json.dumps(incident, ensure_ascii=False, separators=(",", ":"))
        line = (text + "\n").encode()
        with self._lock:
            self._rotate_if_needed(len(line))
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        siem.info("%s", text)

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size + incoming <= self.rotate_bytes:
            return
        for i in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self.path.with_name(f"{self.path.name}.{self.keep + 1}").unlink(missing_ok=True)

    def files(self) -> list[Path]:
        """The log and its rotations, oldest first."""
        rotated = sorted(self.path.parent.glob(f"{self.path.name}.*"),
                         key=lambda p: int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0, reverse=True)
        return [p for p in rotated if p.suffix[1:].isdigit()] + ([self.path] if self.path.exists() else [])

    def read(self) -> list[dict[str, Any]]:
        """Every incident, oldest first (a torn last line from a crash is skipped)."""
        out = []
        for path in self.files():
            for line in path.read_bytes().splitlines():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def find(self, incident_id: str) -> dict[str, Any] | None:
        return next((i for i in reversed(self.read()) if i.get("id") == incident_id), None)
