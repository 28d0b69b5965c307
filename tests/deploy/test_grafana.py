"""deploy/grafana: the checked-in dashboard is exactly what generate.py (grafanalib) makes,
it lays out without overlaps, charts every series of the metric contract with the panels the
SOC asked for, and the provisioning files load it with a Prometheus datasource. (Its
queries run against a real Prometheus in test_prometheus.py.)"""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
import yaml

from .helpers import DEPLOY

GRAFANA = DEPLOY / "grafana"
CONTRACT = ["dlp_transfers_total", "dlp_rule_matches_total", "dlp_findings_total", "dlp_persons_total",
            "dlp_bytes_inspected_total", "dlp_scan_seconds_bucket", "dlp_scan_queue_depth",
            "dlp_uninspectable_total", "dlp_errors_total", "dlp_quarantine_items", "dlp_quarantine_bytes",
            "dlp_config_reloads_total", "dlp_config_info", "dlp_state_backend_up", "dlp_build_info",
            "dlp_scan_queue_seconds_bucket", "dlp_scanner_cpu_seconds_total", "dlp_scanner_resident_memory_bytes"]


def generator():
    spec = importlib.util.spec_from_file_location("sekimori_dashboard", GRAFANA / "generate.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def dash() -> dict:
    return json.loads((GRAFANA / "sekimori.json").read_text())


def panels(dash: dict) -> list[dict]:
    return [p for p in dash["panels"] if p["type"] != "row"]


def test_checked_in_json_is_what_the_generator_makes():
    gen = generator()
    assert (GRAFANA / "sekimori.json").read_text(encoding="utf-8") == gen.render(), \
        "deploy/grafana/sekimori.json is stale: run python deploy/grafana/generate.py"
    assert gen.main(["--check"]) == 0


def test_layout_has_unique_ids_and_no_overlaps(dash):
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for p in dash["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


def test_every_query_uses_the_datasource_variable_and_the_replica_filter(dash):
    for p in panels(dash):
        assert p["targets"], p["title"]
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            if "ALERTS" in t["expr"]:
                continue
            for selector in re.findall(r"\b(?:dlp|process)_\w+(\{[^}]*\})?", t["expr"]):
                assert 'instance=~"$instance"' in selector and 'job=~"$job"' in selector, (p["title"], t["expr"])


def test_the_panels_the_soc_asked_for(dash):
    by_title = {p["title"]: p for p in panels(dash)}
    exprs = {title: " ".join(t["expr"] for t in p["targets"]) for title, p in by_title.items()}
    assert "by (action)" in exprs["Verdicts by action"] and "dlp_transfers_total" in exprs["Verdicts by action"]
    assert 'action=~"block|quarantine"' in exprs["Persons blocked and quarantined"]
    assert "topk(10" in exprs["Top rules"] and by_title["Top rules"]["type"] == "bargauge"
    assert "by (detector)" in exprs["Detector mix"] and by_title["Detector mix"]["type"] == "piechart"
    legends = [t["legendFormat"] for t in by_title["Scan latency"]["targets"]]
    assert legends == ["p50", "p95", "p99", "queue wait p99"]
    assert "by (reason)" in exprs["Uninspectable by reason"]
    assert "by (stage)" in exprs["Errors by stage"]
    assert "dlp_quarantine_items" in exprs["Quarantine backlog"]
    assert "by (result)" in exprs["Config reloads"]
    per_replica = [t for t, e in exprs.items() if "by (instance" in e or t.endswith("per replica")]
    assert len(per_replica) >= 6, per_replica
    all_exprs = " ".join(exprs.values())
    missing = [m for m in CONTRACT if m not in all_exprs]
    assert not missing, f"series of the metric contract with no panel: {missing}"


def test_variables(dash):
    v = {x["name"]: x for x in dash["templating"]["list"]}
    assert v["datasource"]["type"] == "datasource" and v["datasource"]["query"] == "prometheus"
    assert v["instance"]["multi"] and v["instance"]["includeAll"] and v["instance"]["allValue"] == ".*"
    assert "label_values(dlp_build_info" in v["instance"]["query"]["query"]
    assert dash["uid"] == "sekimori" and dash["refresh"]


def test_provisioning_loads_the_dashboard_with_a_prometheus_datasource():
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    assert ds["apiVersion"] == 1
    [source] = ds["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == generator().DATASOURCE_UID
    dashboards = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "sekimori.yaml").read_text())
    assert dashboards["apiVersion"] == 1
    [provider] = dashboards["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
