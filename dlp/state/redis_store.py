"""The Redis state backend: several proxy replicas share one view of windows and approvals.

Windows are sorted sets ``<prefix>w:<subject>`` of salted person digests scored by the time
they were last sent, so a sliding period is a score range and distinct persons are members.
While Redis is unreachable the proxy keeps serving with local counting (a MemoryState),
reports ``up`` False (dlp_state_backend_up 0), logs that once a minute, and tries Redis again
every few seconds.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

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
        if now - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = now
            log.error("state backend redis at %s unreachable (%s): counting locally until it is back",
                      self._url_for_logs, type(e).__name__)

    def _ok(self) -> None:
        if self._down_since is not None:
            log.warning("state backend redis at %s is back", self._url_for_logs)
        self._down_since = None

    async def salt(self) -> bytes:
        if self._salt is not None:
            return self._salt
        if self._use_redis():
            try:
                key = self._prefix + "salt"
                await self._client.set(key, os.urandom(32), nx=True)
                value = await self._client.get(key)
                self._ok()
                if value:
                    self._salt = bytes(value)
                    return self._salt
            except (RedisError, OSError) as e:
                self._failed(e)
        return await self._fallback.salt()

    async def window_count(self, subject: str, digests: list[bytes], period: float, now: float) -> int:
        if self._use_redis():
            try:
                key = self._prefix + "w:" + subject
                since = now - period
                total = await self._client.zcount(key, since, "+inf")
                for i in range(0, len(digests), CHUNK):
                    scores = await self._client.zmscore(key, digests[i:i + CHUNK])
                    total += sum(1 for s in scores if s is None or s < since)
                self._ok()
                return int(total)
            except (RedisError, OSError) as e:
                self._failed(e)
        return self._fallback.count_now(subject, digests, period, now)

    async def window_add(self, subject: str, digests: list[bytes], now: float, retention: float) -> None:
        self._fallback.add_now(subject, digests, now, retention)  # local view stays warm
        if not digests or not self._use_redis():
            return
        try:
            key = self._prefix + "w:" + subject
            pipe = self._client.pipeline(transaction=False)
            for i in range(0, len(digests), CHUNK):
                pipe.zadd(key, {d: now for d in digests[i:i + CHUNK]})
            pipe.zremrangebyscore(key, "-inf", now - retention)
            pipe.expire(key, int(retention) + 60)
            await pipe.execute()
            self._ok()
        except (RedisError, OSError) as e:
            self._failed(e)

    async def approval_put(self, key: str, incident: str, ttl: float) -> None:
        await self._client.set(self._prefix + "a:" + key, incident, ex=max(1, int(ttl)))

    async def approval_take(self, key: str) -> str | None:
        if self._use_redis():
            try:
                value = await self._client.getdel(self._prefix + "a:" + key)
                self._ok()
                return value.decode() if value else None
            except (RedisError, OSError) as e:
                self._failed(e)
        return await self._fallback.approval_take(key)

    async def close(self) -> None:
        await self._client.aclose()
