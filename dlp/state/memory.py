"""The embedded state backend: windows in the proxy process (they survive nothing), and
approvals as files under ``<data-dir>/approvals/`` so that ``dlp quarantine release``, a
separate process, can grant one to the running proxy."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from dlp.state import file_salt

PURGE_EVERY = 1000
"""Window writes between sweeps of expired entries."""


class MemoryState:
    name = "memory"

    def __init__(self, data_dir: Path | None = None):
        self._salt = file_salt(data_dir) if data_dir is not None else None
        self._windows: dict[str, dict[bytes, float]] = {}
        self._approvals_dir = Path(data_dir) / "approvals" if data_dir is not None else None
        self._approvals: dict[str, tuple[str, float]] = {}
        self._writes = 0

    @property
    def up(self) -> bool:
        return True

    async def salt(self) -> bytes:
        if self._salt is None:
            import os
            self._salt = os.urandom(32)
        return self._salt

    def count_now(self, subject: str, digests: list[bytes], period: float, now: float) -> int:
        seen = self._windows.get(subject, {})
        since = now - period
        recent = {d for d, t in seen.items() if t >= since}
        return len(recent.union(digests))

    def windows(self) -> dict[str, dict[bytes, float]]:
        """Every subject's persons (salted digest → time last sent); read only."""
        return self._windows

    async def window_count(self, subject: str, digests: list[bytes], period: float, now: float) -> int:
        return self.count_now(subject, digests, period, now)

    def add_now(self, subject: str, digests: list[bytes], now: float, retention: float) -> None:
        seen = self._windows.setdefault(subject, {})
        for d in digests:
            seen[d] = now
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            self._purge(now, retention)

    async def window_add(self, subject: str, digests: list[bytes], now: float, retention: float) -> None:
        self.add_now(subject, digests, now, retention)

    def _purge(self, now: float, retention: float) -> None:
        for subject in list(self._windows):
            kept = {d: t for d, t in self._windows[subject].items() if t >= now - retention}
            if kept:
                self._windows[subject] = kept
            else:
                del self._windows[subject]

    async def approval_put(self, key: str, incident: str, ttl: float) -> None:
        if self._approvals_dir is None:
            self._approvals[key] = (incident, time.time() + ttl)
            return
        self._approvals_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self._approvals_dir / key
        tmp = final.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps({"incident": incident, "expires": time.time() + ttl}).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)

    async def approval_take(self, key: str) -> str | None:
        if self._approvals_dir is None:
            entry = self._approvals.pop(key, None)
        else:
            path, taken = self._approvals_dir / key, self._approvals_dir / f"{key}.taken.{os.getpid()}"
            try:
                os.rename(path, taken)  # atomic: only one taker wins
            except FileNotFoundError:
                return None
            try:
                doc = json.loads(taken.read_bytes())
                entry = (doc["incident"], float(doc["expires"]))
            except (OSError, ValueError, KeyError):
                entry = None
            finally:
                taken.unlink(missing_ok=True)
        if entry is None or entry[1] < time.time():
            return None
        return entry[0]

    async def probe(self) -> None:
        return None

    async def close(self) -> None:
        return None
