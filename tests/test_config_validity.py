"""A policy that would stop nothing is not a valid policy (issue 13, point 1): the checks in
dlp/config.py, and the reload watcher that never applies a file that is still being written."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from dlp import reload
from dlp.config import MAX_POLICY_BYTES, SCHEMA_PATH, SHIPPED_CONFIG, ConfigError, load_policy, parse_policy
from dlp.metrics import Metrics
from dlp.reload import PolicyWatcher

BLOCKING = b"version: 1\nrules:\n  - {name: bulk, when: {persons: 1000}, action: block}\n"


def problems(text: bytes, path: str = "p.yaml") -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse_policy(text, path)
    return [str(p) for p in e.value.problems]


# -- the three files of the issue, and their neighbours ---------------------------------------


@pytest.mark.parametrize("text", [b"", b"\n\n", b"   \n", b"# only a comment\n# and another\n", b"\xef\xbb\xbf"])
def test_an_empty_file_is_refused_as_empty(text):
    assert problems(text) == ["p.yaml:1:1: the policy file is empty: a policy needs `version: 1` and at least "
                              "one rule whose action is block or quarantine"]


def test_a_file_with_only_version_would_stop_nothing():
    assert problems(b"version: 1\n") == [
        "p.yaml:1:1: policy would stop nothing: it has no rules (add one, or set allow_no_stopping_rules: true "
        "if a policy that stops nothing is intended)"]


def test_a_file_without_version_is_refused_at_its_first_key():
    assert problems(b"# policy\n" + BLOCKING.replace(b"version: 1\n", b"")) == [
        "p.yaml:2:1: version is missing: a policy file must say `version: 1` (the schema version it is written for)"]


@pytest.mark.parametrize("rules, line", [(b"rules: []\n", 2), (b"inspect: {workers: 1}\nrules: []\n", 3)])
def test_an_empty_rule_list_would_stop_nothing_and_points_at_rules(rules, line):
    [msg] = problems(b"version: 1\n" + rules)
    assert msg.startswith(f"p.yaml:{line}:1: policy would stop nothing: it has no rules")


def test_rules_that_only_log_or_allow_would_stop_nothing():
    text = (b"version: 1\ninspect: {on_error: block}\nrules:\n"
            b"  - {name: seen, when: {persons: 1}, action: log}\n"
            b"  - {name: fine, when: {findings: {phone: 1}}, action: allow}\n")
    assert problems(text) == [
        "p.yaml:3:1: policy would stop nothing: none of its 2 rules blocks or quarantines (actions: allow, log; "
        "add one, or set allow_no_stopping_rules: true if a policy that stops nothing is intended)"]


@pytest.mark.parametrize("action", ["block", "quarantine"])
def test_one_stopping_rule_makes_a_valid_policy(action):
    pol = parse_policy(b"version: 1\nrules:\n  - {name: seen, when: {persons: 1}, action: log}\n"
                       b"  - {name: stop, when: {persons: 50}, action: " + action.encode() + b"}\n", "p.yaml")
    assert [r.name for r in pol.stopping_rules()] == ["stop"]
    assert pol.allow_no_stopping_rules is False and pol.warnings == ()


def test_allow_no_stopping_rules_accepts_it_and_says_so():
    pol = parse_policy(b"version: 1\nallow_no_stopping_rules: true\nrules:\n"
                       b"  - {name: seen, when: {persons: 1}, action: log}\n", "p.yaml")
    assert pol.allow_no_stopping_rules is True and pol.stopping_rules() == ()
    assert [str(w) for w in pol.warnings] == [
        "p.yaml:2:1: warning: this policy stops nothing (no rule blocks or quarantines; allow_no_stopping_rules: true)"]


def test_allow_no_stopping_rules_false_is_the_default_and_a_boolean():
    assert problems(b"version: 1\nallow_no_stopping_rules: false\n")[0].startswith(
        "p.yaml:1:1: policy would stop nothing")
    assert problems(b"version: 1\nallow_no_stopping_rules: 'yes'\n") == [
        "p.yaml:2:26: allow_no_stopping_rules: 'yes' is not of type 'boolean'"]


def test_the_schema_requires_version_and_knows_the_new_key():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["required"] == ["version"]
    assert schema["properties"]["allow_no_stopping_rules"]["type"] == "boolean"


def test_the_shipped_policy_stops_something():
    pol = load_policy(SHIPPED_CONFIG)
    assert {r.action for r in pol.stopping_rules()} == {"block", "quarantine"}
    assert pol.allow_no_stopping_rules is False


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(BLOCKING + b"#" * MAX_POLICY_BYTES)
    with pytest.raises(ConfigError) as e:
        load_policy(big)
    assert str(e.value) == f"{big}:1:1: larger than {MAX_POLICY_BYTES} bytes: not a policy file"


# -- hot reload: settle before parsing, keep the old policy on a rejection ---------------------


class Harness:
    """A PolicyWatcher over a real file, with the policies it put in force recorded."""

    def __init__(self, path: Path, text: bytes):
        path.write_bytes(text)
        self.path = path
        self.metrics = Metrics(CollectorRegistry())
        self.applied: list[str] = []

        async def apply(pol):
            self.applied.append(pol.sha256)

        self.watcher = PolicyWatcher(path, parse_policy(text, str(path)), self.metrics, apply)

    def reloads(self, result: str) -> float:
        return self.metrics.registry.get_sample_value("dlp_config_reloads_total", {"result": result})


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


V2 = BLOCKING + b"  - {name: my-number, when: {findings: {my_number: 1}}, action: block}\n"
# The first half of V2 is a valid policy on its own, and a weaker one (no my-number rule).
V2_HALF = BLOCKING


def test_a_half_written_file_is_never_applied_as_the_half(tmp_path):
    h = Harness(tmp_path / "p.yaml", b"version: 1\nrules:\n  - {name: old, when: {persons: 5}, action: block}\n")

    async def scenario():
        with open(h.path, "wb") as f:              # an editor writing in place: truncate, first half...
            f.write(V2_HALF)
            f.flush()
            check = asyncio.create_task(h.watcher.check())
            await asyncio.sleep(reload.SETTLE_SECONDS / 3)
            f.write(V2[len(V2_HALF):])             # ...and, a moment later, the rest
        return await check

    assert asyncio.run(scenario()) is True
    assert h.applied == [sha(V2)]                   # the half, a valid policy, was never put in force
    assert (h.reloads("success"), h.reloads("failure")) == (1, 0)


def test_a_file_that_keeps_changing_waits_for_the_next_poll(tmp_path, caplog):
    h = Harness(tmp_path / "p.yaml", BLOCKING)
    stop, wrote = threading.Event(), threading.Event()

    def writer():                                  # appends a comment line every 5 ms
        while not stop.is_set():
            with open(h.path, "ab") as f:
                f.write(b"# still typing\n")
            wrote.set()
            time.sleep(0.005)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert wrote.wait(5)                       # the watcher starts on a changed file
        with caplog.at_level(logging.INFO, "sekimori.config"):
            assert asyncio.run(h.watcher.check()) is False
    finally:
        stop.set()
        t.join()
    assert h.applied == [] and "still being written" in caplog.text
    assert (h.reloads("success"), h.reloads("failure")) == (0, 0)
    assert asyncio.run(h.watcher.check()) is True   # once it is quiet, the whole file is applied
    assert h.applied == [sha(h.path.read_bytes())]


@pytest.mark.parametrize("text, error", [
    (b"", "the policy file is empty"),
    (b"version: 1\n", "policy would stop nothing"),
    (b"rules:\n  - {name: bulk, when: {persons: 1000}, action: block}\n", "version is missing"),
    (b"version: 1\nrules:\n  - {name: bulk, when: {persons: 10", "YAML syntax"),      # truncated
    (bytes(range(256)) * 4, "not UTF-8"),                                               # garbage
])
def test_a_rejected_reload_keeps_the_old_policy_logs_and_counts(tmp_path, caplog, text, error):
    h = Harness(tmp_path / "p.yaml", BLOCKING)
    h.path.write_bytes(text)
    with caplog.at_level(logging.ERROR, "sekimori.config"):
        assert asyncio.run(h.watcher.check()) is False
    assert h.applied == [] and h.watcher.sha256 == sha(BLOCKING)
    assert (h.reloads("success"), h.reloads("failure")) == (0, 1)
    assert h.metrics.registry.get_sample_value("dlp_errors_total", {"stage": "config"}) == 1
    assert f"config reload rejected, old policy stays in force: {h.path}:" in caplog.text and error in caplog.text
    assert asyncio.run(h.watcher.check()) is False   # the same bad file is not counted twice
    assert h.reloads("failure") == 1


def test_a_file_missing_for_a_moment_is_not_a_failure(tmp_path):
    h = Harness(tmp_path / "p.yaml", BLOCKING)

    async def scenario():
        h.path.write_bytes(V2)
        check = asyncio.create_task(h.watcher.check())
        await asyncio.sleep(0)                       # the watcher saw the new stat
        h.path.unlink()                              # an editor's rename dance: gone...
        await asyncio.sleep(reload.SETTLE_SECONDS * 1.5)
        h.path.write_bytes(V2)                       # ...and back
        return await check

    assert asyncio.run(scenario()) is True
    assert h.applied == [sha(V2)] and h.reloads("failure") == 0
