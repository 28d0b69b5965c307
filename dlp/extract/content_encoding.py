"""Undo HTTP Content-Encoding (gzip incl. multi-member, deflate, br, zstd, stacked) within the
Budget. mitmproxy's own decoder has no cap, so a small bomb would expand in memory; here the
output is drawn a megabyte at a time and the ratio to the input consumed so far is checked
as it grows (``inflate``), so a bomb is stopped after a few megabytes."""

from __future__ import annotations

import io
import zlib

import brotli

try:  # Python 3.14 has it in the standard library; mitmproxy depends on the backport before.
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    from backports import zstd  # type: ignore[import-not-found,no-redef]

from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.inflate import SLICE, STEP, check, inflate


def decode_body(data: bytes, content_encoding: str, budget: Budget) -> bytes:
    """Undo every listed encoding, last applied first; raise Uninspectable on bombs or corruption."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        if coding in ("identity", ""):
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise Uninspectable("unsupported", f"Content-Encoding {coding!r} is not supported")
        try:
            data = decoder(data, budget, f"Content-Encoding {coding}")
        except Uninspectable:
            raise
        except Exception as e:  # zlib.error, brotli.error, zstd.ZstdError, EOFError
            raise Uninspectable("corrupt", f"Content-Encoding {coding}: corrupt data "
                                f"({type(e).__name__})") from None
    return data


def _gzip(data: bytes, budget: Budget, what: str) -> bytes:
    return inflate(lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), data, budget, what)


def _deflate(data: bytes, budget: Budget, what: str) -> bytes:
    # RFC 9110 says zlib-wrapped, but many clients send raw deflate.
    if len(data) >= 2 and (data[0] & 0x0F) == 8 and int.from_bytes(data[:2], "big") % 31 == 0:
        try:
            return inflate(lambda: zlib.decompressobj(zlib.MAX_WBITS), data, budget, what, multi=False)
        except zlib.error:
            pass
    return inflate(lambda: zlib.decompressobj(-zlib.MAX_WBITS), data, budget, what, multi=False)


def _zstd(data: bytes, budget: Budget, what: str) -> bytes:
    return inflate(zstd.ZstdDecompressor, data, budget, what)


def _brotli(data: bytes, budget: Budget, what: str) -> bytes:
    # brotli 1.2's can_accept_more_data() may say True while output is still pending inside
    # the decoder (seen after a slice whose output reached the limit), so pending output is
    # drained with empty input until a call yields nothing; trusting that flag alone left the
    # tail of any stream whose last slice expands past STEP undrained ("truncated").
    d = brotli.Decompressor()
    out = io.BytesIO()
    size = 0
    view = memoryview(data)
    for pos in range(0, max(len(data), 1), SLICE):
        consumed = min(pos + SLICE, len(data))
        if d.is_finished():
            raise Uninspectable("corrupt", f"{what}: data after the end of the brotli stream")
        size += out.write(d.process(bytes(view[pos:pos + SLICE]), output_buffer_limit=STEP))
        check(budget, consumed, size, what)
        while not d.is_finished():
            chunk = d.process(b"", output_buffer_limit=STEP)
            if not chunk:
                break
            size += out.write(chunk)
            check(budget, consumed, size, what)
        budget.check_time()
    if not d.is_finished():
        raise Uninspectable("corrupt", f"{what}: brotli stream is truncated")
    budget.add_expanded(size, what)
    return out.getvalue()


_DECODERS = {"gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _brotli, "zstd": _zstd}
