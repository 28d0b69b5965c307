"""Give freed memory back to the operating system after large bodies.

glibc's malloc keeps what a process freed in its arenas (one per thread that allocated), so
after twenty 50 MB uploads the proxy's resident memory stays at a gigabyte although nothing
holds the bodies any more (malloc_trim brings it back to about 90 MB), and the next burst
lands beside it rather than in it. ``trim`` asks malloc to return that memory; elsewhere
(musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

LARGE = 8 * 2**20
"""After handling a body of this size or more, trimming is worth its cost (a few ms)."""


def _malloc_trim() -> ctypes._CFuncPtr | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def trim() -> bool:
    """Return the freed memory at the top of every arena; True if anything was returned.
    Runs without the GIL (ctypes releases it), so it may run in a helper thread."""
    return bool(_TRIM(0)) if _TRIM is not None else False
