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
    pol = parse_policy(b"version: 1\nallow_no_stopping_rules: true\n", "min.yaml")
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


# -- windows over several subjects, and names in any letter case -----------------------------

BOTH = b"""
version: 1
identity: {departed: [Taro.Yamada, "t.yamada@Private.Example"]}
rules:
  - {name: drip, when: {window: {persons: 100, period: 24h, per: [user, client_ip]}}, action: block}
  - name: bank-only
    scope: {users: ["HR-*"]}
    when: {persons: 50}
    action: quarantine
exceptions:
  - {name: payroll, users: ["HR-Batch"], rules: [bank-only]}
"""


@pytest.fixture
def both():
    return parse_policy(BOTH, "both.yaml")


def _run(state: MemoryState, pol, r: ScanResult, user: str | None, ip: str = "10.0.0.1", protocol: str = "http"):
    t = Transfer(protocol, b"", user=user, host="example.com", client_ip=ip)
    return asyncio.run(decide_with_state(state, t, r, pol))


def test_per_accepts_one_key_or_a_list():
    def per(value: str):
        text = (f"version: 1\nallow_no_stopping_rules: true\n"
                f"rules: [{{name: d, when: {{window: {{persons: 5, period: 1d{value}}}}}, action: log}}]\n")
        return parse_policy(text.encode()).rules[0].when.window.per

    assert per("") == ("user",)
    assert per(", per: user") == ("user",)
    assert per(", per: client_ip") == ("client_ip",)
    assert per(", per: [user, client_ip]") == ("user", "client_ip")
    assert per(", per: [client_ip]") == ("client_ip",)


def test_a_rotating_claimed_user_still_fills_the_client_ip_window(both):
    state = MemoryState()
    # 30 new persons a time under a new name each time, all from one machine
    actions = [_run(state, both, _scan_of(30, 30 * i), user=f"claim-{i}").action for i in range(4)]
    assert actions == ["allow", "allow", "allow", "block"]           # 120 >= 100 in ip:10.0.0.1
    # the same rotation from another machine starts its own count
    assert _run(state, both, _scan_of(30, 1000), user="claim-9", ip="10.0.0.2").action == "allow"


def test_the_user_window_matches_across_machines(both):
    state = MemoryState()
    assert [_run(state, both, _scan_of(40, 40 * i), user="alice", ip=f"10.0.1.{i}").action
            for i in range(3)] == ["allow", "allow", "block"]          # 120 in user:alice, 40 per IP


def test_a_transfer_that_leaves_is_recorded_in_every_subject_window(both):
    state = MemoryState()
    import time
    assert _run(state, both, _scan_of(30), user="alice").action == "allow"
    now = time.time()
    assert state.count_now("user:alice", [], 86400, now) == 30
    assert state.count_now("ip:10.0.0.1", [], 86400, now) == 30
    # blocked persons enter no window
    assert _run(state, both, _scan_of(80, 500), user="alice").action == "block"
    assert state.count_now("user:alice", [], 86400, now) == 30
    assert state.count_now("ip:10.0.0.1", [], 86400, now) == 30


def test_without_a_user_the_two_subjects_are_one_window(both):
    state = MemoryState()
    assert _run(state, both, _scan_of(60), user=None).action == "allow"
    assert _run(state, both, _scan_of(30, 60), user=None).action == "allow"   # 90, not 180
    assert _run(state, both, _scan_of(20, 90), user=None).action == "block"   # 110
    assert set(state._windows) == {"ip:10.0.0.1"}


def test_a_user_window_ignores_letter_case(both):
    state = MemoryState()
    assert _run(state, both, _scan_of(60), user="Alice", ip="10.0.0.1").action == "allow"
    assert _run(state, both, _scan_of(60, 60), user="ALICE", ip="10.0.0.2").action == "block"
    assert "user:alice" in state._windows


def test_websocket_and_mail_add_to_the_same_windows_as_http(both):
    state = MemoryState()
    assert _run(state, both, _scan_of(40), user="alice", protocol="http").action == "allow"
    assert _run(state, both, _scan_of(40, 40), user="alice", protocol="websocket").action == "allow"
    assert _run(state, both, _scan_of(40, 80), user="alice", protocol="smtp").action == "block"


def test_departed_accounts_match_in_any_letter_case(both):
    assert both.identity.departed == frozenset({"taro.yamada", "t.yamada@private.example"})
    for user in ("taro.yamada", "TARO.YAMADA", "Taro.Yamada"):
        d = decide(result(persons=0), both, ctx(user=user))
        assert d.action == "block" and d.rules == ("departed-account",) and d.severity == "critical"
    assert decide(result(persons=0), both, ctx(user="taro.yamada2")).action == "allow"


def test_a_departed_envelope_sender_is_blocked_whoever_authenticated(both):
    # no AUTH: the envelope sender is the user; with AUTH, the sender is still checked
    for user in ("T.Yamada@private.example", "alice"):
        c = ctx(protocol="smtp", user=user, sender="T.YAMADA@Private.Example")
        d = decide(result(persons=0), both, c)
        assert d.action == "block" and d.rules[0] == "departed-account" and d.severity == "critical"
    assert decide(result(persons=0), both, ctx(protocol="smtp", user="alice", sender="alice@example.jp")).action \
        == "allow"


def test_scope_and_exception_users_match_in_any_letter_case(both):
    r = result(persons=60)
    assert decide(r, both, ctx(user="hr-payroll")).action == "quarantine"     # scope HR-* covers hr-payroll
    assert decide(r, both, ctx(user="HR-PAYROLL")).action == "quarantine"
    assert decide(r, both, ctx(user="sales")).action == "allow"               # out of scope
    d = decide(r, both, ctx(user="hr-BATCH"))                                  # exception HR-Batch
    assert d.action == "allow" and d.exception == "payroll" and d.rules == ("bank-only",)


def test_a_context_keeps_its_names_casefolded():
    c = Context("smtp", user="Taro.Yamada", sender="Taro@Example.JP")
    assert (c.user, c.sender) == ("taro.yamada", "taro@example.jp")
    assert c.subjects(("user", "client_ip")) == ("user:taro.yamada", "ip:-")


def test_an_approval_is_for_the_user_in_any_letter_case():
    from dlp.runtime import approval_key
    assert approval_key("Alice", "Drive.Example.com", "ab") == approval_key("alice", "drive.example.com", "ab")
    assert approval_key("alice", "drive.example.com", "ab") != approval_key("bob", "drive.example.com", "ab")


@pytest.mark.parametrize("text, message", [
    (b"version: 1\nrules:\n  - {name: a, when: {window: {persons: 5, period: 1d, per: []}}, action: block}\n",
     "3:60: rules.0.when.window.per: [] should be non-empty"),
    (b"version: 1\nrules:\n  - {name: a, when: {window: {persons: 5, period: 1d, per: [user, user]}}, action: block}\n",
     "3:60: rules.0.when.window.per: ['user', 'user'] has non-unique elements"),
    (b"version: 1\nrules:\n  - {name: a, when: {window: {persons: 5, period: 1d, per: [user, host]}}, action: block}\n",
     "3:67: rules.0.when.window.per.1: 'host' is not one of user, client_ip"),
    (b"version: 1\nrules:\n  - {name: a, when: {window: {persons: 5, period: 1d, per: host}}, action: block}\n",
     "3:60: rules.0.when.window.per: 'host' is not one of user, client_ip"),
    (b"version: 1\nidentity: {trusted_network: [10.0.0.0/8]}\n",
     "2:12: unknown key 'trusted_network' in identity (allowed: departed, header, trusted_networks)"),
    (b"version: 1\nidentity: {trusted_networks: [10.0.0.5/8]}\n",
     "2:31: identity.trusted_networks: '10.0.0.5/8' has host bits set (the network is 10.0.0.0/8)"),
    (b"version: 1\nidentity:\n  trusted_networks: [10.0.0.0/8, 'fd00::/8', 'fd00::1/8']\n",
     "3:46: identity.trusted_networks: 'fd00::1/8' has host bits set (the network is fd00::/8)"),
    (b"version: 1\nidentity: {trusted_networks: [intranet]}\n",
     "2:31: identity.trusted_networks: 'intranet' is not an IPv4 or IPv6 network"),
    (b"version: 1\nidentity: {trusted_networks: [10.0.0.0/8, 10.0.0.0/8]}\n",
     "2:30: identity.trusted_networks: ['10.0.0.0/8', '10.0.0.0/8'] has non-unique elements"),
])
def test_identity_and_window_subject_errors(text, message):
    with pytest.raises(ConfigError) as e:
        parse_policy(text, "c.yaml")
    assert f"c.yaml:{message}" in str(e.value)


# -- tunnels ---------------------------------------------------------------------------------

def test_tunnels_default_to_refusing_everything():
    tunnels = parse_policy(b"version: 1\nallow_no_stopping_rules: true\n", "min.yaml").tunnels
    assert tunnels.allow == () and tunnels.inspect is False and tunnels.carry == 64 * 2**10
    assert not tunnels.allows("example.com", 443)


def test_tunnel_globs_match_host_case_insensitively_and_port():
    tunnels = parse_policy(b'version: 1\nallow_no_stopping_rules: true\n'
                           b'tunnels: {allow: ["MX.Example.com:25", "*.example.net:*", '
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
