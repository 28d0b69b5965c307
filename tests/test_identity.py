"""Who sent a request: proxyauth always, the user header only from trusted networks."""

from __future__ import annotations

import pytest

from dlp.config import parse_policy
from dlp.identity import resolve_user, trusted, user_key

HEADER = "X-Authenticated-User"


def identity(networks: str = "[10.0.0.0/8, 'fd00:1::/32']", header: str = HEADER):
    return parse_policy(f"version: 1\nallow_no_stopping_rules: true\n"
                        f"identity: {{header: {header}, trusted_networks: {networks}}}\n".encode()).identity


@pytest.mark.parametrize("client_ip, believed", [
    ("10.1.2.3", True),
    ("10.255.255.255", True),
    ("11.0.0.1", False),
    ("127.0.0.1", False),
    ("fd00:1::7", True),
    ("fd00:1:ffff:ffff::1", True),
    ("fd00:2::7", False),
    ("::ffff:10.1.2.3", True),       # an IPv4 client on a dual-stack socket
    ("::ffff:11.0.0.1", False),
    ("::1", False),
    ("not an address", False),
    ("", False),
    (None, False),
])
def test_the_header_is_believed_only_from_trusted_networks(client_ip, believed):
    got = resolve_user(None, "hanako", client_ip, identity())
    assert got == ("hanako" if believed else None)


def test_without_trusted_networks_the_header_is_never_believed():
    pol = parse_policy(f"version: 1\nidentity: {{header: {HEADER}}}\n"
                       "rules: [{name: bulk, when: {persons: 1000}, action: block}]\n".encode(), "p.yaml")
    assert pol.identity.trusted_networks == ()
    assert resolve_user(None, "hanako", "127.0.0.1", pol.identity) is None
    # and the policy says so, at the header's position (check-config prints it, dlp run logs it)
    assert [str(w) for w in pol.warnings] == [
        f"p.yaml:2:20: warning: identity.header {HEADER} is ignored: identity.trusted_networks is empty "
        "(any client could claim any user)"]


def test_without_a_header_name_no_value_is_read():
    assert resolve_user(None, "hanako", "10.0.0.1", identity(header='""')) is None


def test_proxyauth_wins_over_the_header_and_needs_no_trusted_network():
    ident = identity()
    assert resolve_user("Taro", "hanako", "10.1.2.3", ident) == "Taro"
    assert resolve_user("Taro", "hanako", "203.0.113.9", ident) == "Taro"
    assert resolve_user("Taro", None, None, identity("[]")) == "Taro"


def test_an_empty_or_blank_claim_is_no_user():
    assert resolve_user(None, "", "10.0.0.1", identity()) is None
    assert resolve_user(None, "   ", "10.0.0.1", identity()) is None
    assert resolve_user(None, " hanako ", "10.0.0.1", identity()) == "hanako"


def test_the_spelling_is_kept_and_the_key_is_casefolded():
    assert resolve_user(None, "Hanako.Sato", "10.0.0.1", identity()) == "Hanako.Sato"   # for incidents
    assert user_key("Hanako.Sato") == user_key("HANAKO.SATO") == "hanako.sato"
    assert user_key("STRASSE") == user_key("Straße")                                    # casefold, not lower


def test_trusted_takes_any_iterable_of_networks():
    import ipaddress
    nets = [ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::/32")]
    assert trusted("192.0.2.10", nets) and trusted("2001:db8::1", nets)
    assert not trusted("198.51.100.1", nets) and not trusted("2001:db9::1", nets)
