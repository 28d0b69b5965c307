"""The SMTP replies the relay sends for its own verdicts, and the clean-up of the upstream's.

A reply is the only thing a submitting MTA learns, and it turns it into a bounce the user
reads: so a stop names the rule and the incident (what the user quotes to the helpdesk), and
a temporary problem is a 4xx so the message is retried instead of lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from dlp.mail.limits import REPLY_TEXT_MAX
from dlp.model import Decision

INTERNAL_ERROR = "451 4.3.0 Sekimori could not process the message; try again later"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
TOO_MANY_HOPS = "554 5.4.6 Too many hops: mail loop?"
AUTH_NOT_OFFERED = "502 5.5.1 AUTH is not offered here"

_UNSAFE = re.compile(r"[^\x20-\x7e]")
_ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}\b")


def _clean(text: str) -> str:
    """One line of printable ASCII: reply texts travel back into bounces and logs."""
    return _UNSAFE.sub("?", " ".join(text.split()))


@dataclass(frozen=True)
class Reply:
    """One SMTP reply: a code and a single line of text."""

    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


def _stopping_rule(decision: Decision, rule_actions: Mapping[str, str]) -> str | None:
    """The matched rule that produced the action (the first, if several did)."""
    for rule in decision.rules:
        if rule_actions.get(rule) == decision.action:
            return rule
    return decision.rules[0] if decision.rules else None


def blocked(decision: Decision, rule_actions: Mapping[str, str]) -> str:
    """``550 5.7.1 Blocked by Sekimori rule <rule> (incident <id>)``; nothing went upstream."""
    incident = _clean(decision.incident_id or "-")
    rule = _stopping_rule(decision, rule_actions)
    if rule:
        return f"550 5.7.1 Blocked by Sekimori rule {_clean(rule)} (incident {incident})"
    if decision.uninspectable:
        reasons = _clean(",".join(decision.uninspectable))
        return f"550 5.7.1 Blocked by Sekimori: content not inspectable ({reasons}) (incident {incident})"
    return f"550 5.7.1 Blocked by Sekimori: inspection failed (incident {incident})"


def held(decision: Decision) -> str:
    """``250`` for a quarantined message: it is accepted (held), not lost; the id finds it."""
    return f"250 2.0.0 Held for review by Sekimori (incident {_clean(decision.incident_id or '-')})"


def from_upstream(code: int, text: str) -> Reply:
    """The upstream's reply as the client should see it.

    421 means "I am closing this connection": true of the upstream, not of our session with
    the client, so it becomes 451. A code outside 2xx/4xx/5xx after a command is a broken
    peer and becomes a temporary failure, never a success.
    """
    line = _clean(text)[:REPLY_TEXT_MAX]
    if code == 421:
        return Reply(451, line if _ENHANCED.match(line) else f"4.4.2 {line}")
    if 200 <= code < 300 or 400 <= code < 600:
        return Reply(code, line)
    return Reply(451, f"4.3.0 Unexpected reply from the upstream mail server: {code} {line}")


def recipients_refused(refused: list[tuple[str, int, str]], total: int) -> Reply:
    """Some recipients were refused upstream, so nothing was relayed.

    After DATA there is one reply for the whole message, so a partial delivery would either
    lose the refused recipients silently or report success for them. The whole message is
    refused instead: temporary if any refusal was, so the client retries; otherwise with the
    first permanent refusal's code, so the sender gets a bounce that names the address.
    """
    temporary = [r for r in refused if 400 <= r[1] < 500]
    address, code, text = (temporary or refused)[0]
    reply = from_upstream(code, text)
    more = f" and {len(refused) - 1} more" if len(refused) > 1 else ""
    return Reply(reply.code, f"{reply.text} [upstream refused <{_clean(address)}>{more} of {total} "
                             f"recipients; nothing was relayed]")
