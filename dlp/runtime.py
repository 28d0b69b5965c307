"""The inspection service the addons share: policy in force, scan pool, state, incidents,
metrics.

``inspect`` takes a Transfer and returns (ScanResult, Decision), having looked up the
cumulative windows, decided, recorded the persons of a transfer that leaves, written the
incident and counted the metrics, so every protocol gets the same treatment.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dlp import incidents
from dlp.config import Policy
from dlp.decider import decide_with_state
from dlp.ids import new_id
from dlp.metrics import Metrics
from dlp.model import Decision, ScanResult, Transfer
from dlp.state import StateBackend, open_backend
from dlp.workers import ScanPool

log = logging.getLogger("sekimori")

class Runtime:
    def __init__(self, pol: Policy, data_dir: Path, metrics: Metrics):
        self.policy = pol
        self.data_dir = data_dir
        self.metrics = metrics
        self.incidents = incidents.IncidentLog(data_dir)
        self.pool = ScanPool(pol.inspect.workers)
        self.state: StateBackend = open_backend(pol.state, data_dir)
        self._loaded(pol)

    def _loaded(self, pol: Policy) -> None:
        self.metrics.policy_loaded(pol.sha256, ((r.name, r.action) for r in pol.rules),
                                   sorted(pol.detectors_enabled))

    async def swap(self, pol: Policy) -> None:
        """Put a new policy in force (hot reload). Transfers being inspected finish under the
        policy they started with."""
        old = self.policy
        self.policy = pol
        self._loaded(pol)
        if pol.state != old.state:
            previous, self.state = self.state, open_backend(pol.state, self.data_dir)
            await previous.close()
        if pol.inspect.workers != old.inspect.workers:
            log.warning("inspect.workers changed: takes effect at the next restart")

    async def inspect(self, transfer: Transfer) -> tuple[ScanResult, Decision]:
        pol = self.policy  # one policy for the whole transfer, even if a reload happens
        self.metrics.queue_depth.inc()
        try:
            scan = await self.pool.scan(transfer, pol.inspect, pol.detectors_enabled)
        finally:
            self.metrics.queue_depth.dec()
        decision = await self.decide(transfer, scan, pol)
        return scan, self.conclude(transfer, scan, decision)

    async def decide(self, transfer: Transfer, scan: ScanResult, pol: Policy) -> Decision:
        decision = await decide_with_state(self.state, transfer, scan, pol)
        self.metrics.state_backend_up.set(1 if self.state.up else 0)
        return decision

    def conclude(self, transfer: Transfer, scan: ScanResult, decision: Decision) -> Decision:
        """Record a decision: incident for anything but allow, metrics always."""
        pol = self.policy
        if decision.action != "allow":
            decision = Decision(decision.action, decision.rules, decision.exception,
                                decision.uninspectable, new_id(), decision.severity, decision.approval)
            record = incidents.build(decision.incident_id, transfer, scan, decision)
            try:
                self.incidents.write(record)
            except OSError as e:
                self.metrics.errors.labels("incident").inc()
                log.error("cannot write incident %s: %s", decision.incident_id, e.strerror or e)
            log.warning(
                "verdict=%s incident=%s rules=%s exception=%s protocol=%s user=%s client=%s host=%s "
                "persons=%d findings=%s uninspectable=%s",
                decision.action, decision.incident_id, ",".join(decision.rules) or "-",
                decision.exception or "-", transfer.protocol, transfer.user or "-",
                transfer.client_ip or "-", transfer.host, scan.persons, scan.findings,
                ",".join(decision.uninspectable) or "-",
            )
        rule_actions = {r.name: r.action for r in pol.rules}
        rule_actions["departed-account"] = "block"
        self.metrics.observe(transfer.protocol, scan, decision, rule_actions)
        return decision

    async def close(self) -> None:
        self.pool.close()
        await self.state.close()
