"""The relay as a client sees it: smtplib against MailRelay, a recording upstream behind it,
verdicts chosen by the test."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import threading
import time

import pytest

from dlp.mail.limits import MAX_RECIPIENTS
from dlp.mail.server import MailRelay, RelayStartError
from mail.conftest import ScriptedRuntime, client_tls, policy_for
from mail.peers import plain_message, strip_received

SIGNATURE = ("いつもお世話になっております。\n資料をお送りします。\n\n-- \n山田 太郎\n"
             "株式会社サンプル 営業部\nTel: 03-1234-5678\n")


def test_allowed_mail_arrives_with_identical_bytes_and_one_received_line(sink, start_relay):
    r = start_relay(sink)
    msg = plain_message(SIGNATURE)
    with r.client() as c:
        c.ehlo("client.example.jp")
        c.mail("sender@example.jp")
        c.rcpt("dest@example.com")
        c.rcpt("other@example.net")
        code, text = c.data(msg)
    assert code == 250 and text == b"2.0.0 Ok: queued as SINK1"  # the upstream's verdict
    [got] = sink.received
    assert got.sender == "sender@example.jp" and got.recipients == ["dest@example.com", "other@example.net"]
    first, rest = strip_received(got.data)
    assert rest == msg
    assert first.startswith(b"Received: from client.example.jp ([127.0.0.1]) by ")
    assert b"(Sekimori) with ESMTP id " in first
    assert b"example.com" not in first and b"example.net" not in first and b"sender" not in first
    [transfer] = r.runtime.transfers
    assert transfer.protocol == "smtp" and transfer.content_type == "message/rfc822"
    assert transfer.body == msg  # the engine sees the message as submitted
    assert transfer.sender == "sender@example.jp" and transfer.user == "sender@example.jp"
    assert transfer.recipients == ("dest@example.com", "other@example.net")
    assert transfer.client_ip == "127.0.0.1" and transfer.host == "127.0.0.1"


def test_block_answers_550_with_rule_and_incident_and_upstream_gets_nothing(sink, start_relay):
    r = start_relay(sink)
    r.runtime.action, r.runtime.rules = "block", ("bulk-review", "bulk-personal-data")
    with r.client() as c, pytest.raises(smtplib.SMTPDataError) as e:
        c.sendmail("sender@example.jp", ["dest@example.com"], plain_message("x"))
    assert e.value.smtp_code == 550
    assert e.value.smtp_error == b"5.7.1 Blocked by Sekimori rule bulk-personal-data (incident INC1)"
    assert sink.received == [] and sink.connections == 0


def test_log_verdict_relays(sink, start_relay):
    r = start_relay(sink)
    r.runtime.action = "log"
    with r.client() as c:
        assert c.sendmail("s@example.jp", ["d@example.com"], plain_message("x")) == {}
    assert len(sink.received) == 1


def test_quarantine_answers_250_with_incident_and_holds_exact_bytes(sink, start_relay):
    r = start_relay(sink)
    r.runtime.action, r.runtime.rules = "quarantine", ("bulk-review",)
    msg = plain_message("名簿\n")
    with r.client() as c:
        c.ehlo()
        c.mail("sender@example.jp")
        c.rcpt("dest@example.com")
        code, text = c.data(msg)
    assert (code, text) == (250, b"2.0.0 Held for review by Sekimori (incident INC1)")
    [held] = r.runtime.held
    assert held.envelope == {"sender": "sender@example.jp", "recipients": ["dest@example.com"]}
    assert held.payload == msg  # as received: no Received: line
    assert sink.received == []


def test_quarantine_store_failure_refuses(sink, start_relay):
    r = start_relay(sink)
    r.runtime.action, r.runtime.rules, r.runtime.store_fails = "quarantine", ("bulk-review",), True
    with r.client() as c, pytest.raises(smtplib.SMTPDataError) as e:
        c.sendmail("s@example.jp", ["d@example.com"], plain_message("x"))
    assert e.value.smtp_error == b"5.7.1 Blocked by Sekimori rule bulk-review (incident INC1)"
    assert sink.received == []


def test_exception_in_inspection_is_451_and_the_session_goes_on(sink, start_relay, caplog):
    r = start_relay(sink)
    r.runtime.fail = UnicodeDecodeError("utf-8", b"\xff secret 090-1234-5678", 0, 1, "bad")
    with r.client() as c:
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("s@example.jp", ["d@example.com"], plain_message("x"))
        assert e.value.smtp_code == 451 and e.value.smtp_error.startswith(b"4.3.0 ")
        r.runtime.fail = None
        assert c.sendmail("s@example.jp", ["d@example.com"], plain_message("y")) == {}
    assert len(sink.received) == 1
    assert "UnicodeDecodeError" in caplog.text and "090-1234-5678" not in caplog.text


def test_several_messages_per_session_and_rset(sink, start_relay):
    r = start_relay(sink)
    with r.client() as c:
        c.ehlo()
        c.mail("a@example.jp")
        c.rcpt("x@example.com")
        assert c.rset()[0] == 250
        assert c.docmd("DATA")[0] == 503  # RSET forgot the envelope
        msgs = [plain_message(f"m{i}") for i in range(3)]
        for i, msg in enumerate(msgs):
            assert c.sendmail(f"s{i}@example.jp", [f"d{i}@example.com"], msg) == {}
    assert [d.sender for d in sink.received] == ["s0@example.jp", "s1@example.jp", "s2@example.jp"]
    assert [strip_received(d.data)[1] for d in sink.received] == msgs


def test_ehlo_advertises_what_a_standard_mta_does(start_relay, sink):
    r = start_relay(sink, max_message="1MiB")
    with r.client() as c:
        code, _ = c.ehlo("me.example.jp")
        assert code == 250
        for ext in ("size", "8bitmime", "smtputf8", "pipelining"):
            assert c.has_extn(ext), ext
        assert c.esmtp_features["size"] == str(2**20)
        assert not c.has_extn("starttls") and not c.has_extn("auth") and not c.has_extn("chunking")


def test_pipelining(sink, start_relay):
    r = start_relay(sink)
    msg = plain_message("pipelined")
    with socket.create_connection(("127.0.0.1", r.port), 10) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"220 ")
        s.sendall(b"EHLO p.example.jp\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        s.sendall(b"MAIL FROM:<s@example.jp>\r\nRCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        assert [f.readline()[:3] for _ in range(4)] == [b"250", b"250", b"250", b"354"]
        s.sendall(msg + b".\r\nMAIL FROM:<t@example.jp>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n")
        assert [f.readline()[:3] for _ in range(4)] == [b"250", b"250", b"250", b"354"]
        s.sendall(msg + b".\r\nQUIT\r\n")
        assert f.readline()[:3] == b"250" and f.readline()[:3] == b"221"
    assert [d.recipients for d in sink.received] == [["a@example.com", "b@example.com"], ["c@example.com"]]


def test_8bitmime_body_is_relayed_byte_for_byte(sink, start_relay):
    r = start_relay(sink)
    msg = plain_message("シフトJISの本文\n", charset="shift_jis")
    with r.client() as c:
        c.sendmail("s@example.jp", ["d@example.com"], msg, mail_options=["BODY=8BITMIME"])
    [got] = sink.received
    assert strip_received(got.data)[1] == msg and "BODY=8BITMIME" in got.mail_options


def test_smtputf8_addresses(sink, start_relay):
    r = start_relay(sink)
    with r.client() as c:
        c.ehlo()
        assert c.mail("送信者@例え.jp", ["SMTPUTF8"])[0] == 250
        assert c.rcpt("宛先@example.com")[0] == 250
        assert c.data(plain_message("utf8"))[0] == 250
    [got] = sink.received
    assert got.sender == "送信者@例え.jp" and got.recipients == ["宛先@example.com"]
    assert "SMTPUTF8" in got.mail_options
    assert strip_received(got.data)[0].split(b" with ")[1].startswith(b"UTF8SMTP id")


def test_smtputf8_refused_when_upstream_lacks_it(start_relay):
    from mail.peers import Sink
    sink = Sink(smtputf8=False).start()
    try:
        r = start_relay(sink)
        with r.client() as c, pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("送信者@例え.jp", ["d@example.com"], plain_message("x"), mail_options=["SMTPUTF8"])
        assert e.value.smtp_code == 550 and e.value.smtp_error.startswith(b"5.6.7")
        assert sink.received == []
    finally:
        sink.stop()


def test_size_limits(sink, start_relay):
    r = start_relay(sink, max_message="64KiB")
    with r.client() as c:
        c.ehlo()
        assert c.docmd("MAIL FROM:<s@example.jp> SIZE=10000000")[0] == 552
        c.rset()
        c.mail("s@example.jp")  # no SIZE parameter: the data itself is too much
        c.rcpt("d@example.com")
        assert c.data(plain_message("x" * 70 + "\n") * 1000)[0] == 552
        assert c.sendmail("s@example.jp", ["d@example.com"], plain_message("small")) == {}
    assert len(sink.received) == 1
    assert len(r.runtime.transfers) == 1  # the oversized message was never inspected or relayed


EHLO = b"EHLO x.example.jp"
MAIL = b"MAIL FROM:<s@example.jp>"


@pytest.mark.parametrize(("setup", "line", "code"), [
    ([], b"FOO bar", 500),
    ([], MAIL, 503),                                   # before EHLO
    ([], b"EHLO", 501),
    ([EHLO], b"RCPT TO:<d@example.com>", 503),         # before MAIL
    ([EHLO], b"DATA", 503),
    ([EHLO, MAIL], b"DATA", 503),                      # no recipient
    ([EHLO], b"MAIL FROM:<a@b@c>", 553),
    ([EHLO], b"MAIL TO:<s@example.jp>", 501),
    ([EHLO], MAIL + b" FOO=BAR", 555),
    ([EHLO], MAIL + b" BODY=9BIT", 501),
    ([EHLO], MAIL + b" SIZE=abc", 501),
    ([EHLO, MAIL], b"MAIL FROM:<t@example.jp>", 503),  # nested
    ([EHLO, MAIL], b"RCPT TO:<d@example.com> NOTIFY=NEVER", 555),
    ([EHLO, MAIL], b"RCPT TO:<bad\x01@example.com>", 553),
    ([EHLO, MAIL], b"RCPT TO:<\xff\xfe@example.com>", 553),
    ([EHLO], "MAIL FROM:<送信者@例え.jp>".encode(), 553),  # non-ASCII without SMTPUTF8
    ([EHLO], b"BDAT 10 LAST", 500),                    # CHUNKING is not offered
    ([EHLO], b"AUTH PLAIN AGFiYwB4eXo=", 502),         # AUTH is not offered
    ([EHLO], b"X" * 2000, 500),
    ([], b"\x00\x01\x02", 500),
    ([EHLO], b"STARTTLS", 454),                         # no certificate configured (RFC 3207)
    ([EHLO], b"VRFY someone", 252),
])
def test_malformed_commands_get_standard_replies(sink, start_relay, setup, line, code):
    r = start_relay(sink)
    with socket.create_connection(("127.0.0.1", r.port), 10) as s:
        f = s.makefile("rb")
        assert _read_reply(f).startswith(b"220 ")
        for command in setup:
            s.sendall(command + b"\r\n")
            assert _read_reply(f).startswith(b"250")
        s.sendall(line + b"\r\n")
        assert int(_read_reply(f)[:3]) == code
        s.sendall(b"NOOP\r\n")
        assert _read_reply(f).startswith(b"250")  # the session survives
    with r.client() as c:  # and so does the relay
        assert c.sendmail("s@example.jp", ["d@example.com"], plain_message("after")) == {}


def test_binary_garbage_and_abrupt_disconnects_do_not_hurt_the_relay(sink, start_relay):
    import os
    r = start_relay(sink)
    for chunk in (os.urandom(5000), b"EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\nhalf a mess"):
        with socket.create_connection(("127.0.0.1", r.port), 10) as s:
            s.sendall(chunk)
    with r.client() as c:
        assert c.sendmail("s@example.jp", ["d@example.com"], plain_message("still here")) == {}
    assert len(sink.received) == 1


def _read_reply(f) -> bytes:
    while True:
        line = f.readline()
        if line[3:4] != b"-":
            return line


def test_too_many_recipients(sink, start_relay):
    r = start_relay(sink)
    with r.client() as c:
        c.ehlo()
        c.mail("s@example.jp")
        for i in range(MAX_RECIPIENTS):
            assert c.rcpt(f"d{i}@example.com")[0] == 250
        assert c.rcpt("one-more@example.com") == (452, b"4.5.3 Too many recipients")


def test_null_sender_is_relayed(sink, start_relay):
    r = start_relay(sink)
    with r.client() as c:
        assert c.sendmail("<>", ["d@example.com"], plain_message("bounce")) == {}
    [got] = sink.received
    assert got.sender == "<>"
    assert r.runtime.transfers[0].sender is None and r.runtime.transfers[0].user is None


def test_starttls_from_client_and_to_upstream(start_relay, certs, upstream_certs):
    from mail.peers import Sink
    sink = Sink(tls=upstream_certs).start()
    try:
        r = start_relay(sink, upstream_starttls="required", tls={"cert": str(certs[0]), "key": str(certs[1])})
        with r.client("localhost") as c:
            c.ehlo()
            assert c.has_extn("starttls")
            c.starttls(context=client_tls(certs))
            c.ehlo()
            assert c.sendmail("s@example.jp", ["d@example.com"], plain_message("tls")) == {}
        [got] = sink.received
        assert got.tls
        assert b" with ESMTPS id " in strip_received(got.data)[0]
    finally:
        sink.stop()


def test_implicit_tls_listener(sink, start_relay, certs):
    import ssl

    from servers import free_port
    port = free_port()
    r = start_relay(sink, tls={"cert": str(certs[0]), "key": str(certs[1]),
                               "implicit_listen": f"127.0.0.1:{port}"})
    assert len(r.relay.addresses) == 2
    with smtplib.SMTP_SSL("localhost", port, context=client_tls(certs), timeout=30) as c:
        c.ehlo()
        assert not c.has_extn("starttls")
        assert c.sendmail("s@example.jp", ["d@example.com"], plain_message("465")) == {}
        assert isinstance(c.sock, ssl.SSLSocket)
    assert b" with ESMTPS id " in strip_received(sink.received[0].data)[0]


def test_port_in_use_is_a_clear_start_error(loop, sink):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        pol = policy_for({"listen": f"127.0.0.1:{port}", "upstream": f"127.0.0.1:{sink.port}"})
        relay = MailRelay(ScriptedRuntime(pol), pol.smtp)
        with pytest.raises(RelayStartError, match=rf"cannot listen on 127.0.0.1:{port} \(smtp.listen\): "
                                                  "address already in use"):
            loop.run(relay.start())


def test_bad_certificate_is_a_clear_start_error(loop, sink, tmp_path):
    pol = policy_for({"listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{sink.port}",
                      "tls": {"cert": str(tmp_path / "missing.pem"), "key": str(tmp_path / "missing.key")}})
    with pytest.raises(RelayStartError, match=r"smtp\.tls: cannot load certificate"):
        loop.run(MailRelay(ScriptedRuntime(pol), pol.smtp).start())


def test_upstream_refusal_reaches_the_client_and_nothing_is_half_delivered(sink, start_relay):
    sink.refuse["nobody@example.com"] = "550 5.1.1 <nobody@example.com>: Recipient address rejected"
    r = start_relay(sink)
    with r.client() as c:
        c.ehlo()
        c.mail("s@example.jp")
        c.rcpt("d@example.com")
        c.rcpt("nobody@example.com")
        code, text = c.data(plain_message("x"))
    assert code == 550 and text.startswith(b"5.1.1 <nobody@example.com>: Recipient address rejected")
    assert b"nothing was relayed" in text
    assert sink.received == []


def test_upstream_down_is_a_temporary_failure(start_relay):
    r = start_relay(None)  # nothing listens on the upstream port
    with r.client() as c, pytest.raises(smtplib.SMTPDataError) as e:
        c.sendmail("s@example.jp", ["d@example.com"], plain_message("x"))
    assert e.value.smtp_code == 451 and e.value.smtp_error.startswith(b"4.4.1")


def test_stop_closes_idle_sessions(sink, start_relay):
    r = start_relay(sink)
    c = r.client()
    c.ehlo()
    r.loop.run(r.relay.stop())
    with pytest.raises(smtplib.SMTPServerDisconnected):
        c.noop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", r.port), 2)


def test_helo_session(sink, start_relay):
    r = start_relay(sink)
    with r.client() as c:
        assert c.helo("old.example.jp")[0] == 250
        assert c.sendmail("s@example.jp", ["d@example.com"], plain_message("helo")) == {}
    assert strip_received(sink.received[0].data)[0].startswith(b"Received: from old.example.jp ([127.0.0.1]) by ")
    assert b" with SMTP id " in strip_received(sink.received[0].data)[0]


def test_stop_lets_a_transaction_past_data_finish(sink, start_relay):
    r = start_relay(sink)
    inner = r.runtime.inspect

    async def slow(transfer, held=None):
        await asyncio.sleep(1)
        return await inner(transfer, held)
    r.runtime.inspect = slow
    result: list = []

    def send():
        with r.client() as c:
            c.ehlo()
            c.mail("s@example.jp")
            c.rcpt("d@example.com")
            result.append(c.data(plain_message("in flight")))

    t = threading.Thread(target=send)
    t.start()
    deadline = time.monotonic() + 5
    while not r.runtime.transfers and time.monotonic() < deadline:
        time.sleep(0.02)
    r.loop.run(r.relay.stop())  # while the message is being inspected
    t.join(10)
    assert result and result[0][0] == 250 and len(sink.received) == 1


def test_mail_loop_is_refused(sink, start_relay):
    from dlp.mail.limits import MAX_HOPS
    r = start_relay(sink)
    looped = b"".join(b"Received: from a by b; Fri, 27 Nov 2026 10:00:00 +0900\r\n" for _ in range(MAX_HOPS + 1))
    with r.client() as c, pytest.raises(smtplib.SMTPDataError) as e:
        c.sendmail("s@example.jp", ["d@example.com"], looped + plain_message("x"))
    assert e.value.smtp_code == 554 and e.value.smtp_error.startswith(b"5.4.6")
    assert sink.received == [] and r.runtime.transfers == []
