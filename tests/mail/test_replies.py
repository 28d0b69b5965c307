"""Replies for the relay's own verdicts and the clean-up of the upstream's."""

from __future__ import annotations

from dlp.mail import replies
from dlp.model import Decision

ACTIONS = {"bulk-personal-data": "block", "bulk-review": "quarantine", "notice": "log"}


def test_blocked_names_the_rule_that_blocked_and_the_incident():
    d = Decision("block", ("notice", "bulk-review", "bulk-personal-data"), incident_id="01ABC")
    assert replies.blocked(d, ACTIONS) == "550 5.7.1 Blocked by Sekimori rule bulk-personal-data (incident 01ABC)"


def test_quarantine_turned_block_names_the_quarantine_rule():
    d = Decision("block", ("bulk-review",), incident_id="01ABC")
    assert replies.blocked(d, ACTIONS) == "550 5.7.1 Blocked by Sekimori rule bulk-review (incident 01ABC)"


def test_blocked_without_a_rule():
    d = Decision("block", uninspectable=("encrypted", "too_large"), incident_id="X")
    assert replies.blocked(d, {}) == "550 5.7.1 Blocked by Sekimori: content not inspectable (encrypted,too_large) " \
                                     "(incident X)"
    assert replies.blocked(Decision("block", incident_id="X"), {}).endswith("inspection failed (incident X)")


def test_rule_names_cannot_break_the_reply_line():
    d = Decision("block", ("名簿\r\n250 ok",), incident_id="X")
    reply = replies.blocked(d, {"名簿\r\n250 ok": "block"})
    assert "\r" not in reply and "\n" not in reply and reply.isascii()


def test_held():
    assert replies.held(Decision("quarantine", incident_id="01ABC")) == \
        "250 2.0.0 Held for review by Sekimori (incident 01ABC)"


def test_from_upstream():
    assert str(replies.from_upstream(250, "2.0.0 Ok: queued as ABC")) == "250 2.0.0 Ok: queued as ABC"
    assert str(replies.from_upstream(550, "5.1.1 no\nsuch user")) == "550 5.1.1 no such user"
    assert str(replies.from_upstream(421, "4.3.2 closing")) == "451 4.3.2 closing"
    assert str(replies.from_upstream(421, "closing")) == "451 4.4.2 closing"
    assert replies.from_upstream(354, "go ahead").code == 451
    assert replies.from_upstream(250, "\x1b[31mx" + "y" * 1000).text.startswith("?[31mx")
    assert len(replies.from_upstream(250, "y" * 1000).text) == 400


def test_recipients_refused_prefers_a_temporary_refusal():
    r = replies.recipients_refused([("a@x.jp", 550, "5.1.1 unknown"), ("b@x.jp", 451, "4.7.1 greylisted")], 3)
    assert r.code == 451 and r.text.startswith("4.7.1 greylisted [upstream refused <b@x.jp> and 1 more of 3")
    r = replies.recipients_refused([("a@x.jp", 550, "5.1.1 unknown")], 2)
    assert str(r) == "550 5.1.1 unknown [upstream refused <a@x.jp> of 2 recipients; nothing was relayed]"
