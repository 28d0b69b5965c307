import pytest

from dlp.config import ConfigError, parse_policy
from dlp.model import ScanResult
from dlp.policy import decide

POLICY = b"""
version: 1
inspect: {on_uninspectable: {encrypted: quarantine, corrupt: log, default: block}, on_error: block}
rules:
  - {name: bulk, when: {persons: 1000}, action: block}
  - {name: review, when: {persons: 100}, action: quarantine}
  - {name: phones, when: {findings: {phone: 5}, persons: 2}, action: log}
  - {name: enc, when: {encrypted: true}, action: quarantine}
"""


@pytest.fixture
def policy():
    return parse_policy(POLICY, "p.yaml")


def result(**kw) -> ScanResult:
    return ScanResult(**kw)


def test_most_severe_matched_action_wins(policy):
    d = decide(result(persons=1500), policy)
    assert d.action == "block" and d.rules == ("bulk", "review")
    assert decide(result(persons=150), policy).action == "quarantine"
    assert decide(result(persons=99), policy).action == "allow"


def test_when_keys_are_anded(policy):
    assert decide(result(persons=3, findings={"phone": 5}), policy).rules == ("phones",)
    assert decide(result(persons=1, findings={"phone": 50}), policy).rules == ()
    assert decide(result(persons=3, findings={"phone": 4}), policy).rules == ()


def test_uninspectable_reasons_and_engine_errors_have_actions(policy):
    assert decide(result(encrypted=True, uninspectable=["encrypted"]), policy).action == "quarantine"
    assert decide(result(uninspectable=["corrupt"]), policy).action == "log"
    assert decide(result(uninspectable=["timeout"]), policy).action == "block"
    assert decide(result(engine_error="boom"), policy).action == "block"


def test_defaults_when_keys_are_absent():
    pol = parse_policy(b"version: 1\n", "min.yaml")
    assert pol.rules == () and pol.inspect.max_body == 64 * 2**20
    assert pol.inspect.action_for("encrypted") == "quarantine"
    assert pol.inspect.action_for("too_large") == "block"


@pytest.mark.parametrize("text, message", [
    (b"version: 1\ninspect: {max_body: lots}\n", "2:21: inspect.max_body: 'lots' is not a valid size"),
    (b"version: 1\ninspect: {timeout: 5 parsecs}\n", "2:20: inspect.timeout: '5 parsecs' is not a valid duration"),
    (b"version: 2\n", "1:10: version: 1 was expected"),
    (b"version: 1\nversion: 1\n", "2:1: duplicate key 'version'"),
    (b"- a\n- b\n", "1:1: the file must be a mapping"),
    (b"version: 1\nrules: [{name: x, when: {}, action: log}]\n", "rules.0.when: {} should be non-empty"),
    (b"\xff\xfe\x00", "not UTF-8"),
])
def test_config_errors_name_position_and_cause(text, message):
    with pytest.raises(ConfigError) as e:
        parse_policy(text, "c.yaml")
    assert message in str(e.value)
