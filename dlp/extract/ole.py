"""OLE compound files other than xls and msg: legacy Word (.doc), PowerPoint (.ppt) and any
other compound document, and the OLE wrapper of an encrypted OOXML file.

An OOXML file with a password is an OLE file holding ``EncryptedPackage``: it is reported as
encrypted by name. Legacy .doc/.ppt encryption is read by msoffcrypto-tool. Unencrypted
legacy files have no parser here; their streams are scanned for text runs (Office keeps text
as UTF-16LE), which finds the personal data they carry without claiming their structure.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import olefile

from dlp.extract.binary import run_blocks
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import Encrypted, Event, describe


def encrypted_ooxml_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    yield Encrypted(where)


def _legacy_encrypted(data: bytes) -> bool:
    import msoffcrypto  # heavy: only for legacy Office files
    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        return bool(office.is_encrypted())
    except Exception:  # not an Office format msoffcrypto knows, or damaged
        return False


@contextlib.contextmanager
def opened(data: bytes, where: str, file_kind: str, dir_kind: str,
           storages: bool) -> Iterator[tuple[olefile.OleFileIO, list[list[str]]]]:
    """An OLE compound file and its directory listing, each failure a specific ``corrupt``."""
    try:
        ole = olefile.OleFileIO(data)
    except Exception as e:  # olefile raises several types on damaged files
        raise Uninspectable("corrupt", f"{where}: corrupt {file_kind} ({describe(e)})") from None
    with ole:
        try:
            entries = ole.listdir(streams=True, storages=storages)
        except Exception as e:  # a cyclic or damaged directory
            raise Uninspectable("corrupt", f"{where}: corrupt {dir_kind} ({describe(e)})") from None
        yield ole, entries


def ole_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    with opened(data, where, "OLE compound file", "OLE directory", storages=False) as (ole, streams):
        top = {s[0] for s in streams}
        if top & {"WordDocument", "PowerPoint Document"} and _legacy_encrypted(data):
            yield Encrypted(where)
            return
        for path in streams:
            budget.add_member(where)
            budget.check_time()
            name = "/".join(path)
            try:
                size = ole.get_size(path)
                budget.check_declared(size, len(data), f"{where}: {name}")
                budget.accept(len(data), size, f"{where}: {name}")
                content = ole.openstream(path).read()
            except Uninspectable:
                raise
            except Exception as e:
                raise Uninspectable("corrupt", f"{where}: {name}: cannot read OLE stream ({describe(e)})") from None
            yield from run_blocks(content, f"{where}/{name}", budget, utf16=True)
