"""The Received: line: what MTAs add, on one line, and no personal data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dlp.mail import trace

WHEN = datetime(2026, 11, 27, 10, 0, 0, tzinfo=timezone(timedelta(hours=9)))


def test_received_line():
    line = trace.received(helo="mta.example.jp", client_ip="192.0.2.7", by="dlp1", with_="ESMTPS",
                          txid="ABC123", when=WHEN)
    assert line == (b"Received: from mta.example.jp ([192.0.2.7]) by dlp1 (Sekimori) with ESMTPS id ABC123; "
                    b"Fri, 27 Nov 2026 10:00:00 +0900\r\n")


def test_hostile_helo_stays_on_one_ascii_line():
    line = trace.received(helo="x\r\nBcc: all@example.com (山田)", client_ip=None, by="dlp1", with_="SMTP",
                          txid="A", when=WHEN)
    assert line.count(b"\r\n") == 1 and line.endswith(b"\r\n") and b"\nBcc" not in line
    assert b"[unknown]" in line and line.isascii()
    assert len(trace.received(helo="a" * 5000, client_ip="::1", by="h", with_="SMTP", txid="A", when=WHEN)) < 400


def test_address_literals():
    assert trace.address_literal("2001:db8::1") == "[IPv6:2001:db8::1]"
    assert trace.address_literal("::ffff:192.0.2.1") == "[192.0.2.1]"
    assert trace.address_literal("nonsense") == "[unknown]"


def test_protocol_keywords():
    assert trace.protocol(esmtp=False, tls=True, authenticated=True, smtputf8=False) == "SMTP"
    assert trace.protocol(esmtp=True, tls=False, authenticated=False, smtputf8=False) == "ESMTP"
    assert trace.protocol(esmtp=True, tls=True, authenticated=True, smtputf8=False) == "ESMTPSA"
    assert trace.protocol(esmtp=True, tls=True, authenticated=False, smtputf8=True) == "UTF8SMTPS"


def test_hops_count_received_headers_of_the_header_section_only():
    msg = b"Received: a\r\nRECEIVED: b\r\n c\r\nSubject: x\r\n\r\nReceived: in the body\r\n"
    assert trace.hops(msg) == 2
    assert trace.hops(b"Received: x\r\n") == 1
