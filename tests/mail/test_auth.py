"""SMTP AUTH for submitters: the htpasswd file, the mechanisms, and the identity it gives."""

from __future__ import annotations

import asyncio
import base64
import smtplib

import bcrypt
import pytest

from dlp.mail.auth import AuthConfigError, Htpasswd
from dlp.mail.server import MailRelay, RelayStartError
from mail.conftest import ScriptedRuntime, client_tls, policy_for
from mail.peers import plain_message, strip_received


@pytest.fixture(scope="module")
def htpasswd(tmp_path_factory):
    path = tmp_path_factory.mktemp("auth") / "smtp.htpasswd"
    hashed = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    path.write_text(f"# submitters\nalice:{hashed}\n\n")
    return path


def test_load_and_verify(htpasswd):
    users = Htpasswd.load(str(htpasswd))
    assert list(users.users) == ["alice"]
    assert asyncio.run(users.verify(b"alice", b"correct horse")) == "alice"
    assert asyncio.run(users.verify(b"alice", b"wrong")) is None
    assert asyncio.run(users.verify(b"mallory", b"correct horse")) is None
    assert asyncio.run(users.verify(b"\xff", b"x")) is None


@pytest.mark.parametrize("line", ["alice", "alice:{SHA}abc", ":$2y$05$abc", "bob:$apr1$x$y"])
def test_unsupported_lines_are_refused_with_their_line_number(tmp_path, line):
    path = tmp_path / "h"
    path.write_text(f"# comment\n{line}\n")
    with pytest.raises(AuthConfigError, match=r":2: expected user:bcrypt-hash"):
        Htpasswd.load(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(AuthConfigError, match="cannot read"):
        Htpasswd.load(str(tmp_path / "none"))


def test_required_without_htpasswd_does_not_start(loop, sink):
    pol = policy_for({"listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{sink.port}", "auth": {"required": True}})
    with pytest.raises(RelayStartError, match=r"smtp\.auth\.required"):
        loop.run(MailRelay(ScriptedRuntime(pol), pol.smtp).start())


def _tls(certs):
    return {"cert": str(certs[0]), "key": str(certs[1])}


def test_auth_after_starttls_becomes_the_user(sink, start_relay, certs, htpasswd):
    r = start_relay(sink, tls=_tls(certs), auth={"htpasswd": str(htpasswd)})
    with r.client("localhost") as c:
        c.ehlo()
        assert not c.has_extn("auth")  # passwords only inside TLS
        assert c.docmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0correct horse").decode())[0] == 538
        c.starttls(context=client_tls(certs))
        c.ehlo()
        assert set(c.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN"}
        c.login("alice", "correct horse")
        assert c.sendmail("sender@example.jp", ["d@example.com"], plain_message("x")) == {}
    assert r.runtime.transfers[0].user == "alice" and r.runtime.transfers[0].sender == "sender@example.jp"
    received = strip_received(sink.received[0].data)[0]
    assert b" with ESMTPSA id " in received and b"alice" not in received


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_mechanisms_and_wrong_passwords(sink, start_relay, certs, htpasswd, mechanism):
    r = start_relay(sink, tls=_tls(certs), auth={"htpasswd": str(htpasswd)})
    with r.client("localhost") as c:
        c.starttls(context=client_tls(certs))
        c.ehlo()
        c.user, c.password = "alice", "nope"
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            c.auth(mechanism, getattr(c, f"auth_{mechanism.lower()}"))
        assert e.value.smtp_code == 535
        c.user, c.password = "alice", "correct horse"
        assert c.auth(mechanism, getattr(c, f"auth_{mechanism.lower()}"))[0] == 235


def test_auth_required_refuses_anonymous_mail(sink, start_relay, certs, htpasswd):
    r = start_relay(sink, tls=_tls(certs), auth={"htpasswd": str(htpasswd), "required": True})
    with r.client("localhost") as c:
        c.starttls(context=client_tls(certs))
        c.ehlo()
        assert c.docmd("MAIL FROM:<s@example.jp>")[0] == 530
        c.login("alice", "correct horse")
        assert c.sendmail("s@example.jp", ["d@example.com"], plain_message("x")) == {}
    assert len(sink.received) == 1


def test_auth_without_tls_is_offered_in_clear_with_a_warning(sink, start_relay, htpasswd, caplog):
    r = start_relay(sink, auth={"htpasswd": str(htpasswd)})
    assert "passwords travel in clear text" in caplog.text
    with r.client() as c:
        c.ehlo()
        assert c.has_extn("auth")
        c.login("alice", "correct horse")
        c.sendmail("s@example.jp", ["d@example.com"], plain_message("x"))
    assert r.runtime.transfers[0].user == "alice"
