"""The secrets ``dlp run`` keeps on disk, and the check that nobody else can read them.

Sekimori creates each of them 0600 (the mitmproxy CA key, the quarantine key, the salt of the
person hashes). One that already exists and is readable by its group or by others was put
there or loosened by hand: anyone who can read it can impersonate every TLS site to the
clients, decrypt the quarantine or test guesses against the windows, so ``dlp run`` refuses
to start until it is fixed rather than serve with it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dlp.config import Policy

CA_KEY_FILES = ("mitmproxy-ca.pem", "mitmproxy-ca.p12")
"""Files in ``<data-dir>/mitmproxy`` that hold the CA's private key (the ``-ca-cert`` ones
hold only the certificate and are meant to be handed out)."""


def key_files(data_dir: Path, pol: Policy) -> list[Path]:
    """Every secret file ``dlp run`` would read or create under this data dir and policy."""
    confdir = Path(data_dir) / "mitmproxy"
    quarantine_key = Path(pol.quarantine.key_file) if pol.quarantine.key_file else Path(data_dir) / "quarantine.key"
    return [*(confdir / name for name in CA_KEY_FILES), quarantine_key, Path(data_dir) / "salt"]


def exposed(paths: list[Path]) -> list[str]:
    """One message per existing file that its group or others may read or write, with the
    command that fixes it. Missing files are fine: they will be created 0600."""
    problems = []
    for path in paths:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            who = " and ".join(w for w, bits in (("its group", 0o070), ("others", 0o007)) if mode & bits)
            can = "read" if mode & 0o044 else "change"
            problems.append(f"key file {path} has mode {mode:04o}: {who} can {can} it; "
                            f"only this account may (fix: chmod 600 {path})")
    return problems
