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


def path_without_query_values(path: str) -> str:
    """``/up?name=山田&id=1`` → ``/up?name=&id=``: query values may carry personal data."""
    base, sep, query = path.partition("?")
    if not sep:
        return base
    keys = [k for k, _v in urllib.parse.parse_qsl(query, keep_blank_values=True)]
    return base + "?" + "&".join(f"{urllib.parse.quote(k)}=" for k in keys)


def build(incident_id: str, transfer: Transfer, scan: ScanResult, decision: Decision) -> dict[str, Any]:
    """The incident record for a verdict (masked evidence only)."""
    severity = decision.severity or SEVERITY.get(decision.action, "info")
    if decision.action == "block" and scan.persons >= 1000:
        severity = "critical"
    return {
        "id": incident_id,
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "action": decision.action,
        "rules": list(decision.rules),
        "exception": decision.exception,
        "protocol": transfer.protocol,
        "user": transfer.user,
        "client_ip": transfer.client_ip,
        "destination": {"host": transfer.host, "method": transfer.method,
                        "path": path_without_query_values(transfer.path)},
        "filenames": scan.filenames,
        "size": len(transfer.body),
        "persons": scan.persons,
        "findings": scan.findings,
        "severity": severity,
        "uninspectable": list(decision.uninspectable),
        "encrypted_files": scan.encrypted_files,
        "errors": scan.errors,
        "evidence": scan.evidence,
    }


class IncidentLog:
    """Appends incidents durably; safe to call from several threads."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / "incidents.jsonl"
        self._lock = threading.Lock()

    def write(self, incident: dict[str, Any]) -> None:
        line = (json.dumps(incident, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
