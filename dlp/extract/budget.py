"""One budget per transfer, shared by every extractor, so hostile input cannot buy unbounded
memory or time: expanded bytes, compression ratio, nesting depth, archive members, deadline."""

from __future__ import annotations

import io
import time
from typing import BinaryIO

from dlp.config import InspectSettings


class Uninspectable(Exception):
    """Raised when (part of) a transfer cannot be inspected; ``reason`` is a policy key."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


class Offload(BaseException):
    """An inline scan (on the proxy's event loop) found its transfer bigger or slower than
    the loop may carry: the scan is abandoned and done again by a worker. A BaseException so
    that no extractor's ``except Exception`` (a library failing on hostile input) takes it
    for a failure of that part."""


INLINE_EXPANDED_MAX = 64 * 1024
"""An inline scan moves to a worker once its content expands beyond this many bytes."""
INLINE_SECONDS = 0.05
"""... or once it has run this long."""


class Budget:
    """Counts what a transfer has cost so far and raises Uninspectable when a limit is passed.

    ``inline``: the scan runs on the proxy's event loop, where it may only stay small and
    short (``INLINE_EXPANDED_MAX``, ``INLINE_SECONDS``); past either it raises Offload. The
    size that decides is the expanded one (a 2.6 KB gzip can carry 1 MiB of text), not the
    bytes on the wire."""

    def __init__(self, limits: InspectSettings, now: float | None = None, inline: bool = False):
        self.limits = limits
        started = now if now is not None else time.monotonic()
        self.deadline = started + limits.timeout
        self.inline_until = started + INLINE_SECONDS if inline else None
        self.expanded = 0
        self.members = 0

    def check_time(self) -> None:
        now = time.monotonic()
        if self.inline_until is not None and now > self.inline_until:
            raise Offload()
        if now > self.deadline:
            raise Uninspectable("timeout", f"scan exceeded its time budget of {self.limits.timeout:g}s")

    def check_inline(self, produced: int = 0) -> None:
        """Raise Offload if an inline scan's content, with ``produced`` bytes more, grows
        past what the event loop may carry."""
        if self.inline_until is not None and self.expanded + produced > INLINE_EXPANDED_MAX:
            raise Offload()

    def remaining_expansion(self) -> int:
        return max(0, self.limits.max_expanded - self.expanded)

    def add_expanded(self, n: int, what: str) -> None:
        self.expanded += n
        self.check_inline()
        if self.expanded > self.limits.max_expanded:
            raise Uninspectable(
                "too_large",
                f"{what}: expanded content exceeds inspect.max_expanded ({self.limits.max_expanded} bytes)",
            )

    def check_ratio(self, compressed: int, expanded: int, what: str) -> None:
        if expanded > RATIO_FLOOR and expanded > self.limits.max_ratio * max(compressed, 1):
            raise Uninspectable(
                "too_large",
                f"{what}: compression ratio above inspect.max_ratio ({self.limits.max_ratio}), "
                "possible decompression bomb",
            )

    def add_member(self, what: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise Uninspectable(
                "too_large", f"{what}: more than inspect.max_members ({self.limits.max_members}) members"
            )

    def check_depth(self, depth: int, what: str) -> None:
        if depth > self.limits.max_depth:
            raise Uninspectable("too_large", f"{what}: nested deeper than inspect.max_depth ({self.limits.max_depth})")

    # -- helpers for every expansion ------------------------------------------------------

    def cap_for(self, compressed: int) -> int:
        """How many bytes are worth producing from ``compressed`` input: one past the first
        limit the output could pass (remaining expansion, or the ratio above its floor). A
        decompressor asked for no more than this holds at most that much, whatever the bomb."""
        by_ratio = max(RATIO_FLOOR, self.limits.max_ratio * max(compressed, 1))
        return min(self.remaining_expansion(), by_ratio) + 1

    def accept(self, compressed: int, produced: int, what: str) -> None:
        """Account ``produced`` bytes expanded from ``compressed``; raise when a limit is passed."""
        self.check_inline(produced)
        if produced > self.remaining_expansion():
            raise Uninspectable(
                "too_large",
                f"{what}: expands beyond inspect.max_expanded ({self.limits.max_expanded} bytes), "
                "possible decompression bomb",
            )
        self.check_ratio(compressed, produced, what)
        self.add_expanded(produced, what)

    def check_declared(self, declared: int, compressed: int, what: str) -> None:
        """Refuse a member by its declared size before any byte of it is expanded."""
        self.check_inline(declared)
        if declared > self.remaining_expansion():
            raise Uninspectable(
                "too_large",
                f"{what}: member declares {declared} bytes, beyond inspect.max_expanded "
                f"({self.limits.max_expanded} bytes)",
            )
        self.check_ratio(compressed, declared, what)

    def read(self, fh: BinaryIO, compressed: int, what: str) -> bytes:
        """Read a decompressing stream in chunks, stopping at the first limit it passes."""
        cap = self.cap_for(compressed)
        out = io.BytesIO()  # getvalue() hands over its buffer: no second copy
        size = 0
        while size < cap:
            chunk = fh.read(min(READ_CHUNK, cap - size))
            if not chunk:
                break
            size += out.write(chunk)
            self.check_inline(size)
            self.check_time()
        self.accept(compressed, size, what)
        return out.getvalue()


RATIO_FLOOR = 1_048_576
"""Below this many expanded bytes the ratio is not checked (small files compress well)."""

READ_CHUNK = 1 << 20
