"""(ScanResult, Policy) → Decision. A pure function, no I/O: easy to test, same everywhere."""

from __future__ import annotations

from dlp.config import Condition, Policy, severity
from dlp.model import Decision, ScanResult


def matches(when: Condition, scan: ScanResult) -> bool:
    """All keys of ``when`` hold for ``scan`` (numbers mean 'at least')."""
    if when.persons is not None and scan.persons < when.persons:
        return False
    if any(scan.findings.get(det, 0) < n for det, n in when.findings.items()):
        return False
    return not (when.encrypted is not None and scan.encrypted != when.encrypted)


def decide(scan: ScanResult, policy: Policy) -> Decision:
    """The most severe action among matched rules, uninspectable reasons and engine errors."""
    matched = tuple(r.name for r in policy.rules if matches(r.when, scan))
    actions = [r.action for r in policy.rules if r.name in matched]
    actions.extend(policy.inspect.action_for(reason) for reason in scan.uninspectable)
    if scan.engine_error:
        actions.append(policy.inspect.on_error)
    action = max(actions, key=severity, default="allow")
    return Decision(action=action, rules=matched, uninspectable=tuple(scan.uninspectable))
