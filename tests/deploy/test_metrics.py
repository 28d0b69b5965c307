"""The metric contract, on a real `dlp run`: every known label value is exported at zero
before any traffic, and each series moves as it should when one transfer per verdict path
goes through the proxy. Labels stay low-cardinality: no user, IP, file name or value."""

from __future__ import annotations

import hashlib
import time
import urllib.request

import pytest
from servers import DlpProcess

from dlp import __version__
from dlp.config import ACTIONS, UNINSPECTABLE_REASONS, load_policy
from dlp.metrics import PROTOCOLS

from .helpers import (
    DEPARTED,
    EXPECTED_STATUS,
    POLICY,
    RULE_ACTIONS,
    drive,
    samples,
    scrape,
    series,
    value,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A dlp run, its /metrics before and after the traffic, and what was sent."""
    from servers import Upstream

    tmp = tmp_path_factory.mktemp("metrics")
    cfg = tmp / "dlp.yaml"
    cfg.write_text(POLICY)
    proc = DlpProcess(cfg, tmp / "var").start()
    up = Upstream().start()
    try:
        before = samples(scrape(proc.metrics_port))
        sent = drive(proc.port, up.port)
        text = scrape(proc.metrics_port)
        yield {"proc": proc, "cfg": cfg, "before": before, "after": samples(text), "text": text,
               "sent": sent, "upstream": up}
    finally:
        up.stop()
        assert proc.stop() == 0, proc.output()


def delta(run, name: str, **labels: str) -> float:
    return value(run["after"], name, **labels) - value(run["before"], name, **labels)


def test_traffic_got_the_verdicts_the_policy_gives(run):
    assert run["sent"].statuses == EXPECTED_STATUS, run["proc"].output()
    # The upstream saw exactly the two transfers that were allowed or logged.
    assert len(run["upstream"].received) == 2


def test_known_label_values_are_zero_before_any_traffic(run):
    before = run["before"]
    pol = load_policy(run["cfg"])
    for protocol in PROTOCOLS:
        for action in ACTIONS:
            assert value(before, "dlp_transfers_total", protocol=protocol, action=action) == 0
        assert value(before, "dlp_bytes_inspected_total", protocol=protocol) == 0
        assert value(before, "dlp_scan_seconds_count", protocol=protocol) == 0
        assert value(before, "dlp_scan_seconds_bucket", protocol=protocol, le="+Inf") == 0
    for action in ACTIONS:
        assert value(before, "dlp_persons_total", action=action) == 0
    for reason in UNINSPECTABLE_REASONS:
        assert value(before, "dlp_uninspectable_total", reason=reason) == 0
    for rule, action in RULE_ACTIONS.items():
        assert value(before, "dlp_rule_matches_total", rule=rule, action=action) == 0
    for detector in pol.detectors_enabled:
        assert value(before, "dlp_findings_total", detector=detector) == 0
    for result in ("success", "failure"):
        assert value(before, "dlp_config_reloads_total", result=result) == 0
    assert series(before, "dlp_errors_total"), "dlp_errors_total has no initialised stage"
    assert all(v == 0 for (n, _l), v in before.items() if n == "dlp_errors_total")
    assert value(before, "dlp_scan_queue_depth") == 0


def test_transfers_count_each_verdict(run):
    moved = {a: delta(run, "dlp_transfers_total", protocol="http", action=a) for a in ACTIONS}
    assert moved == {"allow": 1, "log": 1, "quarantine": 2, "block": 2}
    for protocol in ("websocket", "smtp", "tcp"):
        for action in ACTIONS:
            assert delta(run, "dlp_transfers_total", protocol=protocol, action=action) == 0


def test_rule_matches_count_every_matched_rule_with_its_action(run):
    # 1,500 persons match all three person thresholds; 150 match two; 20 match one.
    expected = {"bulk-personal-data": 1, "bulk-review": 2, "personal-data-seen": 3,
                "encrypted-content": 1, "departed-account": 1}
    got = {rule: delta(run, "dlp_rule_matches_total", rule=rule, action=RULE_ACTIONS[rule]) for rule in expected}
    assert got == expected


def test_persons_are_counted_per_verdict(run):
    sent = run["sent"]
    for action, persons in sent.persons.items():
        got = delta(run, "dlp_persons_total", action=action)
        assert abs(got - persons) <= 0.02 * persons, (action, got, persons)


def test_findings_count_validated_values_per_detector(run):
    names = delta(run, "dlp_findings_total", detector="person_name")
    phones = delta(run, "dlp_findings_total", detector="phone")
    # 1,500 + 150 + 20 residents (not the zipped ones), each with one phone; names also count
    # their kana readings, so there are more names than residents.
    assert 0.98 * 1670 <= phones <= 1.02 * 1670
    assert names >= 0.98 * 1670


def test_bytes_and_scan_time_are_observed(run):
    assert delta(run, "dlp_bytes_inspected_total", protocol="http") >= run["sent"].plain_bytes
    assert delta(run, "dlp_scan_seconds_count", protocol="http") == 6
    assert delta(run, "dlp_scan_seconds_sum", protocol="http") > 0
    assert delta(run, "dlp_scan_seconds_bucket", protocol="http", le="+Inf") == 6
    assert value(run["after"], "dlp_scan_queue_depth") == 0
    assert delta(run, "dlp_scan_queue_seconds_count") >= 1  # the bodies over 16 KiB waited for a scanner


def test_the_scanner_processes_are_visible(run):
    """process_cpu_seconds_total is the proxy process only; the scanners' own series show the
    CPU their scans took (a 1 MiB upload or more was scanned) and their memory."""
    assert value(run["after"], "dlp_scanner_processes") == 1  # inspect.workers: 1 in this policy
    assert delta(run, "dlp_scanner_cpu_seconds_total") > 0.05
    assert value(run["after"], "dlp_scanner_resident_memory_bytes") > 20 * 2**20


def test_uninspectable_counts_the_encrypted_archive_only(run):
    got = {r: delta(run, "dlp_uninspectable_total", reason=r) for r in UNINSPECTABLE_REASONS}
    assert got == {"encrypted": 1, "too_large": 0, "corrupt": 0, "timeout": 0, "unsupported": 0, "tunnel": 0,
                   "overloaded": 0}


def test_no_errors_and_no_reloads(run):
    assert all(v == 0 for (n, _l), v in run["after"].items() if n == "dlp_errors_total")
    assert delta(run, "dlp_config_reloads_total", result="success") == 0
    assert delta(run, "dlp_config_reloads_total", result="failure") == 0


def test_config_build_and_state_backend_info(run):
    after = run["after"]
    sha = hashlib.sha256(run["cfg"].read_bytes()).hexdigest()
    assert series(after, "dlp_config_info") == [{"sha256": sha}]
    assert value(after, "dlp_config_info", sha256=sha) == 1
    assert series(after, "dlp_build_info") == [{"version": __version__}]
    assert value(after, "dlp_build_info", version=__version__) == 1
    assert value(after, "dlp_state_backend_up") == 1          # memory backend


def test_default_process_and_python_collectors(run):
    names = {n for (n, _l) in run["after"]}
    assert {"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
            "python_info", "python_gc_objects_collected_total"} <= names


def test_labels_carry_no_user_ip_file_name_or_value(run):
    values = {v for (_n, labels) in run["after"] for _k, v in labels}
    text = run["text"]
    for secret in ["127.0.0.1", DEPARTED, *run["sent"].filenames]:
        assert secret not in text
    for name in run["sent"].names[:200]:
        assert name not in values and name.replace(" ", "") not in text
    # Every label value is from a closed set: actions, protocols, reasons, stages, rule and
    # detector ids, results, bucket bounds, the config hash, the version, Python's own.
    assert len(values) < 150, sorted(values)


def test_quarantine_gauges_count_held_transfers(run):
    if "dlp_quarantine_items" not in {n for (n, _l) in run["after"]}:
        pytest.skip("dlp_quarantine_items is not exported yet")
    assert value(run["before"], "dlp_quarantine_items") == 0
    assert delta(run, "dlp_quarantine_items") == 2            # the 150 persons and the AES zip
    assert delta(run, "dlp_quarantine_bytes") > 1000


def test_reloads_count_failures_and_successes_and_move_config_info(tmp_path):
    """A broken edit is refused (failure, old policy and hash stay); a good one is taken
    (success, new hash, its new rule initialised at zero)."""
    cfg = tmp_path / "dlp.yaml"
    cfg.write_text(POLICY)
    proc = DlpProcess(cfg, tmp_path / "var").start()
    try:
        old = hashlib.sha256(cfg.read_bytes()).hexdigest()
        cfg.write_text(POLICY + "rules: [\n")
        snap = wait_for(proc.metrics_port, "dlp_config_reloads_total", {"result": "failure"}, 1)
        assert value(snap, "dlp_config_reloads_total", result="success") == 0
        assert series(snap, "dlp_config_info") == [{"sha256": old}]
        card_rule = "  - name: any-card\n    when: {findings: {credit_card: 1}}\n    action: block\n"
        good = POLICY.replace("  - name: personal-data-seen", card_rule + "  - name: personal-data-seen")
        cfg.write_text(good)
        snap = wait_for(proc.metrics_port, "dlp_config_reloads_total", {"result": "success"}, 1)
        new = hashlib.sha256(good.encode()).hexdigest()
        assert series(snap, "dlp_config_info") == [{"sha256": new}]
        assert value(snap, "dlp_rule_matches_total", rule="any-card", action="block") == 0
        assert value(snap, "dlp_config_reloads_total", result="failure") == 1
    finally:
        assert proc.stop() == 0, proc.output()


def wait_for(port: int, name: str, labels: dict[str, str], want: float, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        snap = samples(scrape(port))
        got = snap.get((name, frozenset(labels.items())))
        if got == want or time.monotonic() > deadline:
            assert got == want, f"{name}{labels} = {got}, want {want}"
            return snap
        time.sleep(0.2)


def test_health_and_readiness(run):
    port = run["proc"].metrics_port
    for path in ("/healthz", "/readyz"):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            assert resp.status == 200
