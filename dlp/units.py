"""Human units in the YAML (``64MiB``, ``10s``, ``24h``) turned into base units.

Admins write sizes and durations the way they think of them; the engine works in bytes
and seconds. One parser here keeps every limit in the config readable the same way.
"""

import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_FACTORS = {
    "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_FACTORS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_size(value: int | str) -> int:
    """Return bytes for ``123``, ``"64MiB"`` or ``"1.5GB"``; raise ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size must not be negative: {value}")
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"not a size: {value!r} (use e.g. 512KiB, 64MiB, 1GiB)")
    unit = (m.group(2) or "B").lower()
    return int(float(m.group(1)) * _SIZE_FACTORS[unit])


def parse_duration(value: int | float | str) -> float:
    """Return seconds for ``10``, ``"10s"``, ``"24h"`` or ``"30d"``; raise ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration must not be negative: {value}")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 500ms, 10s, 5m, 24h, 30d)")
    return float(m.group(1)) * _DURATION_FACTORS[m.group(2) or "s"]
