"""Undo HTTP Content-Encoding (gzip incl. multi-member, deflate, br, zstd, stacked) with an
output cap. mitmproxy's own decoder has no cap, so a small bomb would expand in memory."""

from __future__ import annotations

import zlib

import brotli

try:  # Python 3.14 has it in the standard library; mitmproxy depends on the backport before.
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    from backports import zstd  # type: ignore[import-not-found,no-redef]

from dlp.extract.budget import Budget, Uninspectable

CHUNK = 1 << 20


def decode_body(data: bytes, content_encoding: str, budget: Budget) -> bytes:
    """Undo every listed encoding, last applied first; raise Uninspectable on bombs or corruption."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        if coding in ("identity", ""):
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise Uninspectable("unsupported", f"Content-Encoding {coding!r} is not supported")
        before = len(data)
        try:
            data = decoder(data, budget.remaining_expansion() + 1)
        except Uninspectable:
            raise
        except Exception as e:  # zlib.error, brotli.error, zstd.ZstdError, EOFError
            raise Uninspectable("corrupt", f"Content-Encoding {coding}: corrupt data ({e})") from None
        if len(data) > budget.remaining_expansion():
            raise Uninspectable(
                "too_large",
                f"Content-Encoding {coding}: expands beyond inspect.max_expanded "
                f"({budget.limits.max_expanded} bytes), possible decompression bomb",
            )
        budget.check_ratio(before, len(data), f"Content-Encoding {coding}")
        budget.add_expanded(len(data), f"Content-Encoding {coding}")
    return data


def _zlib_stream(data: bytes, cap: int, wbits: int, multi_member: bool) -> bytes:
    out = bytearray()
    rest = data
    while True:
        d = zlib.decompressobj(wbits)
        chunk = d.decompress(rest, cap - len(out))
        out += chunk
        while d.unconsumed_tail and len(out) < cap:
            out += d.decompress(d.unconsumed_tail, cap - len(out))
        if len(out) >= cap:
            return bytes(out)
        if not d.eof:
            raise Uninspectable("corrupt", "compressed stream is truncated")
        rest = d.unused_data
        if not multi_member or not rest.lstrip(b"\x00"):
            return bytes(out)


def _gzip(data: bytes, cap: int) -> bytes:
    return _zlib_stream(data, cap, 16 + zlib.MAX_WBITS, multi_member=True)


def _deflate(data: bytes, cap: int) -> bytes:
    # RFC 9110 says zlib-wrapped, but many clients send raw deflate.
    try:
        return _zlib_stream(data, cap, zlib.MAX_WBITS, multi_member=False)
    except (zlib.error, Uninspectable):
        return _zlib_stream(data, cap, -zlib.MAX_WBITS, multi_member=False)


def _brotli(data: bytes, cap: int) -> bytes:
    d = brotli.Decompressor()
    out = bytearray(d.process(data, output_buffer_limit=min(cap, CHUNK * 16)))
    while not d.is_finished() and len(out) < cap:
        more = d.process(b"", output_buffer_limit=min(cap - len(out), CHUNK * 16))
        if not more:
            break
        out += more
    if not d.is_finished() and len(out) < cap:
        raise Uninspectable("corrupt", "brotli stream is truncated")
    return bytes(out)


def _zstd(data: bytes, cap: int) -> bytes:
    out = bytearray()
    rest = data
    while rest and len(out) < cap:
        d = zstd.ZstdDecompressor()
        out += d.decompress(rest, max_length=cap - len(out))
        while not d.eof and not d.needs_input and len(out) < cap:
            out += d.decompress(b"", max_length=cap - len(out))
        if len(out) >= cap:
            break
        if not d.eof:
            raise Uninspectable("corrupt", "zstd stream is truncated")
        rest = d.unused_data
    return bytes(out)


_DECODERS = {"gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _brotli, "zstd": _zstd}
