"""The Redis state backend: several proxy replicas share one view of windows and approvals.

Windows are sorted sets ``<prefix>w:<subject>`` of salted person digests scored by the time
they were last sent, so a sliding period is a score range and distinct persons are members.
While Redis is unreachable the proxy keeps serving with local counting (a MemoryState),
reports ``up`` False (dlp_state_backend_up 0), logs that once a minute, and tries Redis again
every few seconds. When it answers again, the persons this replica recorded while it was
away are copied into it, so a drip of uploads timed to an outage still adds up in the shared
windows afterwards.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from dlp.state.memory import MemoryState

log = logging.getLogger("sekimori.state")

RETRY_SECONDS = 5.0
LOG_EVERY_SECONDS = 60.0
CHUNK = 5000


class RedisState:
    name = "redis"

    def __init__(self, url: str, prefix: str, data_dir: Path | None = None):
        self._client = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix
        self._url_for_logs = url.split("@")[-1]  # never log a password
        self._fallback = MemoryState(data_dir)
        self._down_since: float | None = None
        self._last_try = 0.0
        self._last_log = 0.0
        self._salt: bytes | None = None
        self._unsynced_since: float | None = None
        """Wall-clock time from which local window entries may be missing in Redis."""
        self._retention = 0.0

    @property
    def up(self) -> bool:
        return self._down_since is None

    def _use_redis(self) -> bool:
        if self._down_since is None:
            return True
        return time.monotonic() - self._last_try >= RETRY_SECONDS

    def _failed(self, e: Exception) -> None:
        now = time.monotonic()
        self._last_try = now
        if self._down_since is None:
            self._down_since = now
        if self._unsynced_since is None and self._salt is not None:
            # Only entries salted with Redis's salt can be copied there (before the salt
            # was ever read from Redis, local entries use the data dir's).
            self._unsynced_since = time.time() - 1.0
        if now - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = now
            log.error("state backend redis at %s unreachable (%s): counting locally until it is back",
                      self._url_for_logs, type(e).__name__)

    async def _back(self) -> None:
        """Before the first use of Redis after an outage: is it back? Then catch it up, so
        what follows (a window count) already sees the entries recorded meanwhile. Raises
        like any Redis call if it is still away."""
        if self._down_since is not None:
            await self._client.ping()
            await self._ok()

    async def _ok(self) -> None:
        if self._down_since is None:
            return
        self._down_since = None
        log.warning("state backend redis at %s is back", self._url_for_logs)
        if self._salt is not None:
            # A Redis without persistence comes back empty: put the salt back before
            # another replica makes up a new one (its hashes would never match ours).
            try:
                await self._client.set(self._prefix + "salt", self._salt, nx=True)
            except (RedisError, OSError) as e:
                self._failed(e)
                return
        if self._unsynced_since is not None:
            await self._resync()

    async def _resync(self) -> None:
        """Copy the window entries recorded locally since Redis went away into Redis (a
        person's time only moves forward: ZADD GT)."""
        since, self._unsynced_since = self._unsynced_since, None
        assert since is not None
        copied = 0
        try:
            for subject, seen in list(self._fallback.windows().items()):
                recent = {d: t for d, t in seen.items() if t >= since}
                if not recent:
                    continue
                key = self._prefix + "w:" + subject
                items = list(recent.items())
                for i in range(0, len(items), CHUNK):
                    await self._zadd_newer(key, dict(items[i:i + CHUNK]))
                if self._retention:
                    await self._client.expire(key, int(self._retention) + 60)
                copied += len(recent)
        except (RedisError, OSError) as e:
            self._unsynced_since = since  # try again when it is back
            self._failed(e)
            return
        if copied:
            log.warning("state backend redis: %d window entries recorded while it was away copied to it", copied)

    async def _zadd_newer(self, key: str, mapping: dict[bytes, float]) -> None:
        try:
            await self._client.zadd(key, mapping, gt=True)  # Redis >= 6.2
        except ResponseError:
            await self._client.zadd(key, mapping, nx=True)  # older servers: add what is missing

    async def salt(self) -> bytes:
        if self._salt is not None:
            return self._salt
        if self._use_redis():
            try:
                await self._back()
                key = self._prefix + "salt"
                await self._client.set(key, os.urandom(32), nx=True)
                value = await self._client.get(key)
                await self._ok()
                if value:
                    self._salt = bytes(value)
                    return self._salt
            except (RedisError, OSError) as e:
                self._failed(e)
        return await self._fallback.salt()

    async def window_count(self, subject: str, digests: list[bytes], period: float, now: float) -> int:
        if self._use_redis():
            try:
                await self._back()
                key = self._prefix + "w:" + subject
                since = now - period
                total = await self._client.zcount(key, since, "+inf")
                for i in range(0, len(digests), CHUNK):
                    scores = await self._client.zmscore(key, digests[i:i + CHUNK])
                    total += sum(1 for s in scores if s is None or s < since)
                await self._ok()
                return int(total)
            except (RedisError, OSError) as e:
                self._failed(e)
        return self._fallback.count_now(subject, digests, period, now)

    async def window_add(self, subject: str, digests: list[bytes], now: float, retention: float) -> None:
        self._fallback.add_now(subject, digests, now, retention)  # local view stays warm
        self._retention = max(self._retention, retention)
        if not digests or not self._use_redis():
            return
        try:
            await self._back()
            key = self._prefix + "w:" + subject
            pipe = self._client.pipeline(transaction=False)
            for i in range(0, len(digests), CHUNK):
                pipe.zadd(key, {d: now for d in digests[i:i + CHUNK]})
            pipe.zremrangebyscore(key, "-inf", now - retention)
            pipe.expire(key, int(retention) + 60)
            await pipe.execute()
            await self._ok()
        except (RedisError, OSError) as e:
            self._failed(e)

    async def approval_put(self, key: str, incident: str, ttl: float) -> None:
        await self._client.set(self._prefix + "a:" + key, incident, ex=max(1, int(ttl)))

    async def approval_take(self, key: str) -> str | None:
        if self._use_redis():
            try:
                await self._back()
                value = await self._client.getdel(self._prefix + "a:" + key)
                await self._ok()
                return value.decode() if value else None
            except (RedisError, OSError) as e:
                self._failed(e)
        return await self._fallback.approval_take(key)

    async def probe(self) -> None:
        if not self._use_redis():
            return
        try:
            if self._down_since is None:
                await self._client.ping()
            else:
                await self._back()
        except (RedisError, OSError) as e:
            self._failed(e)

    async def close(self) -> None:
        await self._client.aclose()
