"""The inspection service the addons share: policy in force, scan pool, state, incidents,
metrics.

``inspect`` takes a Transfer and returns (ScanResult, Decision), having looked up the
cumulative windows, decided, recorded the persons of a transfer that leaves, written the
incident and counted the metrics, so every protocol gets the same treatment.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from dlp import engine, incidents
from dlp.config import DEPARTED_RULE, Policy
from dlp.decider import decide_with_state
from dlp.identity import user_key
from dlp.ids import new_id
from dlp.metrics import Metrics
from dlp.model import Decision, ScanResult, Transfer
from dlp.notify import Webhook
from dlp.quarantine import Held, Item, Quarantine
from dlp.state import StateBackend, open_backend, salted
from dlp.workers import ScanPool

log = logging.getLogger("sekimori")

MAINTENANCE_SECONDS = 30.0
"""How often the running proxy expires quarantine items and refreshes the backlog gauges."""

STATE_PROBE_SECONDS = 5.0
"""How often the running proxy checks its state backend without waiting for a transfer."""

class Runtime:
    def __init__(self, pol: Policy, data_dir: Path, metrics: Metrics):
        self.policy = pol
        self.data_dir = data_dir
        self.metrics = metrics
        self.incidents = incidents.IncidentLog(data_dir, pol.incidents.rotate_bytes, pol.incidents.keep)
        self.quarantine = Quarantine(data_dir, pol.quarantine.key_file, pol.quarantine.retention)
        self.pool = ScanPool(pol.inspect.workers, metrics.queue_seconds.observe)
        metrics.queue_depth.set_function(lambda: self.pool.depth)
        metrics.watch_scanners(self.pool.usage)
        self.state: StateBackend = open_backend(pol.state, data_dir)
        metrics.state_backend_up.set_function(lambda: 1 if self.state.up else 0)
        self.webhook: Webhook | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None
        self._loaded(pol)

    def start(self) -> None:
        """Background work of a running proxy: scanner processes, quarantine expiry and
        gauges, the webhook."""
        self.pool.start()
        if self.policy.webhook.url:
            self.webhook = Webhook(self.policy.webhook, self.metrics)
            self.webhook.start()
        self._maintenance = asyncio.get_running_loop().create_task(self._maintain(), name="maintenance")
        self._probe = asyncio.get_running_loop().create_task(self._probe_state(), name="state-probe")

    async def _probe_state(self) -> None:
        """Keep ``dlp_state_backend_up`` current on a quiet proxy (it was set only by
        transfers that carry persons, so an outage without such traffic went unseen)."""
        while True:
            await asyncio.sleep(STATE_PROBE_SECONDS)
            try:
                await self.state.probe()
            except Exception:  # a probe must never end the loop
                log.exception("state backend probe failed")

    async def _maintain(self) -> None:
        while True:
            try:
                for item_id in self.quarantine.purge():
                    log.warning("quarantine item %s expired: content deleted", item_id)
                n, size = self.quarantine.backlog()
                self.metrics.quarantine_items.set(n)
                self.metrics.quarantine_bytes.set(size)
            except OSError as e:
                self.metrics.errors.labels("quarantine").inc()
                log.error("quarantine maintenance failed: %s", e.strerror or e)
            await asyncio.sleep(MAINTENANCE_SECONDS)

    def _loaded(self, pol: Policy) -> None:
        # rule name → action for the rule-match series, built once per policy, not per transfer
        self._rule_actions = {r.name: r.action for r in pol.rules} | {DEPARTED_RULE: "block"}
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
        restart_only = ("listen", "tls_cert", "tls_key", "tls_implicit_listen", "auth_htpasswd", "auth_required",
                        "max_message")
        changed = [k for k in restart_only if getattr(pol.smtp, k) != getattr(old.smtp, k)]
        if changed:
            log.warning("smtp %s changed: takes effect at the next restart (upstream settings apply now)",
                        ", ".join(changed))

    def request_is_clean(self, path: str, headers: tuple[tuple[str, str], ...]) -> bool:
        """The cheap look at a request without a body (``engine.request_is_clean``); a
        failure of it means "scan", never "clean"."""
        try:
            return engine.request_is_clean(path, headers, self.policy.detectors_enabled)
        except Exception:
            log.exception("request pre-check failed; scanning in full")
            return False

    async def inspect(self, transfer: Transfer, held: Callable[[], Held] | None = None,
                      quiet: bool = False, refused: tuple[str, str] | None = None) -> tuple[ScanResult, Decision]:
        """Scan, decide, act on the store side (quarantine, approvals) and record.

        ``held`` builds what a quarantine verdict keeps (the request line, headers and body,
        or the mail with its envelope), called only when one is reached; without it a
        quarantine verdict has nothing to hold and becomes a block. ``quiet``: a scan that
        found nothing at all (no finding, nothing uninspectable) is allowed without a
        decision, record or metric; the web addon asks so for requests without a body, which
        are browsing, not uploads, unless they carry something. ``refused``: (reason,
        message) of a transfer the front end could not take in for a scan (overloaded): it is
        uninspectable without one."""
        pol = self.policy  # one policy for the whole transfer, even if a reload happens
        if refused is not None:
            scan = ScanResult()
            scan.mark_uninspectable(*refused)
        else:
            scan = await self.pool.scan(transfer, pol.inspect, pol.detectors_enabled)
        if quiet and not (scan.findings or scan.uninspectable or scan.engine_error):
            return scan, Decision("allow")
        decision = await self.decide(transfer, scan, pol)
        stopped = decision.action in ("block", "quarantine")
        # The payload's digest keys approvals and is recorded with a held item: hashed once.
        body_sha = hashlib.sha256(transfer.body).hexdigest() if stopped else ""
        if stopped and DEPARTED_RULE not in decision.rules:
            decision = await self._approved(transfer, decision, body_sha)
        decision = replace(decision, incident_id=new_id()) if decision.action != "allow" or decision.approval \
            else decision
        if decision.action == "quarantine":
            decision = self._hold(transfer, scan, decision, held, body_sha)
        return scan, await self.conclude_async(transfer, scan, decision)

    async def _approved(self, transfer: Transfer, decision: Decision, body_sha: str) -> Decision:
        """A released quarantine item lets the same content from the same user to the same
        destination pass once, within quarantine.approval_ttl."""
        key = approval_key(transfer.user, transfer.host, body_sha)
        try:
            incident = await self.state.approval_take(key)
        except OSError as e:
            log.error("approval lookup failed: %s", e)
            return decision
        if incident is None:
            return decision
        return replace(decision, action="allow", approval=incident)

    def _hold(self, transfer: Transfer, scan: ScanResult, decision: Decision, hold: Callable[[], Held] | None,
              body_sha: str) -> Decision:
        """Store the transfer; a failure (full disk, unwritable dir) blocks instead, never allows.
        ``held.payload`` is the transfer's body as sent (both addons hold exactly that), so
        its digest is ``body_sha``."""
        assert decision.incident_id is not None
        if hold is None:
            return replace(decision, action="block")
        held = hold()
        item = Item(id=decision.incident_id, time=incidents.now_iso(), protocol=transfer.protocol,
                    rules=list(decision.rules), user=transfer.user, persons=scan.persons, size=len(held.payload),
                    destination=incidents.destination_of(transfer),
                    payload_sha256=body_sha)
        try:
            self.quarantine.hold(item, held)
        except OSError as e:
            self.metrics.errors.labels("quarantine").inc()
            log.error("quarantine of %s failed (%s): blocked instead", decision.incident_id, e.strerror or e)
            scan.errors.append(f"quarantine failed: {e.strerror or type(e).__name__}; blocked instead")
            return replace(decision, action="block")
        self.metrics.quarantine_items.inc()
        self.metrics.quarantine_bytes.inc(len(held.payload))
        return decision

    async def decide(self, transfer: Transfer, scan: ScanResult, pol: Policy) -> Decision:
        return await decide_with_state(self.state, transfer, scan, pol)

    async def conclude_async(self, transfer: Transfer, scan: ScanResult, decision: Decision) -> Decision:
        hashes: list[str] = []
        if decision.incident_id and scan.person_digests:
            salt = await self.state.salt()
            hashes = [d.hex() for d in salted(salt, scan.person_digests[:16 * incidents.EVIDENCE_HASHES])]
        return self.conclude(transfer, scan, decision, hashes)

    def conclude(self, transfer: Transfer, scan: ScanResult, decision: Decision,
                 person_hashes: list[str] | None = None) -> Decision:
        """Record a decision: incident for anything but a plain allow, metrics always."""
        if decision.action != "allow" or decision.approval:
            if decision.incident_id is None:
                decision = replace(decision, incident_id=new_id())
            record = incidents.build(decision.incident_id, transfer, scan, decision, person_hashes)
            try:
                self.incidents.write(record)
            except OSError as e:
                self.metrics.errors.labels("incident").inc()
                log.error("cannot write incident %s to %s (%s): it goes to the log and the webhook only",
                          decision.incident_id, self.incidents.path, e.strerror or e)
                # The file write failed before its SIEM line: a full data disk must not
                # lose the record everywhere.
                incidents.siem.info("%s", json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            if self.webhook is not None:
                self.webhook.submit(record)
            log.warning(
                "verdict=%s incident=%s rules=%s exception=%s protocol=%s user=%s client=%s host=%s "
                "persons=%d findings=%s uninspectable=%s",
                decision.action, decision.incident_id, ",".join(decision.rules) or "-",
                decision.exception or "-", transfer.protocol, transfer.user or "-",
                transfer.client_ip or "-", transfer.host, scan.persons, scan.findings,
                ",".join(decision.uninspectable) or "-",
            )
        self.metrics.observe(transfer.protocol, scan, decision, self._rule_actions)
        return decision

    async def close(self) -> None:
        for task in (self._maintenance, self._probe):
            if task is not None:
                task.cancel()
        if self.webhook is not None:
            await self.webhook.stop()
        self.pool.close()
        await self.state.close()


def approval_key(user: str | None, host: str, payload_sha256: str) -> str:
    """Who may send what where, once: the key a quarantine release grants (the user
    compared as policy compares it, casefolded)."""
    return hashlib.sha256(f"{user_key(user or '')}\0{host.lower()}\0{payload_sha256}".encode()).hexdigest()
