"""Policy with its state: look up the cumulative windows, decide, and record the persons of
a transfer that leaves. Shared by the proxy (``Runtime``) and ``dlp scan``."""

from __future__ import annotations

import time

from dlp import policy
from dlp.config import Policy
from dlp.model import Decision, ScanResult, Transfer
from dlp.policy import Context
from dlp.state import StateBackend, salted

LEAVES = ("allow", "log")
"""Actions after which the transfer's persons have left (and enter the windows)."""


def context(transfer: Transfer) -> Context:
    """Policy's view of a transfer: destinations are the HTTP host or the recipient domains."""
    if transfer.recipients:
        dests = tuple(sorted({r.rpartition("@")[2].lower() for r in transfer.recipients}))
    else:
        dests = (transfer.host.lower(),) if transfer.host else ()
    return Context(protocol=transfer.protocol, user=transfer.user, client_ip=transfer.client_ip,
                   destinations=dests, sender=transfer.sender)


async def decide_with_state(state: StateBackend, transfer: Transfer, scan: ScanResult, pol: Policy) -> Decision:
    """Count the windows, decide, and record the persons of a transfer that leaves.

    A rule with several subjects (``per: [user, client_ip]``) gets the largest of its
    windows' counts, and a transfer that leaves is recorded in every subject's window, so a
    claimed user name that changes each time still adds up under its client IP."""
    ctx = context(transfer)
    now = time.time()
    counts: dict[str, int] = {}
    digests: list[bytes] = []
    windows = pol.windows()
    if windows and scan.persons:
        digests = salted(await state.salt(), scan.person_digests)
        seen: dict[tuple[str, float], int] = {}
        for rule in policy.applicable(pol, ctx):
            w = rule.when.window
            if w is None:
                continue
            for subject in ctx.subjects(w.per):
                if (subject, w.period) not in seen:
                    seen[subject, w.period] = await state.window_count(subject, digests, w.period, now)
            counts[rule.name] = max(seen[s, w.period] for s in ctx.subjects(w.per))
    decision = policy.decide(scan, pol, ctx, counts)
    if digests and decision.action in LEAVES:
        retention = max(r.when.window.period for r in windows if r.when.window)
        subjects = {s for r in windows if r.when.window for s in ctx.subjects(r.when.window.per)}
        for subject in sorted(subjects):
            await state.window_add(subject, digests, now, retention)
    return decision
