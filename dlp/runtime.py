"""The inspection service the addons share: policy in force, scan pool, incidents, metrics.

``inspect`` takes a Transfer and returns (ScanResult, Decision), having written the incident
and counted the metrics, so every protocol gets the same treatment.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dlp import incidents, policy
from dlp.config import Policy
from dlp.ids import new_id
from dlp.metrics import Metrics
from dlp.model import Decision, ScanResult, Transfer
from dlp.workers import ScanPool

log = logging.getLogger("sekimori")


class Runtime:
    def __init__(self, pol: Policy, data_dir: Path, metrics: Metrics):
        self.policy = pol
        self.data_dir = data_dir
        self.metrics = metrics
        self.incidents = incidents.IncidentLog(data_dir)
        self.pool = ScanPool(pol.inspect.workers)
        self._loaded(pol)

    def _loaded(self, pol: Policy) -> None:
        self.metrics.policy_loaded(pol.sha256, ((r.name, r.action) for r in pol.rules),
                                   sorted(pol.detectors_enabled))

    async def inspect(self, transfer: Transfer) -> tuple[ScanResult, Decision]:
        pol = self.policy  # one policy for the whole transfer, even if a reload happens
        self.metrics.queue_depth.inc()
        try:
            scan = await self.pool.scan(transfer, pol.inspect, pol.detectors_enabled)
        finally:
            self.metrics.queue_depth.dec()
        return scan, self.conclude(transfer, scan, policy.decide(scan, pol))

    def conclude(self, transfer: Transfer, scan: ScanResult, decision: Decision) -> Decision:
        """Record a decision: incident for anything but allow, metrics always."""
        pol = self.policy
        if decision.action != "allow":
            decision = Decision(decision.action, decision.rules, decision.exception,
                                decision.uninspectable, new_id())
            record = incidents.build(decision.incident_id, transfer, scan, decision)
            try:
                self.incidents.write(record)
            except OSError as e:
                self.metrics.errors.labels("incident").inc()
                log.error("cannot write incident %s: %s", decision.incident_id, e.strerror or e)
            log.warning(
                "verdict=%s incident=%s rules=%s protocol=%s user=%s client=%s host=%s persons=%d "
                "findings=%s uninspectable=%s",
                decision.action, decision.incident_id, ",".join(decision.rules) or "-",
                transfer.protocol, transfer.user or "-", transfer.client_ip or "-", transfer.host,
                scan.persons, scan.findings, ",".join(decision.uninspectable) or "-",
            )
        self.metrics.observe(transfer.protocol, scan, decision,
                             {r.name: r.action for r in pol.rules})
        return decision

    def close(self) -> None:
        self.pool.close()
