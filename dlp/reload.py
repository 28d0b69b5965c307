"""Hot reload of the policy file: within seconds of a change, whether the file was written in
place, replaced by rename (editors), or swapped through a symlink (Kubernetes ConfigMaps).

The file is polled (stat follows symlinks; inode, size and mtime are compared, then the bytes'
sha256), so no inotify subtleties with atomic renames and symlink swaps. A broken new file is
rejected with the same errors ``dlp check-config`` prints, logged, and the old policy stays
in force: nothing passes uninspected in between.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from dlp.config import ConfigError, Policy, parse_policy
from dlp.metrics import Metrics

log = logging.getLogger("sekimori.config")

POLL_SECONDS = 1.0


class PolicyWatcher:
    def __init__(self, path: Path, current: Policy, metrics: Metrics,
                 apply: Callable[[Policy], Awaitable[None]]):
        self.path = path
        self.sha256 = current.sha256
        self.metrics = metrics
        self.apply = apply
        self._stamp = self._stat()
        self._task: asyncio.Task[None] | None = None

    def _stat(self) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

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
        self._stamp = stamp
        try:
            raw = self.path.read_bytes()
        except OSError as e:
            log.error("config reload: cannot read %s: %s", self.path, e.strerror)
            self.metrics.config_reloads.labels("failure").inc()
            return False
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
