"""The optional incident webhook (``notify.webhook``): each incident, already masked, is
POSTed as JSON so chat or ticketing can pick it up. A bounded queue keeps a slow or dead
receiver from holding memory or the proxy; retries back off; drops are counted."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from typing import Any

from dlp.config import WebhookSettings
from dlp.metrics import Metrics

log = logging.getLogger("sekimori.notify")


class Webhook:
    def __init__(self, settings: WebhookSettings, metrics: Metrics):
        self.settings = settings
        self.metrics = metrics
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=settings.queue)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def submit(self, incident: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(incident)
        except asyncio.QueueFull:
            self.metrics.errors.labels("notify").inc()
            log.error("webhook queue full (%d): incident %s not sent", self.settings.queue, incident.get("id"))

    def _post(self, body: bytes) -> int:
        req = urllib.request.Request(self.settings.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "sekimori"})
        with urllib.request.urlopen(req, timeout=self.settings.timeout) as resp:
            return resp.status

    async def _run(self) -> None:
        while True:
            incident = await self.queue.get()
            body = json.dumps(incident, ensure_ascii=False).encode()
            for attempt in range(self.settings.retries + 1):
                try:
                    status = await asyncio.to_thread(self._post, body)
                    if status < 300:
                        break
                except OSError as e:
                    status = getattr(e, "code", 0) or 0
                if attempt == self.settings.retries:
                    self.metrics.errors.labels("notify").inc()
                    log.error("webhook gave up on incident %s (last status %s)", incident.get("id"), status)
                else:
                    await asyncio.sleep(min(30.0, 0.5 * 2**attempt))
