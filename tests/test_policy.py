import pytest

from dlp.config import ConfigError, parse_policy
from dlp.model import ScanResult
from dlp.policy import Context

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


def decide(r: ScanResult, pol, c=None):
    from dlp.policy import decide as _decide
    return _decide(r, pol, c or Context("http", "alice", "10.0.0.1", ("example.com",)))


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


# -- scopes, exceptions, windows, departed accounts ------------------------------------------

import asyncio  # noqa: E402
import datetime  # noqa: E402

from dlp.decider import decide_with_state  # noqa: E402
from dlp.model import Transfer  # noqa: E402
from dlp.state.memory import MemoryState  # noqa: E402

FULL = b"""
version: 1
identity: {departed: [taro.yamada]}
rules:
  - {name: bulk, when: {persons: 1000}, action: block}
  - name: sharepoint-review
    scope: {destinations: ["*.sharepoint.com"], users: ["*"], protocols: [http, smtp]}
    when: {persons: 500}
    action: quarantine
  - {name: drip, when: {window: {persons: 100, period: 24h, per: user}}, action: block}
exceptions:
  - {name: payroll-to-bank, users: [hr-batch], destinations: ["upload.bank.example.co.jp"], rules: [bulk, drip]}
  - {name: everything-for-audit, users: [auditor], destinations: ["audit.example.jp"]}
  - {name: old, users: [someone], expires: 2020-01-01}
"""


@pytest.fixture
def full():
    return parse_policy(FULL, "full.yaml")


def ctx(**kw) -> Context:
    base = {"protocol": "http", "user": "alice", "client_ip": "10.0.0.1", "destinations": ("example.com",)}
    return Context(**{**base, **kw})


def test_scope_limits_a_rule_to_its_destinations(full):
    r = result(persons=600)
    assert "sharepoint-review" in decide(r, full, ctx(destinations=("x.sharepoint.com",))).rules
    assert "sharepoint-review" not in decide(r, full, ctx(destinations=("example.com",))).rules
    assert "sharepoint-review" not in decide(r, full, ctx(protocol="websocket",
                                                          destinations=("x.sharepoint.com",))).rules


def test_exception_waives_only_its_rules_and_is_recorded(full):
    r = result(persons=1500)
    d = decide(r, full, ctx(user="hr-batch", destinations=("upload.bank.example.co.jp",)))
    assert d.action == "allow" and d.exception == "payroll-to-bank" and d.rules == ("bulk", "drip")
    # another user, or another destination: no waiver
    assert decide(r, full, ctx(user="mallory", destinations=("upload.bank.example.co.jp",))).action == "block"
    assert decide(r, full, ctx(user="hr-batch", destinations=("evil.example",))).action == "block"
    # a mail to the bank AND a stranger is not a mail to the bank
    both = ctx(user="hr-batch", protocol="smtp", destinations=("evil.example", "upload.bank.example.co.jp"))
    assert decide(r, full, both).action == "block"


def test_exception_without_rules_waives_every_rule_but_not_uninspectable(full):
    d = decide(result(persons=5000), full, ctx(user="auditor", destinations=("audit.example.jp",)))
    assert d.action == "allow" and d.exception == "everything-for-audit"
    d = decide(result(persons=5000, uninspectable=["corrupt"]), full,
               ctx(user="auditor", destinations=("audit.example.jp",)))
    assert d.action == "block"


def test_expired_exception_no_longer_applies_and_is_a_warning(full):
    d = decide(result(persons=5000), full, ctx(user="someone", today=datetime.date(2026, 1, 1)))
    assert d.action == "block" and d.exception is None
    assert [str(w) for w in full.warnings] == ["full.yaml:14:44: warning: exception 'old' expired on 2020-01-01"]


def test_departed_account_is_blocked_whatever_it_carries(full):
    d = decide(result(persons=0), full, ctx(user="taro.yamada"))
    assert d.action == "block" and d.rules[0] == "departed-account" and d.severity == "critical"


def _scan_of(persons: int, start: int = 0) -> ScanResult:
    import hashlib
    digests = b"".join(hashlib.blake2b(str(i).encode(), digest_size=16).digest() for i in range(start, start + persons))
    return result(persons=persons, person_digests=digests)


def test_window_counts_distinct_persons_across_transfers(full):
    state = MemoryState()
    t = Transfer("http", b"", user="alice", host="example.com", client_ip="10.0.0.1")

    def run(r):
        return asyncio.run(decide_with_state(state, t, r, full))

    assert run(_scan_of(40, 0)).action == "allow"        # 40
    assert run(_scan_of(40, 0)).action == "allow"        # the same 40 again: still 40
    assert run(_scan_of(40, 40)).action == "allow"       # 80
    d = run(_scan_of(30, 80))                            # 110 >= 100: blocked
    assert d.action == "block" and d.rules == ("drip",)
    assert run(_scan_of(10, 80)).action == "allow"       # the blocked 30 did not enter: 90
    other = Transfer("http", b"", user="bob", host="example.com")
    assert asyncio.run(decide_with_state(state, other, _scan_of(30, 80), full)).action == "allow"


def test_window_needs_a_person_in_the_current_transfer(full):
    state = MemoryState()
    t = Transfer("http", b"", user="alice", host="example.com")
    asyncio.run(decide_with_state(state, t, _scan_of(99), full))
    assert asyncio.run(decide_with_state(state, t, _scan_of(0), full)).action == "allow"


@pytest.mark.parametrize("text, message", [
    (b"version: 1\nrules:\n  - {name: a, when: {window: {persons: 5, period: forever}}, action: block}\n",
     "3:51: rules.0.when.window.period: 'forever' is not a valid duration"),
    (b"version: 1\nexceptions:\n  - {name: e, rules: [nope]}\n", "3:23: unknown rule 'nope'"),
    (b"version: 1\nstate: {backend: redis, url: http://x}\n", "state.url: 'http://x' does not match"),
    (b"version: 1\nrules:\n  - {name: departed-account, when: {persons: 1}, action: log}\n", "is reserved"),
])
def test_policy_semantic_errors(text, message):
    with pytest.raises(ConfigError) as e:
        parse_policy(text, "c.yaml")
    assert message in str(e.value)


# -- tunnels ---------------------------------------------------------------------------------

def test_tunnels_default_to_refusing_everything():
    tunnels = parse_policy(b"version: 1\n", "min.yaml").tunnels
    assert tunnels.allow == () and tunnels.inspect is False and tunnels.carry == 64 * 2**10
    assert not tunnels.allows("example.com", 443)


def test_tunnel_globs_match_host_case_insensitively_and_port():
    tunnels = parse_policy(b'version: 1\ntunnels: {allow: ["MX.Example.com:25", "*.example.net:*", '
                           b'"10.0.0.5:2?", "[2001:db8::1]:22"], inspect: true, carry: 1KiB}\n').tunnels
    assert tunnels.inspect and tunnels.carry == 1024
    assert tunnels.allows("mx.example.COM", 25) and not tunnels.allows("mx.example.com", 587)
    assert tunnels.allows("a.b.example.net", 8443) and not tunnels.allows("example.net", 443)
    assert tunnels.allows("10.0.0.5", 22) and not tunnels.allows("10.0.0.5", 220)
    assert tunnels.allows("2001:DB8::1", 22) and not tunnels.allows("2001:db8::2", 22)


@pytest.mark.parametrize("text, message", [
    (b'version: 1\ntunnels: {allow: ["mx.example.com"]}\n',
     "2:19: tunnels.allow.0: 'mx.example.com' is not a host:port glob"),
    (b'version: 1\ntunnels: {allow: ["a b:25"]}\n', "is not a host:port glob"),
    (b'version: 1\ntunnels: {allow: ["mx.example.com:99999"]}\n', "2:19: port 99999 of 'mx.example.com:99999' is not"),
    (b"version: 1\ntunnels: {inspect: yes please}\n", "tunnels.inspect: 'yes please' is not of type 'boolean'"),
    (b"version: 1\ntunnels: {carry: lots}\n", "tunnels.carry: 'lots' is not a valid size"),
    (b"version: 1\ntunnels: {passthrough: true}\n", "unknown key 'passthrough' in tunnels"),
])
def test_tunnel_config_errors(text, message):
    with pytest.raises(ConfigError) as e:
        parse_policy(text, "c.yaml")
    assert message in str(e.value)
