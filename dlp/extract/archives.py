"""Containers: zip (CP932 names, encrypted entries), tar, 7z, and single-stream gzip, bz2, xz
and zstd files.

Every member is read through the shared Budget: declared sizes can lie, so members are refused
by their declared size first, then read in chunks with the output capped at what the limits
allow (remaining expansion, ratio), so a bomb costs at most that much memory before it is
stopped. Encrypted members cannot be scanned and are reported by name; policy decides what
happens to them. A member that cannot be read is reported and its siblings are still read.
"""

from __future__ import annotations

import bz2
import io
import itertools
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator

from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.content_encoding import zstd
from dlp.extract.events import Encrypted, Event, Member, Problem, describe
from dlp.extract.inflate import inflate

_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
               lzma.LZMAError, KeyError, IndexError, OverflowError)


# -- zip ------------------------------------------------------------------------------------

def open_zip(data: bytes, where: str) -> zipfile.ZipFile:
    """A ZipFile whose names without the UTF-8 flag are read as CP932 (Japanese Windows)."""
    try:
        return zipfile.ZipFile(io.BytesIO(data), metadata_encoding="cp932")
    except UnicodeDecodeError:
        pass
    except (*_ZIP_ERRORS, NotImplementedError) as e:
        raise Uninspectable("corrupt", f"{where}: corrupt zip archive ({describe(e)})") from None
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (*_ZIP_ERRORS, NotImplementedError) as e:
        raise Uninspectable("corrupt", f"{where}: corrupt zip archive ({describe(e)})") from None


def read_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget, name: str) -> bytes:
    """The bytes of one zip member, refused by declared size and ratio before it is expanded
    and capped while it is (a member may declare less than it holds)."""
    budget.check_declared(info.file_size, info.compress_size, name)
    try:
        with zf.open(info) as fh:
            return budget.read(fh, info.compress_size, name)
    except NotImplementedError as e:
        raise Uninspectable("unsupported", f"{name}: zip compression method not supported "
                            f"({describe(e)})") from None
    except (*_ZIP_ERRORS, RuntimeError) as e:
        if "overlap" in str(e).lower():
            raise Uninspectable("corrupt", f"{name}: overlapping zip entries "
                                "(zip bomb construction)") from None
        raise Uninspectable("corrupt", f"{name}: cannot read zip member ({describe(e)})") from None


def check_overlap(zf: zipfile.ZipFile, data: bytes, where: str) -> None:
    """Refuse a zip whose entries share bytes: no archiver writes that, but the non-recursive
    zip bomb (one compressed kernel expanded by every entry) is built that way."""
    spans = []
    for info in zf.infolist():
        start = info.header_offset
        if start + 30 > len(data) or data[start:start + 4] != b"PK\x03\x04":
            continue  # reported when the member is read
        name_len, extra_len = struct.unpack_from("<HH", data, start + 26)
        spans.append((start, start + 30 + name_len + extra_len + info.compress_size))
    spans.sort()
    for (_s1, end1), (s2, _e2) in itertools.pairwise(spans):
        if end1 > s2:
            raise Uninspectable("corrupt", f"{where}: overlapping zip entries (zip bomb construction)")


def zip_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    """Each readable member as a Member, encrypted ones as Encrypted, unreadable ones as
    Problems; an archive built as a bomb (overlapping entries) stops the archive."""
    with open_zip(data, where) as zf:
        check_overlap(zf, data, where)
        for info in zf.infolist():
            if info.is_dir():
                continue
            budget.add_member(where)
            budget.check_time()
            name = f"{where}/{info.filename}"
            if info.flag_bits & 0x1:
                yield Encrypted(name)
                continue
            try:
                content = read_zip_member(zf, info, budget, name)
            except Uninspectable as e:
                if e.reason == "timeout" or "zip bomb" in str(e):
                    raise
                yield Problem(e.reason, str(e))
                continue
            yield Member(name, content)


# -- tar ------------------------------------------------------------------------------------

def tar_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
            for info in tf:
                if not info.isfile():
                    continue
                budget.add_member(where)
                budget.check_time()
                name = f"{where}/{info.name}"
                try:
                    budget.check_declared(info.size, min(info.size, len(data)), name)
                except Uninspectable as e:
                    yield Problem(e.reason, str(e))
                    continue
                fh = tf.extractfile(info)
                content = budget.read(fh, len(data), name) if fh else b""
                yield Member(name, content)
    except (tarfile.TarError, EOFError, OSError, ValueError, UnicodeDecodeError) as e:
        raise Uninspectable("corrupt", f"{where}: corrupt tar archive ({describe(e)})") from None


# -- single-stream compression --------------------------------------------------------------

_SUFFIX = {"gzip": ".gz", "bz2": ".bz2", "xz": ".xz", "zstd": ".zst"}


def stream_items(data: bytes, where: str, budget: Budget, kind: str) -> Iterator[Event]:
    """A gzip/bz2/xz/zstd file: its content, one level down."""
    inner = decompress_stream(data, kind, budget, where)
    name = where.removesuffix(_SUFFIX[kind]) if where.endswith(_SUFFIX[kind]) else where
    yield Member(name, inner, is_file=False)


def decompress_stream(data: bytes, kind: str, budget: Budget, where: str) -> bytes:
    """Decompress a gzip (multi-member too), bz2, xz or zstd file within the Budget."""
    make = {
        "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
        "bz2": bz2.BZ2Decompressor,
        "xz": lzma.LZMADecompressor,
        "zstd": zstd.ZstdDecompressor,
    }[kind]
    try:
        return inflate(make, data, budget, f"{where}: {kind}")
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError, zstd.ZstdError) as e:
        raise Uninspectable("corrupt", f"{where}: corrupt {kind} stream ({describe(e)})") from None


def sevenzip_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    """Members of a 7z archive (py7zr is imported only when a 7z arrives: it is heavy)."""
    from dlp.extract import sevenzip

    yield from sevenzip.items(data, where, budget)
