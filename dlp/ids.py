"""Incident ids: sortable by time and unique across replicas without coordination.

A ULID-style id: 48 bits of milliseconds + 80 random bits, Crockford base32, 26 characters.
Sorting ids sorts incidents by time, which is what an analyst scrolling a log wants.
"""

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(now: float | None = None) -> str:
    ms = int((time.time() if now is None else now) * 1000)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    out = []
    for _ in range(26):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))
