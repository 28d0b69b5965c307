"""(ScanResult, Policy, Context, window counts) → Decision. A pure function, no I/O: the
window counts come from the state backend, looked up by the caller; easy to test, and the
same in the proxy and in ``dlp scan``."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from dlp.config import DEPARTED_RULE, Condition, Policy, Rule, Scope, Waiver, severity
from dlp.identity import user_key
from dlp.model import Decision, ScanResult


@dataclass(frozen=True)
class Context:
    """Who sent the transfer and where to, as policy sees it. ``user`` and ``sender`` are
    stored as ``user_key`` (casefolded), the one form every comparison and window uses."""

    protocol: str
    user: str | None = None
    client_ip: str | None = None
    destinations: tuple[str, ...] = ()       # HTTP: the host; SMTP: each recipient's domain
    today: datetime.date | None = None
    sender: str | None = None                # SMTP: the envelope sender

    def __post_init__(self) -> None:
        for name in ("user", "sender"):
            value = getattr(self, name)
            if value:
                object.__setattr__(self, name, user_key(value))

    def subject(self, per: str) -> str:
        """Whose window a transfer counts in: the user, or the client IP (also when no user
        is known, so anonymous uploads still accumulate). Never the protocol: a user's
        uploads, WebSocket messages and mails add up in one window."""
        if per == "user" and self.user:
            return f"user:{self.user}"
        return f"ip:{self.client_ip or '-'}"

    def subjects(self, per: tuple[str, ...]) -> tuple[str, ...]:
        """The distinct windows of a rule's ``per`` list (user and client_ip are one window
        when no user is known)."""
        return tuple(dict.fromkeys(self.subject(p) for p in per))

    def departed(self, policy: Policy) -> bool:
        """The user, or a mail's envelope sender, is a departed account (a leaver's other
        addresses may be listed too)."""
        gone = policy.identity.departed
        return bool(self.user and self.user in gone) or bool(self.sender and self.sender in gone)


def _any(patterns: tuple[str, ...], value: str) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)


def in_scope(scope: Scope | None, ctx: Context) -> bool:
    """A rule applies when each key of its scope matches (a destination: any of them)."""
    if scope is None:
        return True
    if scope.protocols and ctx.protocol not in scope.protocols:
        return False
    if scope.users and not _any(scope.users, ctx.user or ""):
        return False
    return not scope.destinations or any(_any(scope.destinations, d) for d in ctx.destinations)


def waives(w: Waiver, ctx: Context) -> bool:
    """An exception applies when it has not expired and matches the user and EVERY
    destination (a mail to the bank and to a stranger is not a mail to the bank)."""
    today = ctx.today or datetime.date.today()
    if w.expires is not None and today > w.expires:
        return False
    if w.protocols and ctx.protocol not in w.protocols:
        return False
    if w.users and not _any(w.users, ctx.user or ""):
        return False
    return not w.destinations or (bool(ctx.destinations) and all(_any(w.destinations, d) for d in ctx.destinations))


def matches(when: Condition, scan: ScanResult, window_count: int | None = None) -> bool:
    """All keys of ``when`` hold for ``scan`` (numbers mean 'at least'). ``window_count`` is
    the largest count among the rule's windows: any window reaching the threshold matches."""
    if when.persons is not None and scan.persons < when.persons:
        return False
    if any(scan.findings.get(det, 0) < n for det, n in when.findings.items()):
        return False
    if when.encrypted is not None and scan.encrypted != when.encrypted:
        return False
    if when.window is not None:
        count = scan.persons if window_count is None else window_count
        if scan.persons < 1 or count < when.window.persons:
            return False
    return True


def applicable(policy: Policy, ctx: Context) -> tuple[Rule, ...]:
    return tuple(r for r in policy.rules if in_scope(r.scope, ctx))


def decide(scan: ScanResult, policy: Policy, ctx: Context,
           window_counts: Mapping[str, int] | None = None) -> Decision:
    """The most severe action among matched rules that no exception waives, uninspectable
    reasons and engine errors. A departed account is blocked whatever it sends."""
    counts = window_counts or {}
    matched = [r for r in applicable(policy, ctx) if matches(r.when, scan, counts.get(r.name))]
    names = tuple(r.name for r in matched)
    if ctx.departed(policy):
        return Decision("block", (DEPARTED_RULE, *names), uninspectable=tuple(scan.uninspectable),
                        severity="critical")
    waiver = next((w for w in policy.exceptions if waives(w, ctx)
                   and any(w.rules is None or r.name in w.rules for r in matched)), None)
    effective = [r for r in matched if waiver is None or (waiver.rules is not None and r.name not in waiver.rules)]
    actions = [r.action for r in effective]
    actions.extend(policy.inspect.action_for(reason) for reason in scan.uninspectable)
    if scan.engine_error:
        actions.append(policy.inspect.on_error)
    action = max(actions, key=severity, default="allow")
    return Decision(action=action, rules=names, exception=waiver.name if waiver else None,
                    uninspectable=tuple(scan.uninspectable))
