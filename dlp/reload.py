"""Hot reload of the policy file: within seconds of a change, whether the file was written in
place, replaced by rename (editors), or swapped through a symlink (Kubernetes ConfigMaps).

The file is polled (stat follows symlinks; inode, size, mtime and ctime are compared, then the
bytes' sha256), so no inotify subtleties with atomic renames and symlink swaps. A changed file
is read until two reads ``SETTLE_SECONDS`` apart agree, bytes and stat alike, so a file an
editor is still writing in place is never applied half written. A broken new file (an empty
one, one that would stop nothing) is rejected with the same errors ``dlp check-config``
prints, logged, counted as ``dlp_config_reloads_total{result="failure"}``, and the old policy
stays in force: nothing passes uninspected in between.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from dlp.config import MAX_POLICY_BYTES, ConfigError, Policy, parse_policy
from dlp.metrics import Metrics

log = logging.getLogger("sekimori.config")

POLL_SECONDS = 1.0
SETTLE_SECONDS = 0.1
"""Two reads of a changed file this far apart must agree before it is parsed."""
SETTLE_TRIES = 10
"""Reads per poll before a file that keeps changing is left for the next poll."""

Stamp = tuple[int, int, int, int, int]


class PolicyWatcher:
    def __init__(self, path: Path, current: Policy, metrics: Metrics,
                 apply: Callable[[Policy], Awaitable[None]]):
        self.path = path
        self.sha256 = current.sha256
        self.metrics = metrics
        self.apply = apply
        self._stamp = self._stat()
        self._task: asyncio.Task[None] | None = None

    def _stat(self) -> Stamp | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _read(self) -> tuple[Stamp | None, bytes]:
        """One read with the stat taken before and after it; the stamp is None when the file
        changed during the read or is missing (between an editor's rename and write)."""
        before = self._stat()
        if before is not None and before[2] > MAX_POLICY_BYTES:
            raise OSError(errno.EFBIG, f"larger than {MAX_POLICY_BYTES} bytes")
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None, b""
        return (before if before == self._stat() else None), raw

    async def _settled(self) -> tuple[Stamp, bytes] | None:
        """The file's stamp and bytes once two reads SETTLE_SECONDS apart agree; None while
        it keeps changing (the next poll tries again). Raises OSError if it cannot be read."""
        stamp, raw = self._read()
        for _ in range(SETTLE_TRIES):
            await asyncio.sleep(SETTLE_SECONDS)
            again, raw_again = self._read()
            if stamp is not None and again == stamp and raw_again == raw:
                return stamp, raw
            stamp, raw = again, raw_again
        return None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="policy-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await self.check()

    async def check(self) -> bool:
        """Reload if the file changed; True when a new policy was put in force."""
        stamp = self._stat()
        if stamp == self._stamp or stamp is None:
            return False
        try:
            settled = await self._settled()
        except OSError as e:
            self._stamp = stamp
            log.error("config reload: cannot read %s, old policy stays in force: %s", self.path, e.strerror)
            self.metrics.config_reloads.labels("failure").inc()
            return False
        if settled is None:
            log.info("config reload: %s is still being written; trying again at the next poll", self.path)
            return False
        self._stamp, raw = settled
        if hashlib.sha256(raw).hexdigest() == self.sha256:
            return False
        try:
            pol = parse_policy(raw, str(self.path))
        except ConfigError as e:
            for problem in e.problems:
                log.error("config reload rejected, old policy stays in force: %s", problem)
            self.metrics.config_reloads.labels("failure").inc()
            self.metrics.errors.labels("config").inc()
            return False
        await self.apply(pol)
        self.sha256 = pol.sha256
        self.metrics.config_reloads.labels("success").inc()
        log.warning("config reloaded from %s (sha256 %s, %d rules)", self.path, pol.sha256[:12], len(pol.rules))
        for w in pol.warnings:
            log.warning("%s", w)
        return True
