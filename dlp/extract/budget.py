"""One budget per transfer, shared by every extractor, so hostile input cannot buy unbounded
memory or time: expanded bytes, compression ratio, nesting depth, archive members, deadline."""

from __future__ import annotations

import time

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
        if expanded > 1_048_576 and expanded > self.limits.max_ratio * max(compressed, 1):
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
