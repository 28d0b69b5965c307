"""No policy file turns the protection off (issue 13, point 1), through a real `dlp run`:
an emptied, garbage, truncated or half-written file on reload leaves the old policy blocking
and is counted as a failed reload; an empty, version-less or rule-less policy stops `dlp run`
at start (exit 2) and fails `dlp check-config` (exit 1)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time

import pytest
from servers import DLP, REPO, DlpProcess, free_port, metric, multipart, send_http
from synthetic import people, resident_csv

pytestmark = pytest.mark.e2e

SHIPPED = REPO / "config" / "dlp.yaml"
THOUSAND = resident_csv(people(1000, seed=1301))


def dlp(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DLP, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def upload(proc: DlpProcess, upstream, content: bytes = THOUSAND) -> tuple[int, dict]:
    body, ctype = multipart("residents.csv", content)
    status, _headers, data = send_http(proc.port, upstream.port, body,
                                       {"Content-Type": ctype, "Accept": "application/json"})
    return status, (json.loads(data) if status == 403 else {})


def reloads(proc: DlpProcess, result: str) -> float | None:
    return metric(proc.metrics_port, "dlp_config_reloads_total", {"result": result})


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def in_force(proc: DlpProcess, text: bytes) -> bool:
    return metric(proc.metrics_port, "dlp_config_info", {"sha256": hashlib.sha256(text).hexdigest()}) == 1


# -- reload ---------------------------------------------------------------------------------


def test_emptying_the_policy_file_is_a_failed_reload_and_the_old_policy_keeps_blocking(tmp_path, upstream):
    cfg = tmp_path / "dlp.yaml"
    shipped = SHIPPED.read_bytes()
    cfg.write_bytes(shipped)
    proc = DlpProcess(cfg, tmp_path / "var").start()
    try:
        status, page = upload(proc, upstream)
        assert status == 403 and "bulk-personal-data" in page["rules"]
        open(cfg, "w").close()                                   # `: > dlp.yaml`
        assert wait_for(lambda: reloads(proc, "failure") == 1), proc.output()
        assert reloads(proc, "success") == 0 and in_force(proc, shipped)
        status, page = upload(proc, upstream)
        assert status == 403 and "bulk-personal-data" in page["rules"]
        assert upstream.received == []                           # nothing of the 1,000 persons left
        out = proc.output()
        assert f"config reload rejected, old policy stays in force: {cfg}:1:1: the policy file is empty" in out
        assert metric(proc.metrics_port, "dlp_errors_total", {"stage": "config"}) == 1
    finally:
        assert proc.stop() == 0


OLD = b"version: 1\nrules:\n  - {name: bulk, when: {persons: 1000}, action: block}\n"
# The first half of NEW is a valid policy on its own that lets a 1,000-person list through.
HALF = b"version: 1\nrules:\n  - {name: my-number, when: {findings: {my_number: 1}}, action: block}\n"
NEW = HALF + b"  - {name: bulk, when: {persons: 1000}, action: block}\n"


def test_a_file_written_in_place_is_never_applied_half_written(tmp_path, upstream):
    cfg = tmp_path / "dlp.yaml"
    cfg.write_bytes(OLD)
    proc = DlpProcess(cfg, tmp_path / "var").start()
    stop = threading.Event()

    def editor():
        """Saves NEW in place again and again for a few polls: truncate, the first half,
        a short pause, the rest. The half is on disk three quarters of the time."""
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            with open(cfg, "wb") as f:
                f.write(HALF)
                f.flush()
                time.sleep(0.015)
                f.write(NEW[len(HALF):])
            time.sleep(0.005)
        stop.set()

    statuses: list[int] = []
    writer = threading.Thread(target=editor)
    try:
        writer.start()
        while not stop.is_set():                                 # uploads all along the saves
            statuses.append(upload(proc, upstream)[0])
        writer.join()
        assert wait_for(lambda: reloads(proc, "success") == 1), proc.output()
        time.sleep(1.5)                                          # one more poll: nothing else is applied
        assert (reloads(proc, "success"), reloads(proc, "failure")) == (1, 0), proc.output()
        assert in_force(proc, NEW)
        assert statuses and set(statuses) == {403}
        assert upload(proc, upstream)[0] == 403
        assert upstream.received == []
    finally:
        stop.set()
        writer.join()
        assert proc.stop() == 0


GARBAGE = [
    ("binary garbage", bytes(range(256)) * 64, "not UTF-8"),
    ("YAML garbage", b"}{ ][ :: - ? !!\n\t\x01", "YAML syntax"),
    ("not a mapping", b"- version\n- 1\n", "the file must be a mapping"),
    ("truncated in a rule", OLD[:-12], "YAML syntax"),
    ("truncated after rules:", OLD[:OLD.index(b"rules:") + 6] + b"\n", "rules: None is not of type 'array'"),
    ("truncated before rules", OLD[:OLD.index(b"rules:")], "policy would stop nothing: it has no rules"),
    ("only version", b"version: 1\n", "policy would stop nothing: it has no rules"),
    ("no version", OLD.replace(b"version: 1\n", b""), "version is missing"),
    ("log rules only", OLD.replace(b"block", b"log"), "policy would stop nothing: none of its 1 rules"),
]


def test_garbage_and_truncated_files_are_rejected_one_by_one(tmp_path, upstream):
    cfg = tmp_path / "dlp.yaml"
    cfg.write_bytes(OLD)
    proc = DlpProcess(cfg, tmp_path / "var").start()
    try:
        for n, (what, text, error) in enumerate(GARBAGE, start=1):
            tmp = tmp_path / "next.yaml"                         # replaced by rename, as editors save
            tmp.write_bytes(text)
            tmp.replace(cfg)
            assert wait_for(lambda n=n: reloads(proc, "failure") == n), (what, proc.output())
            assert error in proc.output().split("config reload rejected")[-1], what
        assert reloads(proc, "success") == 0 and in_force(proc, OLD)
        status, page = upload(proc, upstream)
        assert status == 403 and page["rules"] == ["bulk"]
        assert upstream.received == []
        cfg.write_bytes(NEW)                                     # a good file is still taken
        assert wait_for(lambda: reloads(proc, "success") == 1) and in_force(proc, NEW)
    finally:
        assert proc.stop() == 0


# -- start and check-config ---------------------------------------------------------------------

REFUSED = [
    ("empty", b"", "1:1: the policy file is empty: a policy needs `version: 1` and at least one rule whose "
                   "action is block or quarantine"),
    ("version-less", b"rules:\n  - {name: bulk, when: {persons: 1000}, action: block}\n",
     "1:1: version is missing: a policy file must say `version: 1` (the schema version it is written for)"),
    ("rule-less", b"version: 1\n", "1:1: policy would stop nothing: it has no rules (add one, or set "
                                   "allow_no_stopping_rules: true if a policy that stops nothing is intended)"),
    ("log-only", b"version: 1\nrules:\n  - {name: seen, when: {persons: 1}, action: log}\n",
     "2:1: policy would stop nothing: none of its 1 rules blocks or quarantines (actions: log; add one, or set "
     "allow_no_stopping_rules: true if a policy that stops nothing is intended)"),
]


@pytest.mark.parametrize("what, text, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_dlp_run_refuses_to_start_with_a_policy_that_stops_nothing(tmp_path, what, text, message):
    cfg = tmp_path / "dlp.yaml"
    cfg.write_bytes(text)
    port = free_port()
    out = dlp("run", "--config", str(cfg), "--listen", f"127.0.0.1:{port}",
              "--metrics", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path / "var"))
    assert out.returncode == 2
    assert out.stderr == f"dlp: config error: {cfg}:{message}\n"
    assert out.stdout == "" and not (tmp_path / "var").exists()   # refused before anything was set up


@pytest.mark.parametrize("what, text, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_check_config_refuses_a_policy_that_stops_nothing(tmp_path, what, text, message):
    cfg = tmp_path / "dlp.yaml"
    cfg.write_bytes(text)
    out = dlp("check-config", str(cfg))
    assert out.returncode == 1
    assert out.stderr.splitlines() == [f"{cfg}:{message}"] and out.stdout == ""


def test_allow_no_stopping_rules_lets_a_log_only_policy_run_and_says_so(tmp_path, upstream):
    cfg = tmp_path / "dlp.yaml"
    cfg.write_bytes(b"version: 1\nallow_no_stopping_rules: true\nrules:\n"
                    b"  - {name: seen, when: {persons: 1}, action: log}\n")
    out = dlp("check-config", str(cfg))
    assert out.returncode == 0 and out.stdout == f"{cfg}: OK (1 rules, 0 exceptions)\n"
    assert out.stderr == f"{cfg}:2:1: warning: this policy stops nothing (no rule blocks or quarantines; " \
                         "allow_no_stopping_rules: true)\n"
    proc = DlpProcess(cfg, tmp_path / "var").start()
    try:
        assert upload(proc, upstream)[0] == 200                   # logged, and let through as the file says
        assert len(upstream.received) == 1
        assert "warning: this policy stops nothing" in proc.output()
    finally:
        assert proc.stop() == 0
