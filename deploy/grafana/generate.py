"""Generates deploy/grafana/sekimori.json, the SOC's Sekimori dashboard, with grafanalib.

    python deploy/grafana/generate.py          # rewrite sekimori.json
    python deploy/grafana/generate.py --check  # exit 1 if sekimori.json is not what this makes

Edit this file, never the JSON: tests/deploy/test_grafana.py regenerates the dashboard and
compares, and tests/deploy/test_prometheus.py runs every query below against a real
Prometheus scraping a real `dlp run`.

Queries filter on the dashboard variables ``$job`` and ``$instance`` (one instance per
replica), and use ``$__rate_interval`` for rates and ``$__range`` for totals over the time
picker's range.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import attr
from grafanalib._gen import DashboardEncoder
from grafanalib.core import Dashboard as _Dashboard
from grafanalib.core import (
    GridPos,
    Panel,
    PieChartv2,
    RowPanel,
    Stat,
    Table,
    TableSortByField,
    Target,
    Template,
    Templating,
    Time,
    TimeSeries,
)

OUT = Path(__file__).resolve().parent / "sekimori.json"

DATASOURCE_UID = "sekimori-prometheus"
"""uid of the datasource in provisioning/datasources/prometheus.yaml (the variable's default)."""

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job", instance=~"$instance"'

BLOCK, QUARANTINE, STOPPED = 'action="block"', 'action="quarantine"', 'action=~"block|quarantine"'
ACTION_COLORS = {"block": "red", "quarantine": "orange", "log": "blue", "allow": "green"}


def sel(extra: str = "") -> str:
    """The label matchers of every query: the chosen job and replicas, plus ``extra``."""
    return "{" + SEL + (", " + extra if extra else "") + "}"


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False, table: bool = False) -> Target:
    return Target(expr=expr, legendFormat=legend, refId=ref, instant=instant,
                  format="table" if table else "time_series", datasource=DS)


def color_by_name(names: dict[str, str]) -> list[dict]:
    """Field overrides that give each series (by its display name) a fixed colour."""
    return [{"matcher": {"id": "byName", "options": name},
             "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}]}
            for name, color in names.items()]


@attr.s
class BarGauge(Panel):
    """A current-format bar gauge (grafanalib's BarGauge writes the Grafana 6 layout)."""

    unit = attr.ib(default="short")
    calc = attr.ib(default="lastNotNull")
    displayMode = attr.ib(default="gradient")
    orientation = attr.ib(default="horizontal")

    def to_json_data(self):
        return self.panel_json({
            "fieldConfig": {"defaults": {"unit": self.unit, "min": 0, "color": {"mode": "thresholds"}},
                            "overrides": []},
            "options": {"displayMode": self.displayMode, "orientation": self.orientation,
                        "showUnfilled": True, "valueMode": "color", "namePlacement": "auto",
                        "reduceOptions": {"calcs": [self.calc], "fields": "", "values": False}},
            "type": "bargauge",
        })


def stat(title: str, expr: str, pos: GridPos, description: str, unit: str = "short",
         steps: list[dict] | None = None, mappings: list[dict] | None = None, decimals: int | None = 0) -> Stat:
    return Stat(
        title=title, description=description, dataSource=DS, gridPos=pos, format=unit, decimals=decimals,
        targets=[target(expr, instant=True)], reduceCalc="lastNotNull", graphMode="none",
        colorMode="background", thresholdType="absolute", noValue="0",
        thresholds=steps or [{"color": "green", "value": None}], mappings=mappings or [],
    )


def timeseries(title: str, targets: list[Target], pos: GridPos, description: str, unit: str = "short",
               stacked: bool = False, bars: bool = False, overrides: list[dict] | None = None,
               minimum: float | None = 0) -> TimeSeries:
    return TimeSeries(
        title=title, description=description, dataSource=DS, gridPos=pos, targets=targets, unit=unit,
        stacking={"mode": "normal", "group": "A"} if stacked else {"mode": "none", "group": "A"},
        drawStyle="bars" if bars else "line", fillOpacity=60 if bars else 15, lineWidth=1,
        legendDisplayMode="list", legendPlacement="bottom", tooltipMode="multi", tooltipSort="desc",
        overrides=overrides or [], valueMin=minimum,
    )


RED_IF_ANY = [{"color": "green", "value": None}, {"color": "red", "value": 1}]
ORANGE_IF_ANY = [{"color": "green", "value": None}, {"color": "orange", "value": 1}]
UP_DOWN = [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red", "index": 0},
                                         "1": {"text": "UP", "color": "green", "index": 1}}}]


def overview(y: int) -> list[Panel]:
    w, h = 3, 4
    cells = [
        stat("Transfers / s", f"sum(rate(dlp_transfers_total{sel()}[$__rate_interval]))", GridPos(h, w, 0, y),
             "Transfers inspected per second, all protocols and verdicts.", unit="reqps", decimals=2,
             steps=[{"color": "blue", "value": None}]),
        stat("Blocked", f"sum(increase(dlp_transfers_total{sel(BLOCK)}[$__range]))", GridPos(h, w, 3, y),
             "Transfers blocked in the selected time range.", steps=RED_IF_ANY),
        stat("Quarantined", f"sum(increase(dlp_transfers_total{sel(QUARANTINE)}[$__range]))",
             GridPos(h, w, 6, y), "Transfers held for review in the selected time range.", steps=ORANGE_IF_ANY),
        stat("Persons blocked", f"sum(increase(dlp_persons_total{sel(BLOCK)}[$__range]))",
             GridPos(h, w, 9, y), "Distinct persons in the transfers that were blocked (summed over "
             "transfers) in the selected time range.", steps=RED_IF_ANY),
        stat("Persons quarantined", f"sum(increase(dlp_persons_total{sel(QUARANTINE)}[$__range]))",
             GridPos(h, w, 12, y), "Distinct persons in the transfers that were quarantined (summed over "
             "transfers) in the selected time range.", steps=ORANGE_IF_ANY),
        stat("Quarantine backlog", f"sum(dlp_quarantine_items{sel()})", GridPos(h, w, 15, y),
             "Transfers waiting in quarantine for a reviewer, all replicas.",
             steps=[{"color": "green", "value": None}, {"color": "orange", "value": 20},
                    {"color": "red", "value": 50}]),
        stat("Policies in force", f"count(count by (sha256) (dlp_config_info{sel()}))", GridPos(h, w, 18, y),
             "Distinct policy files (sha256) in force across the replicas. More than 1: the replicas "
             "disagree (a reload failed or is under way).",
             steps=[{"color": "green", "value": None}, {"color": "orange", "value": 2}]),
        stat("State backend", f"min(dlp_state_backend_up{sel()})", GridPos(h, w, 21, y),
             "Redis (state.backend) as the replicas see it: DOWN when any replica cannot reach it. "
             "Always UP with the memory backend.", steps=[{"color": "red", "value": None},
                                                         {"color": "green", "value": 1}], mappings=UP_DOWN),
    ]
    return cells


def verdicts(y: int) -> list[Panel]:
    return [
        timeseries("Verdicts by action", [target(
            f"sum by (action) (rate(dlp_transfers_total{sel()}[$__rate_interval]))", "{{action}}")],
            GridPos(8, 12, 0, y), "Transfers per second by verdict, all protocols.", unit="reqps",
            stacked=True, overrides=color_by_name(ACTION_COLORS)),
        timeseries("Persons blocked and quarantined", [target(
            f"sum by (action) (rate(dlp_persons_total{sel(STOPPED)}[$__rate_interval])) * 60", "{{action}}")],
            GridPos(8, 12, 12, y), "Persons per minute in transfers that were stopped, by verdict.",
            unit="none", bars=True, stacked=True, overrides=color_by_name(ACTION_COLORS)),
        BarGauge(title="Top rules", description="The 10 rules that matched most in the selected time range "
                 "(rule and its action).", dataSource=DS, gridPos=GridPos(8, 8, 0, y + 8),
                 targets=[target(f"topk(10, sum by (rule, action) (increase(dlp_rule_matches_total{sel()}"
                                 "[$__range])))", "{{rule}} ({{action}})", instant=True)],
                 thresholds=[{"color": "blue", "value": None}]),
        timeseries("Rule matches", [target(
            f"sum by (rule) (rate(dlp_rule_matches_total{sel()}[$__rate_interval])) * 60", "{{rule}}")],
            GridPos(8, 8, 8, y + 8), "Matches per minute, by rule.", unit="none"),
        PieChartv2(title="Detector mix", description="Validated values found in the selected time range, "
                   "by detector.", dataSource=DS, gridPos=GridPos(8, 8, 16, y + 8),
                   targets=[target(f"sum by (detector) (increase(dlp_findings_total{sel()}[$__range]))",
                                   "{{detector}}", instant=True)],
                   pieType="donut", legendDisplayMode="table", legendPlacement="right",
                   legendValues=["value", "percent"], reduceOptionsCalcs=["lastNotNull"], unit="short"),
    ]


def inspection(y: int) -> list[Panel]:
    latency = [target(f"histogram_quantile({q}, sum by (le) (rate(dlp_scan_seconds_bucket{sel()}"
                      "[$__rate_interval])))", f"p{round(q * 100)}", ref)
               for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))]
    latency.append(target(f"histogram_quantile(0.99, sum by (le) (rate(dlp_scan_queue_seconds_bucket{sel()}"
                          "[$__rate_interval])))", "queue wait p99", "D"))
    return [
        timeseries("Scan latency", latency, GridPos(8, 12, 0, y),
                   "Time to inspect one transfer (p50, p95, p99), all protocols, and the p99 of the "
                   "wait for a scanner process before it. inspect.timeout (default 10 s) is the ceiling "
                   "of the scan; inspect.queue_wait (30 s) of the wait.", unit="s"),
        timeseries("Bytes inspected", [target(
            f"sum by (protocol) (rate(dlp_bytes_inspected_total{sel()}[$__rate_interval]))", "{{protocol}}")],
            GridPos(8, 12, 12, y), "Bytes inspected per second after decoding, by protocol.", unit="Bps"),
        timeseries("Uninspectable by reason", [target(
            f"sum by (reason) (rate(dlp_uninspectable_total{sel()}[$__rate_interval])) * 60", "{{reason}}")],
            GridPos(8, 8, 0, y + 8), "Transfers (or parts) per minute that could not be inspected: "
            "encrypted, too_large, corrupt, timeout, unsupported. inspect.on_uninspectable decides "
            "their verdict.", unit="none", bars=True, stacked=True),
        timeseries("Errors by stage", [target(
            f"sum by (stage) (rate(dlp_errors_total{sel()}[$__rate_interval])) * 60", "{{stage}}")],
            GridPos(8, 8, 8, y + 8), "Internal errors per minute, by stage. Each fails closed "
            "(inspect.on_error).", unit="none", bars=True, stacked=True),
        timeseries("Scan queue depth", [target(
            f"sum by (instance) (dlp_scan_queue_depth{sel()})", "{{instance}}")],
            GridPos(8, 8, 16, y + 8), "Transfers waiting for or in a scan, per replica.", unit="none"),
    ]


def quarantine_and_policy(y: int) -> list[Panel]:
    return [
        timeseries("Quarantine backlog", [target(
            f"sum by (instance) (dlp_quarantine_items{sel()})", "{{instance}}")],
            GridPos(8, 8, 0, y), "Transfers held for review, per replica.", unit="none"),
        timeseries("Quarantine size", [target(
            f"sum by (instance) (dlp_quarantine_bytes{sel()})", "{{instance}}")],
            GridPos(8, 8, 8, y), "Bytes held in quarantine (encrypted at rest), per replica.", unit="bytes"),
        timeseries("Config reloads", [target(
            f"sum by (result) (increase(dlp_config_reloads_total{sel()}[$__rate_interval]))", "{{result}}")],
            GridPos(8, 8, 16, y), "Policy reloads by result. After a failure the previous policy stays "
            "in force.", unit="none", bars=True,
            overrides=color_by_name({"success": "green", "failure": "red"})),
        Table(title="Policy and version per replica", description="The sha256 of the policy file and the "
              "Sekimori version each replica runs. The sha256 is of the file's bytes: compare with "
              "`sha256sum dlp.yaml`.", dataSource=DS, gridPos=GridPos(7, 24, 0, y + 8),
              targets=[target(f"max by (instance, sha256) (dlp_config_info{sel()})", ref="A",
                              instant=True, table=True),
                       target(f"max by (instance, version) (dlp_build_info{sel()})", ref="B",
                              instant=True, table=True),
                       target(f"max by (instance) (up{sel()})", ref="C", instant=True, table=True)],
              transformations=[
                  {"id": "merge", "options": {}},
                  {"id": "organize", "options": {
                      "excludeByName": {"Time": True, "Value #A": True, "Value #B": True},
                      "renameByName": {"instance": "Replica", "sha256": "Policy sha256", "version": "Version",
                                       "Value #C": "Up"}}},
              ],
              overrides=[{"matcher": {"id": "byName", "options": "Up"},
                          "properties": [{"id": "mappings", "value": UP_DOWN},
                                         {"id": "custom.cellOptions", "value": {"type": "color-background"}}]}],
              sortBy=[TableSortByField(displayName="Replica")]),
    ]


def per_replica(y: int) -> list[Panel]:
    return [
        timeseries("Transfers per replica", [target(
            f"sum by (instance) (rate(dlp_transfers_total{sel()}[$__rate_interval]))", "{{instance}}")],
            GridPos(8, 8, 0, y), "Transfers per second, per replica: shows an unbalanced load.",
            unit="reqps"),
        timeseries("Scan p99 per replica", [target(
            f"histogram_quantile(0.99, sum by (instance, le) (rate(dlp_scan_seconds_bucket{sel()}"
            "[$__rate_interval])))", "{{instance}}")],
            GridPos(8, 8, 8, y), "p99 of the time to inspect one transfer, per replica.", unit="s"),
        timeseries("Errors per replica", [target(
            f"sum by (instance) (rate(dlp_errors_total{sel()}[$__rate_interval])) * 60", "{{instance}}")],
            GridPos(8, 8, 16, y), "Internal errors per minute, per replica.", unit="none"),
        timeseries("CPU per replica", [
            target(f"rate(process_cpu_seconds_total{sel()}[$__rate_interval])", "{{instance}} proxy", "A"),
            target(f"rate(dlp_scanner_cpu_seconds_total{sel()}[$__rate_interval])", "{{instance}} scanners", "B")],
            GridPos(8, 8, 0, y + 8), "CPU seconds per second of the proxy process and of its scanner "
            "processes together.", unit="none", stacked=True),
        timeseries("Memory per replica", [
            target(f"process_resident_memory_bytes{sel()}", "{{instance}} proxy", "A"),
            target(f"dlp_scanner_resident_memory_bytes{sel()}", "{{instance}} scanners", "B")],
            GridPos(8, 8, 8, y + 8), "Resident memory of the proxy process and of its scanner processes "
            "together.", unit="bytes", stacked=True),
        timeseries("Up and state backend per replica", [
            target(f"up{sel()}", "{{instance}} scrape", "A"),
            target(f"dlp_state_backend_up{sel()}", "{{instance}} state backend", "B")],
            GridPos(8, 8, 16, y + 8), "1: the replica answers its scrape / reaches Redis.", unit="none",
            minimum=0),
    ]


def alerts(y: int) -> list[Panel]:
    return [
        Table(title="Firing alerts", description="Sekimori alerts (deploy/prometheus/alerts.yml) firing now.",
              dataSource=DS, gridPos=GridPos(6, 24, 0, y),
              targets=[target('ALERTS{alertstate="firing", alertname=~"Sekimori.*"}', instant=True, table=True)],
              transformations=[{"id": "organize", "options": {
                  "excludeByName": {"Time": True, "Value": True, "__name__": True, "alertstate": True}}}]),
    ]


def templating() -> Templating:
    datasource = Template(name="datasource", label="Prometheus", type="datasource", query="prometheus",
                          default=DATASOURCE_UID, hide=0, refresh=1)
    datasource._current = {"selected": True, "text": "Prometheus", "value": DATASOURCE_UID}
    job = Template(name="job", label="Job", type="query", dataSource=DS,
                   query={"query": "label_values(dlp_build_info, job)", "refId": "job"},
                   default="sekimori", refresh=2, sort=1)
    instance = Template(name="instance", label="Replica", type="query", dataSource=DS,
                        query={"query": 'label_values(dlp_build_info{job=~"$job"}, instance)', "refId": "instance"},
                        includeAll=True, multi=True, allValue=".*", default="$__all", refresh=2, sort=1)
    instance._current = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return Templating(list=[datasource, job, instance])


def dashboard() -> _Dashboard:
    panels: list[Panel] = []
    y = 0
    for title, build, height in (
        ("Now", overview, 4),
        ("Verdicts", verdicts, 16),
        ("Inspection", inspection, 16),
        ("Quarantine and policy", quarantine_and_policy, 15),
        ("Per replica", per_replica, 16),
        ("Alerts", alerts, 6),
    ):
        panels.append(RowPanel(title=title, gridPos=GridPos(1, 24, 0, y)))
        panels.extend(build(y + 1))
        y += 1 + height
    return _Dashboard(
        title="Sekimori", uid="sekimori", description="Sekimori egress DLP: verdicts, persons, rules, "
        "detectors, inspection health, quarantine and replicas.", tags=["sekimori", "dlp", "security"],
        timezone="browser", refresh="30s", time=Time("now-6h", "now"), graphTooltip=1,
        editable=False, schemaVersion=39, templating=templating(), panels=panels,
    ).auto_panel_ids()


def render() -> str:
    return json.dumps(dashboard().to_json_data(), cls=DashboardEncoder, sort_keys=True, indent=2,
                      ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the checked-in JSON is stale")
    args = p.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is stale: run python deploy/grafana/generate.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
