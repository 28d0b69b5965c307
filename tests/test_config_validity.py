"""A policy that would stop nothing is not a valid policy (issue 13, point 1): the checks in
dlp/config.py."""

from __future__ import annotations

import json

import pytest

from dlp.config import MAX_POLICY_BYTES, SCHEMA_PATH, SHIPPED_CONFIG, ConfigError, load_policy, parse_policy

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
