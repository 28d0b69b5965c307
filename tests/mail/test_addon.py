"""The mitmproxy addon: starts the relay in ``running`` only when smtp.listen is set, stops it
in ``done``, and reports a relay that cannot listen as a startup error."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import socket

import pytest
from servers import free_port

from addons.mail import SekimoriMail
from mail.conftest import ScriptedRuntime, policy_for


def test_mail_path_off_without_listen(loop):
    addon = SekimoriMail(ScriptedRuntime(policy_for({})))
    loop.run(addon.running())
    assert addon.relay is None and addon.startup_error is None
    loop.run(addon.done())


def test_running_starts_and_done_stops(loop, sink):
    port = free_port()
    addon = SekimoriMail(ScriptedRuntime(policy_for({"listen": f"127.0.0.1:{port}",
                                                     "upstream": f"127.0.0.1:{sink.port}",
                                                     "upstream_starttls": "none"})))
    loop.run(addon.running())
    assert addon.relay is not None
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        assert c.sendmail("s@example.jp", ["d@example.com"], b"Subject: x\r\n\r\nx\r\n") == {}
    loop.run(addon.done())
    assert addon.relay is None
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    assert len(sink.received) == 1


def test_port_in_use_is_logged_and_ends_dlp_run_with_exit_code_2(caplog):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        addon = SekimoriMail(ScriptedRuntime(policy_for({"listen": f"127.0.0.1:{port}"})))
        with caplog.at_level(logging.ERROR, logger="sekimori.mail"), pytest.raises(SystemExit) as e:
            asyncio.run(addon.running())
    assert e.value.code == 2
    assert addon.relay is None
    assert addon.startup_error == f"cannot listen on 127.0.0.1:{port} (smtp.listen): address already in use"
    assert [r.levelno for r in caplog.records if r.name == "sekimori.mail"] == [logging.ERROR]
