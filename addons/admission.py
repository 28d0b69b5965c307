"""Large request bodies wait, unread, while the proxy already holds ``inspect.max_in_flight``
bytes of them (``dlp/admission.py``): mitmproxy buffers every body whole before any hook
sees it, so without this twenty 50 MB uploads hold a gigabyte (twice, briefly) at once.

In ``requestheaders`` (before the body is read) a body of 1 MiB or more by its declared size
asks for admission; while it waits, its client connection is not read, so TCP holds the
client back instead of the proxy's memory. It is released when its flow ends (``response``
or ``error``). A body not admitted within ``inspect.queue_wait`` is read, then answered as
uninspectable ``overloaded`` without a scan (``REFUSED``, acted on by ``addons/web.py``).

HTTP/2 streams share one connection, so pausing it for one stream could starve another that
holds admission: there the wait happens without pausing. Follows mitmproxy's addon model.
"""

from __future__ import annotations

import asyncio
import gc
import logging

from mitmproxy import ctx, http

from dlp import memtrim
from dlp.admission import Admission
from dlp.runtime import Runtime

log = logging.getLogger("sekimori.admission")

ADMITTED = "sekimori_admitted"
"""flow.metadata key: the bytes this flow holds of the admission, until it ends."""
TRIM_DELAY = 1.0
"""Seconds after a large body's flow ends before freed memory is given back (see dlp/memtrim.py)."""
REFUSED = "sekimori_refused"
"""flow.metadata key: (reason, message) of a transfer refused without a scan."""


class SekimoriAdmission:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.admission = Admission(runtime.policy.inspect.max_in_flight)
        self._trimming = False

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        limits = self.runtime.policy.inspect
        self.admission.capacity = limits.max_in_flight  # a reload applies to the next body
        size = _declared_size(flow.request, limits.max_body)
        need = self.admission.counted(size)
        if need == 0:
            return
        if not self.admission.try_acquire(size):
            hold = _Hold.of(flow) if flow.request.http_version.startswith("HTTP/1") else None
            log.debug("upload of %d bytes waits for room (%d of %d bytes held)", size, self.admission.used,
                      self.admission.capacity)
            try:
                admitted = await self.admission.acquire(size, limits.queue_wait)
            finally:
                if hold is not None:
                    hold.release()
            if not admitted:
                flow.metadata[REFUSED] = ("overloaded", f"no room within inspect.queue_wait ({limits.queue_wait:g}s) "
                                          f"under inspect.max_in_flight ({limits.max_in_flight} bytes)")
                return
        flow.metadata[ADMITTED] = need

    def response(self, flow: http.HTTPFlow) -> None:
        self._release(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._release(flow)

    def _release(self, flow: http.HTTPFlow) -> None:
        held = flow.metadata.pop(ADMITTED, 0)
        if held:
            self.admission.release(held)
            if held >= memtrim.LARGE and not self._trimming:
                # the body is freed once mitmproxy drops the flow: trim a moment later, once
                # for a burst, in a helper thread (malloc_trim walks the heap)
                self._trimming = True
                asyncio.get_running_loop().call_later(TRIM_DELAY, self._trim)

    def _trim(self) -> None:
        """Flows are reference cycles: their bodies are freed only when the collector runs,
        which under a burst of uploads may be long after. Collect, then give the memory back."""
        self._trimming = False
        gc.collect()
        asyncio.get_running_loop().run_in_executor(None, memtrim.trim)


def _declared_size(request: http.Request, max_body: int) -> int:
    """The body's size from Content-Length; a chunked body may be as large as max_body."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            return max(0, int(length))
        except ValueError:
            return max_body
    return max_body if "chunked" in request.headers.get("transfer-encoding", "").lower() else 0


class _Hold:
    """The client connection of a flow, not read until ``release``. mitmproxy reads it through
    an asyncio StreamReader, whose own flow control resumes the transport whenever its buffer
    drains; so while held, the transport's ``resume_reading`` is a no-op, and on release the
    reader's own wish (paused while its buffer is full) is honoured."""

    def __init__(self, transport: asyncio.Transport, reader: asyncio.StreamReader):
        self.transport = transport
        self.reader = reader
        transport.pause_reading()
        transport.resume_reading = _stay_paused  # type: ignore[method-assign]

    @classmethod
    def of(cls, flow: http.HTTPFlow) -> _Hold | None:
        """Hold the flow's client connection, found through mitmproxy's proxyserver (which
        keeps the connection handlers); None when it cannot be found."""
        server = ctx.master.addons.get("proxyserver")
        handler = getattr(server, "connections", {}).get(flow.client_conn.id)
        io = getattr(handler, "transports", {}).get(flow.client_conn) if handler is not None else None
        transport = getattr(getattr(io, "writer", None), "transport", None)
        reader = getattr(io, "reader", None)
        if not isinstance(transport, asyncio.Transport) or not isinstance(reader, asyncio.StreamReader):
            return None
        return cls(transport, reader)

    def release(self) -> None:
        del self.transport.resume_reading  # the class's method again
        if not self.transport.is_closing() and not getattr(self.reader, "_paused", False):
            self.transport.resume_reading()


def _stay_paused() -> None:
    """``resume_reading`` of a held transport."""
