"""deploy/systemd/sekimori.service: systemd itself verifies the unit and scores its sandbox
(offline; no systemd needs to run), and the unit runs `dlp run` the way the README says."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import DEPLOY, REPO

UNIT = DEPLOY / "systemd" / "sekimori.service"
ANALYZE = shutil.which("systemd-analyze")
MAX_EXPOSURE = 2.0          # systemd's scale: 0 (locked down) .. 10 (unsafe); "OK" is below 4


def unit() -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read_string(UNIT.read_text())
    return cp


def local_copy(tmp_path: Path) -> Path:
    """The unit with /opt/sekimori (the install path) pointed at this checkout, so that
    systemd-analyze can check that ExecStart exists."""
    text = UNIT.read_text().replace("/opt/sekimori/.venv/bin/dlp", str(Path(sys.executable).parent / "dlp"))
    text = text.replace("WorkingDirectory=/opt/sekimori", f"WorkingDirectory={REPO}")
    path = tmp_path / "sekimori.service"
    path.write_text(text)
    return path


def test_hardening_the_issue_asks_for():
    s = unit()["Service"]
    assert s["DynamicUser"] == "yes" or s.get("User") not in (None, "root")
    for key, want in {"ProtectSystem": "strict", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
                      "StateDirectory": "sekimori", "UMask": "0077", "CapabilityBoundingSet": ""}.items():
        assert s[key] == want, key


def test_execstart_uses_the_state_and_config_directories():
    s = unit()["Service"]
    argv = shlex.split(s["ExecStart"])
    assert argv[:2] == ["/opt/sekimori/.venv/bin/dlp", "run"]
    opts = dict(zip(argv[2::2], argv[3::2], strict=True))
    assert opts["--data-dir"] == "/var/lib/sekimori"
    assert opts["--config"] == "/etc/sekimori/dlp.yaml"
    assert opts["--metrics"].startswith("127.0.0.1:")    # metrics stay on the host unless opened


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (Debian package systemd)")
def test_systemd_analyze_verify(tmp_path):
    r = subprocess.run([ANALYZE, "verify", str(local_copy(tmp_path))], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "sekimori.service" not in r.stderr, r.stdout + r.stderr


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (Debian package systemd)")
def test_systemd_analyze_security_exposure_is_low(tmp_path):
    r = subprocess.run([ANALYZE, "security", "--offline=true", "--no-pager", str(local_copy(tmp_path))],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for sekimori\.service: ([0-9.]+)", r.stdout)
    if m is None and "--offline" in r.stderr:
        pytest.skip(f"this systemd-analyze has no offline security scoring: {r.stderr.strip()}")
    assert m, r.stdout + r.stderr
    assert float(m[1]) <= MAX_EXPOSURE, r.stdout
