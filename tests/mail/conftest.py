"""Fixtures for the relay tests: a recording upstream, the relay on its own event loop, and a
runtime whose verdicts the test chooses (the engine itself is tested elsewhere)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from servers import free_port, self_signed

from dlp.config import Policy, parse_policy
from dlp.mail.server import MailRelay
from dlp.model import Decision, ScanResult, Transfer
from dlp.quarantine import Held
from mail.peers import Sink, ThreadLoop

RULES = [
    {"name": "bulk-personal-data", "when": {"persons": 1000}, "action": "block"},
    {"name": "bulk-review", "when": {"persons": 100}, "action": "quarantine"},
]


def policy_for(smtp: dict) -> Policy:
    return parse_policy(yaml.safe_dump({"version": 1, "rules": RULES, "smtp": smtp}).encode())


@dataclass
class ScriptedRuntime:
    """Stands in for dlp.runtime.Runtime: answers ``action``, records each Transfer, and like
    the real one holds a quarantined transfer's ``held`` content or blocks when it cannot."""

    policy: Policy
    action: str = "allow"
    rules: tuple[str, ...] = ()
    transfers: list[Transfer] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    store_fails: bool = False
    fail: Exception | None = None

    async def inspect(self, transfer: Transfer, held: Callable[[], Held] | None = None) -> tuple[ScanResult, Decision]:
        self.transfers.append(transfer)
        if self.fail:
            raise self.fail
        action = self.action
        if action == "quarantine":
            if held is None or self.store_fails:
                action = "block"
            else:
                self.held.append(held())
        incident = None if action == "allow" else f"INC{len(self.transfers)}"
        return ScanResult(), Decision(action, self.rules, incident_id=incident)


@dataclass
class RunningRelay:
    relay: MailRelay
    runtime: ScriptedRuntime
    port: int
    loop: ThreadLoop

    def client(self, host: str = "127.0.0.1", **kw) -> smtplib.SMTP:
        return smtplib.SMTP(host, self.port, timeout=30, **kw)


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("relay-cert"))


@pytest.fixture(scope="session")
def upstream_certs(tmp_path_factory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("sink-cert"))


def client_tls(certs: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certs[0]))


@pytest.fixture
def loop() -> Iterator[ThreadLoop]:
    tl = ThreadLoop()
    yield tl
    tl.close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink().start()
    yield s
    s.stop()


@pytest.fixture
def start_relay(loop):
    """``start_relay(sink, runtime_cls=..., **smtp)`` → a RunningRelay, stopped afterwards."""
    started: list[RunningRelay] = []

    def start(sink: Sink | None, runtime_cls=ScriptedRuntime, **smtp) -> RunningRelay:
        port = free_port()
        conf = {"listen": f"127.0.0.1:{port}", "upstream_starttls": "none",
                "upstream": f"127.0.0.1:{sink.port if sink else free_port()}", **smtp}
        pol = policy_for(conf)
        runtime = runtime_cls(pol)
        relay = MailRelay(runtime, pol.smtp)
        loop.run(relay.start())
        r = RunningRelay(relay, runtime, port, loop)
        started.append(r)
        return r

    yield start
    for r in started:
        loop.run(r.relay.stop())
