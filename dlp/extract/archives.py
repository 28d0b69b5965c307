"""Containers: zip (CP932 names, encrypted entries), tar, and single-stream gzip/bz2/xz.

Every member is read through the shared Budget: declared sizes can lie, so reads are capped
and ratios checked on what was actually produced. Encrypted members cannot be scanned and are
reported by name; policy decides what happens to them.
"""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator

from dlp.extract.budget import Budget, Uninspectable

Member = tuple[str, bytes]


def zip_members(data: bytes, budget: Budget, where: str, encrypted: list[str]) -> Iterator[Member]:
    """Yield (name, bytes) of each readable member; names of encrypted ones go to ``encrypted``."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data), metadata_encoding="cp932")
    except UnicodeDecodeError:
        zf = _open_zip(data, where)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as e:
        raise Uninspectable("corrupt", f"{where}: corrupt zip archive ({e})") from None
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            budget.add_member(where)
            budget.check_time()
            name = f"{where}/{info.filename}"
            if info.flag_bits & 0x1:
                encrypted.append(name)
                continue
            if info.file_size > budget.remaining_expansion():
                raise Uninspectable("too_large", f"{name}: member declares {info.file_size} bytes, "
                                    "beyond inspect.max_expanded")
            budget.check_ratio(info.compress_size, info.file_size, name)
            try:
                with zf.open(info) as fh:
                    content = fh.read(budget.remaining_expansion() + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                    ValueError, lzma.LZMAError) as e:
                msg = str(e)
                if "Overlapped entries" in msg or "overlap" in msg.lower():
                    raise Uninspectable("corrupt", f"{where}: overlapping zip entries "
                                        "(zip bomb construction)") from None
                raise Uninspectable("corrupt", f"{name}: cannot read zip member ({msg})") from None
            budget.check_ratio(info.compress_size, len(content), name)
            budget.add_expanded(len(content), name)
            yield name, content


def _open_zip(data: bytes, where: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as e:
        raise Uninspectable("corrupt", f"{where}: corrupt zip archive ({e})") from None


def tar_members(data: bytes, budget: Budget, where: str) -> Iterator[Member]:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
            for info in tf:
                if not info.isfile():
                    continue
                budget.add_member(where)
                budget.check_time()
                name = f"{where}/{info.name}"
                if info.size > budget.remaining_expansion():
                    raise Uninspectable("too_large", f"{name}: member beyond inspect.max_expanded")
                fh = tf.extractfile(info)
                content = fh.read() if fh else b""
                budget.add_expanded(len(content), name)
                yield name, content
    except (tarfile.TarError, EOFError, OSError) as e:
        raise Uninspectable("corrupt", f"{where}: corrupt tar archive ({e})") from None


def decompress_stream(data: bytes, kind: str, budget: Budget, where: str) -> bytes:
    """Decompress a single gzip/bz2/xz stream with the budget's cap."""
    cap = budget.remaining_expansion() + 1
    try:
        if kind == "gzip":
            out = bytearray()
            rest = data
            while rest and len(out) < cap:
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out += d.decompress(rest, cap - len(out))
                if not d.eof and len(out) < cap:
                    raise Uninspectable("corrupt", f"{where}: truncated gzip stream")
                rest = d.unused_data.lstrip(b"\x00")
            result = bytes(out)
        elif kind == "bz2":
            result = _capped(bz2.BZ2Decompressor(), data, cap, where)
        else:
            result = _capped(lzma.LZMADecompressor(), data, cap, where)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as e:
        raise Uninspectable("corrupt", f"{where}: corrupt {kind} stream ({e})") from None
    if len(result) >= cap:
        raise Uninspectable("too_large", f"{where}: {kind} expands beyond inspect.max_expanded "
                            "(possible decompression bomb)")
    budget.check_ratio(len(data), len(result), where)
    budget.add_expanded(len(result), where)
    return result


def _capped(d: bz2.BZ2Decompressor | lzma.LZMADecompressor, data: bytes, cap: int, where: str) -> bytes:
    out = bytearray(d.decompress(data, max_length=cap))
    while not d.eof and not d.needs_input and len(out) < cap:
        out += d.decompress(b"", max_length=cap - len(out))
    if not d.eof and len(out) < cap:
        raise Uninspectable("corrupt", f"{where}: truncated stream")
    return bytes(out)
