"""`dlp` as users run it: real subprocesses, exit codes and what they print."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from servers import DLP, REPO, DlpProcess, free_port

pytestmark = pytest.mark.e2e


def dlp(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DLP, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_scan_json_counts_the_resident_list(residents_csv: Path, tmp_path: Path):
    benign = tmp_path / "notes.txt"
    benign.write_text("議事録\n来週の定例会は水曜日に変更します。\n")
    out = dlp("scan", "--config", "config/dlp.yaml", "--json", str(residents_csv), str(benign))
    assert out.returncode == 0, out.stderr
    first, second = (json.loads(line) for line in out.stdout.splitlines())
    assert first["file"] == str(residents_csv)
    assert first["action"] == "block" and first["persons"] == 31429
    assert "bulk-personal-data" in first["rules"]
    assert first["findings"]["phone"] == 31429 and first["encrypted"] is False and first["errors"] == []
    assert second == {**second, "file": str(benign), "action": "allow", "rules": [], "persons": 0}


def test_scan_human_report_masks_examples(residents_csv: Path):
    out = dlp("scan", str(residents_csv))
    assert out.returncode == 0
    assert "BLOCK" in out.stdout and "persons:  31429" in out.stdout
    assert "-****-" in out.stdout


def test_scan_missing_file_is_a_usage_error():
    out = dlp("scan", "/nonexistent/file.csv")
    assert out.returncode == 2 and "no such file" in out.stderr


@pytest.mark.parametrize("yaml_text, expected", [
    ("rules: [\n  {name: a, when: {persons: 1}, action: block\n", "YAML syntax"),
    ("version: 1\nrules:\n  - name: a\n    when: {persons: 10}\n    action: explode\n",
     ":5:13: rules.0.action: 'explode' is not one of allow, log, quarantine, block"),
    ("version: 1\nrules:\n  - name: a\n    when: {persons: 0}\n    action: block\n",
     ":4:21: rules.0.when.persons: 0 is less than the minimum of 1"),
    ("version: 1\nrules:\n  - name: a\n    when: {findings: {shoe_size: 1}}\n    action: block\n",
     "unknown detector id 'shoe_size'"),
])
def test_run_with_broken_config_exits_2_with_one_line(tmp_path: Path, yaml_text: str, expected: str):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text)
    out = dlp("run", "--config", str(cfg), "--listen", f"127.0.0.1:{free_port()}",
              "--metrics", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path / "var"), timeout=30)
    assert out.returncode == 2
    assert expected in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_run_on_a_port_in_use_exits_2(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = dlp("run", "--listen", f"127.0.0.1:{port}", "--metrics", f"127.0.0.1:{free_port()}",
                  "--data-dir", str(tmp_path / "var"), timeout=30)
    assert out.returncode == 2
    assert out.stderr.strip() == f"dlp: cannot listen on 127.0.0.1:{port} (proxy): address already in use"


def test_protected_mitmproxy_option_is_refused(tmp_path: Path):
    out = dlp("run", "--listen", f"127.0.0.1:{free_port()}", "--metrics", f"127.0.0.1:{free_port()}",
              "--data-dir", str(tmp_path / "var"), "--set", "stream_large_bodies=1m", timeout=30)
    assert out.returncode == 2 and "stream_large_bodies" in out.stderr


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def test_sigterm_exits_0_quickly_and_leaves_no_child(tmp_path: Path, residents_csv: Path):
    proc = DlpProcess(Path(REPO / "config/dlp.yaml"), tmp_path / "var").start()
    # Make the worker pool exist: one big upload goes to the scanner processes.
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=60)
    conn.request("PUT", f"http://127.0.0.1:{free_port()}/x.csv", body=residents_csv.read_bytes())
    assert conn.getresponse().status == 403
    assert _children(proc.proc.pid), "expected scanner worker processes"
    descendants = _children(proc.proc.pid)
    started = time.monotonic()
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(10) == 0, proc.output()
    assert time.monotonic() - started < 10
    time.sleep(0.5)
    alive = [p for p in descendants if Path(f"/proc/{p}").exists()
             and "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]]
    assert alive == []
    proc.log.close()


def test_check_config_reports_positions(tmp_path: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\nrules:\n  - name: dup\n    when: {persons: 5}\n    action: log\n"
                   "  - name: dup\n    when: {persons: 6}\n    action: block\n    colour: red\n")
    out = dlp("check-config", str(cfg))
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"{cfg}:9:5: unknown key 'colour' in rules.1 (allowed: action, description, name, scope, when)"]
    cfg.write_text(cfg.read_text().replace("    colour: red\n", ""))
    out = dlp("check-config", str(cfg))
    assert out.returncode == 1 and out.stderr.splitlines() == [f"{cfg}:6:11: duplicate rule name 'dup'"]
    assert dlp("check-config", "config/dlp.yaml").returncode == 0


def test_scan_evaluates_a_policy_as_user_and_destination(tmp_path: Path):
    import sys
    sys.path.insert(0, str(REPO / "tests"))
    from synthetic import people, resident_csv

    cfg = tmp_path / "p.yaml"
    cfg.write_text("""version: 1
identity: {departed: [taro.yamada]}
rules:
  - {name: bulk, when: {persons: 1000}, action: block}
  - {name: drip, when: {window: {persons: 1500, period: 30d}}, action: block}
exceptions:
  - {name: payroll, users: [hr-batch], destinations: ["*.bank.example.co.jp"], rules: [bulk]}
""")
    big = tmp_path / "big.csv"
    big.write_bytes(resident_csv(people(1200, seed=41)))
    small = tmp_path / "small.csv"
    small.write_bytes(resident_csv(people(400, seed=42)))

    def run(*extra: str) -> list[dict]:
        out = dlp("scan", "--config", str(cfg), "--json", *extra)
        assert out.returncode == 0, out.stderr
        return [json.loads(line) for line in out.stdout.splitlines()]

    assert run("--user", "alice", str(big))[0]["action"] == "block"
    [waived] = run("--user", "hr-batch", "--destination", "upload.bank.example.co.jp", str(big))
    assert waived["action"] == "allow" and waived["rules"] == ["bulk"] and waived["exception"] == "payroll"
    assert run("--user", "taro.yamada", str(small))[0]["rules"] == ["departed-account"]
    # windows add up over the files in order, as consecutive uploads would
    first, second = run("--user", "hr-batch", "--destination", "upload.bank.example.co.jp", str(big), str(small))
    assert first["action"] == "allow" and second["action"] == "block" and second["rules"] == ["drip"]
