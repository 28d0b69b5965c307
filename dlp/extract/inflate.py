"""Decompression with the Budget watching every megabyte.

A bomb is caught by the ratio of output to the input consumed so far, not to the whole input:
a 2 MB gzip of 2 GB of zeros is stopped after a few MB of output, where a check against the
whole input would first let it grow to 200 × 2 MB. Input is fed in slices and output drawn in
steps, so memory is bounded by what the limits allow at that point, whatever the stream.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from dlp.extract.budget import RATIO_FLOOR, Budget, Uninspectable

SLICE = 64 * 1024
STEP = 1 << 20


def check(budget: Budget, consumed: int, produced: int, what: str) -> None:
    """Raise when ``produced`` bytes from ``consumed`` input pass a limit."""
    budget.check_inline(produced)
    if produced > budget.remaining_expansion():
        raise Uninspectable(
            "too_large",
            f"{what}: expands beyond inspect.max_expanded ({budget.limits.max_expanded} bytes), "
            "possible decompression bomb",
        )
    if produced > RATIO_FLOOR and produced > budget.limits.max_ratio * max(consumed, 1):
        raise Uninspectable(
            "too_large",
            f"{what}: compression ratio above inspect.max_ratio ({budget.limits.max_ratio}), "
            "possible decompression bomb",
        )


def inflate(make: Callable[[], Any], data: bytes, budget: Budget, what: str, multi: bool = True) -> bytes:
    """All of ``data`` decompressed by decoders from ``make`` (zlib, bz2, lzma or zstd style),
    one after another for concatenated streams when ``multi``. Raises Uninspectable on a limit
    (too_large) or on a stream that ends early (corrupt); the caller maps decoder errors."""
    out = io.BytesIO()  # getvalue() hands over its buffer: no second copy of the output
    size = 0
    consumed = 0
    view = memoryview(data)
    pos = 0
    d = make()
    zlib_style = hasattr(d, "unconsumed_tail")
    pending = b""
    while True:
        if not pending:
            if pos >= len(view):
                break
            pending = bytes(view[pos:pos + SLICE])
            pos += len(pending)
            consumed += len(pending)
        if zlib_style:
            size += out.write(d.decompress(pending, STEP))
            pending = d.unconsumed_tail
            check(budget, consumed - len(pending), size, what)
        else:
            size += out.write(d.decompress(pending, max_length=STEP))
            pending = b""
            check(budget, consumed, size, what)
            while not d.eof and not d.needs_input:
                size += out.write(d.decompress(b"", max_length=STEP))
                check(budget, consumed, size, what)
        budget.check_time()
        if d.eof:
            rest = d.unused_data + bytes(view[pos:])
            consumed -= len(d.unused_data)
            if not multi or not rest.lstrip(b"\0"):
                break
            view, pos, pending = memoryview(rest.lstrip(b"\0")), 0, b""
            d = make()
    if not d.eof:
        raise Uninspectable("corrupt", f"{what}: truncated compressed stream")
    budget.add_expanded(size, what)
    return out.getvalue()
