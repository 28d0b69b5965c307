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


class Budget:
    """Counts what a transfer has cost so far and raises Uninspectable when a limit is passed."""

    def __init__(self, limits: InspectSettings, now: float | None = None):
        self.limits = limits
        self.deadline = (now if now is not None else time.monotonic()) + limits.timeout
        self.expanded = 0
        self.members = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise Uninspectable("timeout", f"scan exceeded its time budget of {self.limits.timeout:g}s")

    def remaining_expansion(self) -> int:
        return max(0, self.limits.max_expanded - self.expanded)

    def add_expanded(self, n: int, what: str) -> None:
        self.expanded += n
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
            self.check_time()
        self.accept(compressed, size, what)
        return out.getvalue()


RATIO_FLOOR = 1_048_576
"""Below this many expanded bytes the ratio is not checked (small files compress well)."""

READ_CHUNK = 1 << 20
