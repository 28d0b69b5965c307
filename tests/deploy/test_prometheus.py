"""The dashboard and the alerts against the real thing: Debian's Prometheus on loopback
scrapes a real `dlp run` every second (with deploy/prometheus/prometheus.yml's job and
alerts.yml's rules), traffic goes through the proxy, and every PromQL expression of
deploy/grafana/sekimori.json and alerts.yml must return data. Expressions over series that
`dlp run` does not export yet (computed from its /metrics) are skipped with their names.
promtool checks and unit-tests the rules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from servers import DlpProcess, Upstream, free_port, stop_process

from .helpers import DEPLOY, EXPECTED_STATUS, POLICY, drive, samples, scrape

pytestmark = pytest.mark.e2e

PROMETHEUS = shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)
PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
NEED_PROMETHEUS = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (Debian package "
                                     "prometheus; `make test` installs it via SYSTEM_DEPS)")
NEED_PROMTOOL = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package "
                                   "prometheus ships it)")

DASHBOARD = DEPLOY / "grafana" / "sekimori.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
SCRAPE = DEPLOY / "prometheus" / "prometheus.yml"
RATE_INTERVAL = "1m"      # Grafana's $__rate_interval for a 1 s scrape is smaller; 1m is safe
RANGE = "15m"             # longer than the test runs: covers all the traffic
FIRING = {"SekimoriBulkTransferBlocked", "SekimoriDepartedAccountActivity", "SekimoriConfigReloadFailed"}


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title / refId, expr) of every panel target."""
    doc = json.loads(DASHBOARD.read_text())
    out = []
    for panel in doc["panels"]:
        for t in panel.get("targets", []):
            out.append((f"{panel['title']} {t['refId']}", t["expr"]))
    return out


def variable_queries() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    return [(v["name"], v["query"]["query"]) for v in doc["templating"]["list"] if v["type"] == "query"]


def alert_exprs() -> list[tuple[str, str]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [(r["alert"], r["expr"]) for g in doc["groups"] for r in g["rules"]]


def split_comparison(expr: str) -> tuple[str, str | None]:
    """(query, threshold) of ``query <op> threshold``, split at the last comparison outside
    brackets and quotes; (expr, None) when there is none."""
    depth, quote, cut = 0, "", None
    i = 0
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and c in "<>=!" and expr[i:i + 2] not in ("=~", "!~"):
            op = expr[i:i + 2] if expr[i:i + 2] in (">=", "<=", "==", "!=") else c
            cut = (i, i + len(op))
            i += len(op) - 1
        i += 1
    if cut is None:
        return expr.strip(), None
    return expr[:cut[0]].strip(), expr[cut[1]:].strip()


def test_split_comparison():
    assert split_comparison('sum(x{a=~"b>c"}) > 0.01') == ('sum(x{a=~"b>c"})', "0.01")
    assert split_comparison("a / b >= 5") == ("a / b", "5")
    assert split_comparison("up == 0") == ("up", "0")
    assert split_comparison('rate(x{y!="z"}[5m])') == ('rate(x{y!="z"}[5m])', None)


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads (dlp_*, process_*, python_*)."""
    return set(re.findall(r"\b((?:dlp|process|python)_[a-z0-9_]+)\b", expr))


def test_metric_names():
    assert metric_names('histogram_quantile(0.99, sum by (le) (rate(dlp_scan_seconds_bucket{job=~"$job"}[5m])))'
                        " / process_cpu_seconds_total") == {"dlp_scan_seconds_bucket", "process_cpu_seconds_total"}
    assert metric_names('up{job="sekimori"} == 0') == set()


class Prometheus:
    def __init__(self, tmp: Path, metrics_port: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = yaml.safe_load(SCRAPE.read_text())
        cfg["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        cfg["rule_files"] = [str(SCRAPE.parent / f) for f in cfg["rule_files"]]
        [job] = cfg["scrape_configs"]
        job["static_configs"] = [{"targets": [f"127.0.0.1:{metrics_port}"]}]
        self.job = job["job_name"]
        self.config = tmp / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(cfg))
        self.log_path = tmp / "prometheus.log"
        self.args = [PROMETHEUS, f"--config.file={self.config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
                     f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h",
                     "--log.level=warn"]

    def start(self, timeout: float = 60) -> Prometheus:
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait(lambda: self.ready(), timeout, "Prometheus did not become ready")
        return self

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited {self.proc.returncode}:\n{self.output()}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def output(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def api(self, path: str, **params: str) -> dict:
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:        # 400/422: a bad query; the body says why
            return json.loads(e.read())

    def query(self, expr: str) -> dict:
        doc = self.api("query", query=expr)
        assert doc["status"] == "success", f"{expr}: {doc.get('error')}"
        return doc["data"]

    def wait(self, predicate, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.25)
        raise AssertionError(f"{message}\n{self.output()[-3000:]}")

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def _result(data: dict) -> list:
    return data["result"] if data["resultType"] in ("vector", "matrix") else [data["result"]]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """dlp run + upstream + Prometheus, after the traffic was scraped and the alerts fired."""
    if PROMETHEUS is None:
        pytest.skip("prometheus is not installed (Debian package prometheus)")
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    tmp = tmp_path_factory.mktemp("prom")
    cfg = tmp / "dlp.yaml"
    cfg.write_text(POLICY)
    dlp = DlpProcess(cfg, tmp / "var").start()
    up = Upstream().start()
    prom = None
    try:
        prom = Prometheus(tmp, dlp.metrics_port).start()
        timings["started"] = time.monotonic() - t0
        prom.wait(lambda: _result(prom.query(f'up{{job="{prom.job}"}} == 1')) != [], 60,
                  "the dlp run target never came up")
        timings["target up"] = time.monotonic() - t0
        sent = drive(dlp.port, up.port)
        assert sent.statuses == EXPECTED_STATUS, dlp.output()
        timings["traffic sent"] = time.monotonic() - t0
        # A broken policy edit (refused, counted as a failed reload), then a good one.
        cfg.write_text(POLICY + "rules: [\n")
        prom.wait(lambda: dlp_value(dlp, "dlp_config_reloads_total", result="failure") == 1, 30,
                  "dlp run never counted the failed reload")
        cfg.write_text(POLICY + "# reviewed\n")
        prom.wait(lambda: dlp_value(dlp, "dlp_config_reloads_total", result="success") == 1, 30,
                  "dlp run never counted the successful reload")
        timings["reloads done"] = time.monotonic() - t0
        total = sum(v for (n, _l), v in samples(scrape(dlp.metrics_port)).items() if n == "dlp_transfers_total")
        prom.wait(lambda: [float(r["value"][1]) for r in _result(prom.query("sum(dlp_transfers_total)"))] == [total],
                  60, "Prometheus never scraped the traffic")
        timings["traffic scraped"] = time.monotonic() - t0

        def firing() -> set[str]:
            return {a["labels"]["alertname"] for a in prom.api("alerts")["data"]["alerts"] if a["state"] == "firing"}

        prom.wait(lambda: firing() >= FIRING, 60, f"alerts {FIRING} did not fire")
        time.sleep(3)        # a few more scrapes after the last change, for the rate windows
        timings["alerts firing"] = time.monotonic() - t0
        exported = {n for (n, _l) in samples(scrape(dlp.metrics_port))}
        [target] = prom.api("targets")["data"]["activeTargets"]
        yield {"prom": prom, "dlp": dlp, "exported": exported, "instance": target["labels"]["instance"],
               "timings": timings, "firing": firing}
    finally:
        if prom is not None:
            prom.stop()
        up.stop()
        assert dlp.stop() == 0, dlp.output()
        print("\nPrometheus test timings (s since start): "
              + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


def dlp_value(dlp: DlpProcess, name: str, **labels: str) -> float | None:
    return samples(scrape(dlp.metrics_port)).get((name, frozenset(labels.items())))


def substitute(expr: str, instance: str) -> str:
    """Grafana's variables, as the dashboard would send them for one replica (a regex-escaped
    value inside a PromQL string, where each backslash is doubled)."""
    escaped = re.escape(instance).replace("\\", "\\\\")
    return (expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__range", RANGE)
            .replace("$job", "sekimori").replace("$instance", escaped))


def assert_exported(stack, expr: str) -> None:
    """Every series a query names is one dlp run exports (a misspelt name fails here)."""
    missing = sorted(n for n in metric_names(expr) if n not in stack["exported"])
    assert not missing, f"not exported by dlp run: {', '.join(missing)}"


@NEED_PROMETHEUS
@pytest.mark.parametrize(("where", "expr"), dashboard_exprs(), ids=[w for w, _e in dashboard_exprs()])
def test_dashboard_query_returns_data(stack, where, expr):
    assert_exported(stack, expr)
    data = stack["prom"].query(substitute(expr, stack["instance"]))
    assert _result(data), f"{where}: no data for {substitute(expr, stack['instance'])}"


@NEED_PROMETHEUS
@pytest.mark.parametrize(("name", "query"), variable_queries(), ids=[n for n, _q in variable_queries()])
def test_dashboard_variable_finds_the_replica(stack, name, query):
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
    assert m, f"${name}: expected label_values(selector, label), got {query}"
    found = {r["metric"].get(m[2]) for r in _result(stack["prom"].query(substitute(m[1], stack["instance"])))}
    assert {"job": "sekimori", "instance": stack["instance"]}[name] in found


@NEED_PROMETHEUS
@pytest.mark.parametrize(("alert", "expr"), alert_exprs(), ids=[a for a, _e in alert_exprs()])
def test_alert_query_returns_data(stack, alert, expr):
    assert_exported(stack, expr)
    query, threshold = split_comparison(expr)
    assert threshold is not None, f"{alert}: expected '<query> <comparison> <threshold>'"
    assert _result(stack["prom"].query(query)), f"{alert}: no data for {query}"
    stack["prom"].query(expr)        # the whole rule evaluates without error


@NEED_PROMETHEUS
def test_traffic_fires_the_block_departed_and_reload_alerts_and_nothing_else(stack):
    alerts = stack["prom"].api("alerts")["data"]["alerts"]
    firing = {(a["labels"]["alertname"], a["labels"].get("rule", "")) for a in alerts if a["state"] == "firing"}
    assert firing == {("SekimoriBulkTransferBlocked", "bulk-personal-data"),
                      ("SekimoriBulkTransferBlocked", "departed-account"),
                      ("SekimoriDepartedAccountActivity", ""),
                      ("SekimoriConfigReloadFailed", "")}
    assert {a["state"] for a in alerts} == {"firing"}        # nothing else even pending


@NEED_PROMETHEUS
def test_every_rule_evaluates_without_error(stack):
    groups = stack["prom"].api("rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert {r["name"] for r in rules} == {a for a, _e in alert_exprs()}
    for r in rules:
        assert r["health"] == "ok", (r["name"], r.get("lastError"))


@NEED_PROMETHEUS
def test_dashboard_numbers_match_the_traffic(stack):
    """Not only data: the panels count what was sent. increase() extrapolates a few seconds
    of samples to the window's edges, so counts come out up to ~25% high in a short test;
    30% still tells 1 from 2 from 3."""
    prom, inst = stack["prom"], stack["instance"]
    approx = lambda n: pytest.approx(n, rel=0.3)  # noqa: E731
    panels = {w.rsplit(" ", 1)[0]: e for w, e in dashboard_exprs()}

    def values(title: str, label: str = "") -> dict[str, float]:
        return {r["metric"].get(label, ""): float(r["value"][1])
                for r in _result(prom.query(substitute(panels[title], inst)))}

    def one(title: str) -> float:
        [v] = values(title).values()
        return v

    assert one("Blocked") == approx(2)
    assert one("Quarantined") == approx(2)
    assert one("Persons blocked") == approx(1500)
    assert one("Persons quarantined") == approx(150)
    assert one("Policies in force") == 1
    assert one("State backend") == 1
    top = values("Top rules", "rule")
    assert top["personal-data-seen"] == approx(3)
    assert top["bulk-personal-data"] == approx(1)
    mix = values("Detector mix", "detector")
    assert mix["phone"] == approx(1670)
    [p99] = _result(prom.query(substitute(dict(dashboard_exprs())["Scan latency C"], inst)))
    assert 0 < float(p99["value"][1]) < 10


@NEED_PROMTOOL
def test_promtool_checks_config_and_rules():
    for args in (["check", "rules", str(ALERTS)], ["check", "config", str(SCRAPE)],
                 ["check", "config", str(DEPLOY / "prometheus" / "scrape-kubernetes.yml")]):
        r = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr


@NEED_PROMTOOL
def test_promtool_unit_tests_pass():
    r = subprocess.run([PROMTOOL, "test", "rules", "alerts_test.yml"], cwd=ALERTS.parent,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    tests = yaml.safe_load((ALERTS.parent / "alerts_test.yml").read_text())["tests"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for t in tests:
        for case in t.get("alert_rule_test", []):
            (fires if case["exp_alerts"] else quiet).add(case["alertname"])
    names = {a for a, _e in alert_exprs()}
    assert names <= fires, f"no firing test: {names - fires}"
    assert names <= quiet, f"no quiet (near miss or pending) test: {names - quiet}"
