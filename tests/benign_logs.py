"""Benign machine text for encoding tests: a web server access log (no personal data)."""

from __future__ import annotations

import random


def access_log(lines: int = 20_000, seed: int = 13) -> bytes:
    """``lines`` lines of a combined-format access log (about 130 bytes each)."""
    rnd = random.Random(seed)
    agents = ("X11; Linux x86_64", "Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 14_5")
    return "".join(
        f'10.0.{rnd.randrange(256)}.{rnd.randrange(256)} - - [10/Oct/2026:13:{i // 60 % 60:02d}:{i % 60:02d} +0900] '
        f'"GET /api/v1/items/{rnd.randrange(10**6)}?page={rnd.randrange(1, 99)} HTTP/1.1" {rnd.choice((200, 304))} '
        f'{rnd.randrange(100, 99_999)} "-" "Mozilla/5.0 ({rnd.choice(agents)})"\n'
        for i in range(lines)
    ).encode()
