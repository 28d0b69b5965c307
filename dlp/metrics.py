"""Prometheus metrics (names are contracts, labels stay low-cardinality) and the small HTTP
server on ``--metrics`` that serves them with ``/healthz`` and ``/readyz``.

Known label values are initialised at start so dashboards show zeros rather than gaps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dlp import __version__
from dlp.config import ACTIONS, UNINSPECTABLE_REASONS
from dlp.model import Decision, ScanResult

PROTOCOLS = ("http", "websocket", "smtp", "tcp")
STAGES = ("extract", "engine", "incident", "worker", "config", "quarantine", "notify", "state")
SCAN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """All of Sekimori's series, registered in one registry."""

    def __init__(self, registry: CollectorRegistry = REGISTRY):
        self.registry = registry
        r = registry
        self.transfers = Counter("dlp_transfers", "Transfers inspected, by protocol and verdict.",
                                 ["protocol", "action"], registry=r)
        self.rule_matches = Counter("dlp_rule_matches", "Rule matches, by rule and its action.",
                                    ["rule", "action"], registry=r)
        self.findings = Counter("dlp_findings", "Distinct validated values found, by detector.",
                                ["detector"], registry=r)
        self.persons = Counter("dlp_persons", "Distinct persons seen in transfers, by verdict.",
                               ["action"], registry=r)
        self.bytes_inspected = Counter("dlp_bytes_inspected", "Bytes inspected after decoding.",
                                       ["protocol"], registry=r)
        self.bytes_uninspected = Counter("dlp_bytes_uninspected", "Bytes sent through allowed opaque "
                                         "tunnels (tunnels.allow), never inspected.", ["protocol"], registry=r)
        self.scan_seconds = Histogram("dlp_scan_seconds", "Time to inspect one transfer.",
                                      ["protocol"], buckets=SCAN_BUCKETS, registry=r)
        self.queue_seconds = Histogram("dlp_scan_queue_seconds", "Time a transfer waited for a scanner "
                                       "process (not part of dlp_scan_seconds' budget).", buckets=SCAN_BUCKETS,
                                       registry=r)
        self.queue_depth = Gauge("dlp_scan_queue_depth", "Transfers waiting for or in a scan by a worker "
                                 "process (tiny bodies are scanned at once).", registry=r)
        self.uninspectable = Counter("dlp_uninspectable", "Transfers (parts) that could not be "
                                     "inspected, by reason.", ["reason"], registry=r)
        self.errors = Counter("dlp_errors", "Internal errors, by stage.", ["stage"], registry=r)
        self.config_reloads = Counter("dlp_config_reloads", "Policy reloads, by result.",
                                      ["result"], registry=r)
        self.config_info = Gauge("dlp_config_info", "The policy in force (sha256 of the file).",
                                 ["sha256"], registry=r)
        self.state_backend_up = Gauge("dlp_state_backend_up", "1 while the state backend works.",
                                      registry=r)
        self.quarantine_items = Gauge("dlp_quarantine_items", "Transfers held in quarantine.", registry=r)
        self.quarantine_bytes = Gauge("dlp_quarantine_bytes", "Bytes held in quarantine (encrypted).",
                                      registry=r)
        self.build_info = Gauge("dlp_build_info", "Sekimori version.", ["version"], registry=r)
        self.build_info.labels(__version__).set(1)
        self.state_backend_up.set(1)
        for p in PROTOCOLS:
            self.bytes_inspected.labels(p)
            self.bytes_uninspected.labels(p)
            self.scan_seconds.labels(p)
            for a in ACTIONS:
                self.transfers.labels(p, a)
        for a in ACTIONS:
            self.persons.labels(a)
        for reason in UNINSPECTABLE_REASONS:
            self.uninspectable.labels(reason)
        for s in STAGES:
            self.errors.labels(s)
        for res in ("success", "failure"):
            self.config_reloads.labels(res)

    def watch_scanners(self, usage: Callable[[], tuple[float, int, int]]) -> None:
        """Export the scanner processes' CPU and memory (``ScanPool.usage``), read at scrape
        time: process_cpu_seconds_total covers the proxy process only."""
        self.registry.register(_ScannerCollector(usage))

    def policy_loaded(self, sha256: str, rules: Iterable[tuple[str, str]], detectors: Iterable[str]) -> None:
        """Point dlp_config_info at the new file and initialise its rule and detector series."""
        self.config_info.clear()
        self.config_info.labels(sha256).set(1)
        for name, action in rules:
            self.rule_matches.labels(name, action)
        self.rule_matches.labels("departed-account", "block")
        for d in detectors:
            self.findings.labels(d)

    def observe(self, protocol: str, scan: ScanResult, decision: Decision,
                rule_actions: dict[str, str]) -> None:
        self.transfers.labels(protocol, decision.action).inc()
        self.persons.labels(decision.action).inc(scan.persons)
        self.bytes_inspected.labels(protocol).inc(scan.bytes_inspected)
        self.scan_seconds.labels(protocol).observe(scan.seconds)
        for rule in decision.rules:
            self.rule_matches.labels(rule, rule_actions.get(rule, "log")).inc()
        for det, n in scan.findings.items():
            self.findings.labels(det).inc(n)
        for reason in scan.uninspectable:
            self.uninspectable.labels(reason).inc()
        if scan.engine_error:
            self.errors.labels("engine").inc()


class _ScannerCollector(Collector):
    def __init__(self, usage: Callable[[], tuple[float, int, int]]):
        self.usage = usage

    def collect(self) -> Iterator[Metric]:
        cpu, rss, processes = self.usage()
        yield CounterMetricFamily("dlp_scanner_cpu_seconds", "CPU time of the scanner processes (user and "
                                  "system), those replaced since start included.", value=cpu)
        yield GaugeMetricFamily("dlp_scanner_resident_memory_bytes", "Resident memory of the scanner "
                                "processes together.", value=rss)
        yield GaugeMetricFamily("dlp_scanner_processes", "Scanner processes running.", value=processes)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(host: str, port: int, registry: CollectorRegistry, ready: Callable[[], bool]) -> _Server:
    """Serve /metrics, /healthz and /readyz in a daemon thread; return the server."""
    metrics_app = make_wsgi_app(registry)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/readyz":
            ok = ready()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ready\n" if ok else b"not ready\n"]
        return metrics_app(environ, start_response)

    server = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
