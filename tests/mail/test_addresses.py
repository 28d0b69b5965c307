"""Envelope address checks and HOST:PORT parsing."""

from __future__ import annotations

import pytest

from dlp.mail.addresses import address_problem, hostport


@pytest.mark.parametrize(("value", "expected"), [
    ("127.0.0.1:25", ("127.0.0.1", 25)),
    ("[::1]:2525", ("::1", 2525)),
    ("mx.example.jp", ("mx.example.jp", 25)),
    ("::1", ("::1", 25)),
    ("[2001:db8::1]", ("2001:db8::1", 25)),
])
def test_hostport(value, expected):
    assert hostport(value) == expected


def test_address_problems():
    assert address_problem("a@example.jp", smtputf8=False) is None
    assert address_problem("山田@例え.jp", smtputf8=True) is None
    assert address_problem("山田@例え.jp", smtputf8=False).startswith("553 5.6.7")
    assert address_problem("a\r\nRCPT TO:<x@y>@example.jp", smtputf8=False).startswith("553 5.1.3")
    assert address_problem(b"\xff@x.jp".decode("utf-8", "surrogateescape"), smtputf8=True).startswith("553 5.1.3")
