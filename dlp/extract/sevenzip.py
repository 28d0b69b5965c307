"""7z archives, with py7zr: members read through a capped writer so a bomb stops at the
budget; encrypted archives (and encrypted headers, which hide even the names) reported."""

from __future__ import annotations

import io
from collections.abc import Iterator

import py7zr
import py7zr.exceptions
import py7zr.io

from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import Encrypted, Event, Member, describe


class _Stop(Exception):  # carries an Uninspectable out of py7zr's worker
    def __init__(self, error: Uninspectable):
        self.error = error


class _Capped(py7zr.io.Py7zIO):
    """A member's bytes in memory; every write is charged to the shared cap."""

    def __init__(self, owner: _CappedFactory, name: str):
        self.owner = owner
        self.name = name
        self.chunks: list[bytes] = []

    def write(self, s: bytes | bytearray) -> int:
        self.owner.charge(len(s))
        self.chunks.append(bytes(s))
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return sum(map(len, self.chunks))


class _CappedFactory(py7zr.io.WriterFactory):
    def __init__(self, budget: Budget, compressed: int, where: str):
        self.budget = budget
        self.compressed = compressed
        self.where = where
        self.cap = budget.cap_for(compressed)
        self.total = 0
        self.products: list[_Capped] = []

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        product = _Capped(self, filename)
        self.products.append(product)
        return product

    def charge(self, n: int) -> None:
        self.total += n
        try:
            self.budget.check_time()
            if self.total >= self.cap:
                self.budget.accept(self.compressed, self.total, f"{self.where}: 7z")
        except Uninspectable as e:
            raise _Stop(e) from None


def items(data: bytes, where: str, budget: Budget) -> Iterator[Event]:
    """Members of a 7z archive. An archive whose header is encrypted shows no names: it is
    reported as one encrypted file."""
    try:
        archive = py7zr.SevenZipFile(io.BytesIO(data), mode="r")
    except py7zr.exceptions.PasswordRequired:
        yield Encrypted(where)
        return
    except Exception as e:  # py7zr raises many types on hostile input
        if "password" in str(e).lower():
            yield Encrypted(where)
            return
        raise Uninspectable("corrupt", f"{where}: corrupt 7z archive ({describe(e)})") from None
    with archive:
        try:
            files = [f for f in archive.list() if not f.is_directory]
        except Exception as e:
            raise Uninspectable("corrupt", f"{where}: corrupt 7z archive ({describe(e)})") from None
        for f in files:
            budget.add_member(where)
            budget.check_declared(f.uncompressed or 0, len(data), f"{where}/{f.filename}")
        if archive.needs_password():
            for f in files:
                yield Encrypted(f"{where}/{f.filename}")
            return
        factory = _CappedFactory(budget, len(data), where)
        try:
            archive.extractall(factory=factory)
        except _Stop as s:
            raise s.error from None
        except Exception as e:
            raise Uninspectable("corrupt", f"{where}: corrupt 7z archive ({describe(e)})") from None
    budget.accept(len(data), factory.total, f"{where}: 7z")
    for product in factory.products:
        content = b"".join(product.chunks)
        product.chunks.clear()
        yield Member(f"{where}/{product.name}", content)
