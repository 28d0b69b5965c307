"""The client towards the next-hop MTA (and ``deliver``, the release of a held message):
verdicts, TLS modes and refusals against a real aiosmtpd upstream."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from servers import free_port

from dlp.config import SmtpSettings
from dlp.mail import DeliveryError, deliver, deliver_sync
from dlp.mail.upstream import NO_TLS, Outgoing, relay
from mail.peers import Sink, plain_message


def settings(port: int, starttls: str = "none") -> SmtpSettings:
    return SmtpSettings(listen="127.0.0.1:0", upstream=f"127.0.0.1:{port}", upstream_starttls=starttls)


def send(port: int, msg: Outgoing, starttls: str = "none"):
    return asyncio.run(relay(settings(port, starttls), msg))


MSG = Outgoing("s@example.jp", ("d@example.com",), plain_message("hello"))


@pytest.fixture
def tls_sink(upstream_certs):
    s = Sink(tls=upstream_certs).start()
    yield s
    s.stop()


def test_deliver_sends_exactly_the_held_bytes_once(sink):
    data = plain_message("held message\n-- \n山田\n", charset="iso-2022-jp", cte="7bit")
    asyncio.run(deliver(settings(sink.port), "s@example.jp", ["a@example.com", "b@example.com"], data))
    [got] = sink.wait(1)
    assert got.data == data and got.sender == "s@example.jp"
    assert got.recipients == ["a@example.com", "b@example.com"]
    assert "BODY=8BITMIME" not in got.mail_options  # 7-bit data


def test_deliver_sync_and_inferred_parameters(sink):
    data = plain_message("8ビット", charset="utf-8")
    deliver_sync(settings(sink.port), "送信者@例え.jp", ["d@example.com"], data)
    [got] = sink.received
    assert got.data == data and {"SMTPUTF8", "BODY=8BITMIME"} <= set(got.mail_options)


def test_deliver_raises_with_the_upstream_reply(sink):
    sink.refuse["d@example.com"] = "550 5.1.1 No such user"
    with pytest.raises(DeliveryError) as e:
        asyncio.run(deliver(settings(sink.port), "s@example.jp", ["d@example.com"], b"x\r\n"))
    assert e.value.reply.code == 550 and sink.received == []


def test_deliver_raises_when_upstream_is_down():
    with pytest.raises(DeliveryError) as e:
        asyncio.run(deliver(settings(free_port()), "s@example.jp", ["d@example.com"], b"x\r\n"))
    assert e.value.reply.code == 451


def test_success_is_the_upstreams_reply(sink):
    reply = send(sink.port, MSG)
    assert (reply.code, reply.text) == (250, "2.0.0 Ok: queued as SINK1")


@pytest.mark.parametrize(("answer", "code"), [
    ("554 5.6.0 Content rejected", 554),
    ("452 4.3.1 Insufficient system storage", 452),
    ("421 4.3.2 Shutting down", 451),
])
def test_data_refusals_keep_their_class(sink, answer, code):
    sink.data_reply = answer
    reply = send(sink.port, MSG)
    assert reply.code == code and answer[4:] in reply.text


def test_partial_refusal_refuses_the_whole_message_temporarily_if_any_refusal_is_temporary(sink):
    sink.refuse["perm@example.com"] = "550 5.1.1 No such user"
    sink.refuse["temp@example.com"] = "450 4.2.1 Mailbox busy"
    reply = send(sink.port, Outgoing("s@example.jp", ("ok@example.com", "perm@example.com", "temp@example.com"),
                                     b"x\r\n"))
    assert reply.code == 450 and "<temp@example.com> and 1 more of 3 recipients" in reply.text
    assert sink.received == []


def test_rcpt_421_is_a_lost_connection(sink):
    sink.refuse["d@example.com"] = "421 4.3.2 Bye"
    assert send(sink.port, MSG).code == 451 and sink.received == []


def test_sender_refusal(sink):
    sink.mail_reply = "553 5.7.1 Sender not allowed"
    reply = send(sink.port, MSG)
    assert (reply.code, reply.text) == (553, "5.7.1 Sender not allowed")


def test_tls_modes(tls_sink, sink):
    assert send(tls_sink.port, MSG, "opportunistic").ok and tls_sink.received[-1].tls
    assert send(tls_sink.port, MSG, "required").ok and tls_sink.received[-1].tls
    assert send(tls_sink.port, MSG, "none").ok and not tls_sink.received[-1].tls
    assert send(sink.port, MSG, "opportunistic").ok and not sink.received[-1].tls
    assert send(sink.port, MSG, "required") == NO_TLS
    assert len(sink.received) == 1  # nothing went out in clear text under "required"


def test_failed_handshake_falls_back_to_plain_only_when_opportunistic(upstream_certs):
    # a TLS 1.2 server that demands a client certificate: the handshake fails
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(upstream_certs[0]), str(upstream_certs[1]))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(str(upstream_certs[0]))
    sink = Sink(tls_context=ctx).start()
    try:
        failed = send(sink.port, MSG, "required")
        assert failed.code == 451 and failed.text.startswith("4.7.5") and sink.received == []
        assert send(sink.port, MSG, "opportunistic").ok
        assert [d.tls for d in sink.received] == [False]
    finally:
        sink.stop()
