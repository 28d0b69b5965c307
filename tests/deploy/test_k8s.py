"""deploy/k8s, checked offline (no cluster here): every manifest validates strictly against
the Kubernetes OpenAPI schemas (kubernetes-validate), `kubectl kustomize` builds the set with
the Secret from make-secrets.sh, the pieces refer to each other correctly, and a pod run the
way the manifests describe it (same args, probes, ConfigMap policy, Secret files, init step)
serves HTTPS with the Secret's CA, keeps state in Redis and quarantines with the Secret's
key, with the Secret's files as group-readable as a Secret volume makes them."""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml
from servers import DLP, REPO, DlpProcess, RedisServer, Upstream, free_port, self_signed
from synthetic import people, resident_csv

from dlp.config import parse_policy

from .helpers import DEPLOY, multipart, samples, scrape

K8S = DEPLOY / "k8s"
KUBECTL = shutil.which("kubectl")
OPENSSL = shutil.which("openssl")
REDIS = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]   # oldest supported upstream .. newest known


def manifests() -> list[tuple[str, dict]]:
    """(file, resource) of every resource in the kustomization's resources."""
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [(f, doc) for f in kust["resources"] for doc in yaml.safe_load_all((K8S / f).read_text()) if doc]


def kind(k: str, name: str | None = None) -> dict:
    found = [d for _f, d in manifests() if d["kind"] == k and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (k, name, len(found))
    return found[0]


def sekimori() -> dict:
    return kind("Deployment", "sekimori")


def container(name: str = "sekimori") -> dict:
    return next(c for c in sekimori()["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def configmap_policy() -> str:
    return kind("ConfigMap", "sekimori-config")["data"]["dlp.yaml"]


def make_secrets(out: Path) -> None:
    subprocess.run(["sh", str(K8S / "make-secrets.sh"), str(out), "Sekimori Test"], check=True,
                   capture_output=True, timeout=120)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_strictly(version):
    for f, doc in manifests():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{f}: {doc['kind']}/{doc['metadata']['name']} against {version}: {e}")


def test_the_validator_refuses_a_misspelt_field():
    doc = json.loads(json.dumps(sekimori()))
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pth"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)


@pytest.mark.skipif(KUBECTL is None or OPENSSL is None, reason="needs kubectl (kustomize) and openssl")
def test_kustomize_builds_the_set_with_the_generated_secret(tmp_path):
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    make_secrets(copy / "secrets")
    r = subprocess.run([KUBECTL, "kustomize", str(copy)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    for doc in docs:
        assert doc["kind"] == "Namespace" or doc["metadata"]["namespace"] == "sekimori", doc["metadata"]
        kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)
    [secret] = [d for d in docs if d["kind"] == "Secret"]
    assert set(secret["data"]) == {"mitmproxy-ca.pem", "quarantine.key"}
    [deploy] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "sekimori"]
    [vol] = [v for v in deploy["spec"]["template"]["spec"]["volumes"] if "secret" in v]
    assert vol["secret"]["secretName"] == secret["metadata"]["name"]      # hash suffix followed


def test_without_secret_files_kustomize_refuses(tmp_path):
    """The Secret is never built from placeholders: no files, no build."""
    if KUBECTL is None:
        pytest.skip("needs kubectl (kustomize)")
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("*.pem", "*.key"))
    r = subprocess.run([KUBECTL, "kustomize", str(copy)], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "mitmproxy-ca.pem" in r.stderr


def test_deployment_replicas_probes_and_security():
    spec = sekimori()["spec"]
    assert spec["replicas"] >= 3
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] >= 1000
    assert pod["automountServiceAccountToken"] is False
    for c in pod["containers"] + pod["initContainers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
    c = container()
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"proxy": 8080, "metrics": 9464}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    args = c["args"]
    opts = dict(zip(args[1::2], args[2::2], strict=True))
    assert args[0] == "run" and opts["--listen"] == "0.0.0.0:8080" and opts["--metrics"] == "0.0.0.0:9464"
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts[opts["--data-dir"]]]
    assert volumes[mounts[str(Path(opts["--config"]).parent)]]["configMap"]["name"] == "sekimori-config"
    assert "emptyDir" in volumes[mounts["/tmp"]]              # forkserver's socket on a read-only root


def test_services_and_pdb_select_the_pods():
    labels = sekimori()["spec"]["template"]["metadata"]["labels"]
    for svc in (kind("Service", "sekimori"), kind("Service", "sekimori-metrics")):
        assert svc["spec"]["selector"].items() <= labels.items()
    assert {p["port"] for p in kind("Service", "sekimori")["spec"]["ports"]} == {8080, 9464}
    assert kind("Service", "sekimori-metrics")["spec"]["clusterIP"] == "None"
    pdb = kind("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"].get("maxUnavailable", 0) < sekimori()["spec"]["replicas"]


def test_configmap_policy_is_valid_and_points_at_the_cluster_redis_and_the_copied_key():
    policy = parse_policy(configmap_policy().encode(), "configmap.yaml:dlp.yaml")
    ns = yaml.safe_load((K8S / "kustomization.yaml").read_text())["namespace"]
    assert policy.state.backend == "redis"
    url = urlparse(policy.state.url)
    redis_svc = kind("Service", "redis")
    assert url.hostname == f"{redis_svc['metadata']['name']}.{ns}.svc.cluster.local"
    assert url.port == redis_svc["spec"]["ports"][0]["port"]
    # The init container copies the Secret's key 0600 into the data volume, where the policy reads it.
    args = container()["args"]
    data_dir = args[args.index("--data-dir") + 1]
    init = next(c for c in sekimori()["spec"]["template"]["spec"]["initContainers"] if c["name"] == "install-keys")
    assert policy.quarantine.key_file == f"{data_dir}/quarantine.key"
    assert f"install -m 0600 /etc/sekimori/secrets/quarantine.key {policy.quarantine.key_file}" in init["command"][-1]
    # The proxy itself does not mount the Secret: only the init container reads it.
    assert "secrets" not in {m["name"] for m in container()["volumeMounts"]}


def test_deploy_policies_follow_the_shipped_one():
    r = subprocess.run([sys.executable, str(DEPLOY / "sync_policy.py"), "--check"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_prometheus_kubernetes_job_finds_the_headless_service():
    cfg = yaml.safe_load((DEPLOY / "prometheus" / "scrape-kubernetes.yml").read_text())
    [job] = cfg["scrape_configs"]
    [sd] = job["dns_sd_configs"]
    ns = yaml.safe_load((K8S / "kustomization.yaml").read_text())["namespace"]
    assert sd["names"] == [f"sekimori-metrics.{ns}.svc.cluster.local"]
    assert sd["port"] == 9464 and job["job_name"] == "sekimori"


# --- one pod, run as the manifests describe it -------------------------------------------


class PodFS:
    """Maps the pod's paths to directories of this test."""

    def __init__(self, tmp: Path):
        self.roots = {"/var/lib/sekimori": tmp / "data", "/etc/sekimori/secrets": tmp / "secrets",
                      "/etc/sekimori/config": tmp / "config"}
        for p in self.roots.values():
            p.mkdir(parents=True, exist_ok=True)

    def __call__(self, text: str) -> str:
        for pod_path, here in sorted(self.roots.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(pod_path, str(here))
        return text


@pytest.mark.e2e
@pytest.mark.skipif(OPENSSL is None or REDIS is None, reason="needs openssl (make-secrets.sh) and redis-server")
def test_a_pod_as_the_manifests_describe_it(tmp_path):
    fs = PodFS(tmp_path)
    make_secrets(fs.roots["/etc/sekimori/secrets"])
    # A Secret volume's files have its defaultMode, group-readable at least under fsGroup.
    [secret_vol] = [v for v in sekimori()["spec"]["template"]["spec"]["volumes"] if "secret" in v]
    for f in fs.roots["/etc/sekimori/secrets"].iterdir():
        f.chmod(secret_vol["secret"]["defaultMode"] | 0o040)
    redis = RedisServer().start()
    upstream = Upstream(tls_cert=self_signed(tmp_path)).start()
    proc = None
    try:
        # The ConfigMap's policy, with the cluster's Redis replaced by the local one.
        policy = fs(configmap_policy()).replace("redis://redis.sekimori.svc.cluster.local:6379/0", redis.url)
        (fs.roots["/etc/sekimori/config"] / "dlp.yaml").write_text(policy)
        # The init container.
        init = next(c for c in sekimori()["spec"]["template"]["spec"]["initContainers"] if c["name"] == "install-keys")
        subprocess.run([fs(a) for a in init["command"]], check=True, timeout=30)
        # The container's args, on free loopback ports.
        proxy_port, metrics_port = free_port(), free_port()
        args = [fs(a).replace("0.0.0.0:8080", f"127.0.0.1:{proxy_port}")
                .replace("0.0.0.0:9464", f"127.0.0.1:{metrics_port}") for a in container()["args"]]
        proc = DlpProcess(fs.roots["/etc/sekimori/config"] / "dlp.yaml", fs.roots["/var/lib/sekimori"])
        proc.port, proc.metrics_port = proxy_port, metrics_port
        proc.args = [*DLP, *args, "--set", "ssl_insecure=true"]     # the test upstream's cert is self-signed
        proc.start()

        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            path = container()[probe]["httpGet"]["path"]
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}{path}", timeout=5) as r:
                assert r.status == 200, probe

        # Clients trust the certificate make-secrets.sh gave them: the pod uses that CA.
        ctx = ssl.create_default_context(cafile=str(fs.roots["/etc/sekimori/secrets"] / "mitmproxy-ca-cert.pem"))

        def upload(body: bytes, ctype: str) -> int:
            conn = http.client.HTTPSConnection("127.0.0.1", proxy_port, context=ctx, timeout=60)
            conn.set_tunnel("localhost", upstream.port)
            conn.request("POST", "/upload", body=body, headers={"Content-Type": ctype})
            status = conn.getresponse().status
            conn.close()
            return status

        assert upload(b"quarterly numbers, no personal data", "text/plain") == 200
        assert len(upstream.received) == 1
        body, ctype = multipart("review.csv", resident_csv(people(150, seed=41)))
        assert upload(body, ctype) == 403                               # bulk-review: quarantine
        assert len(upstream.received) == 1

        # Held with the Secret's key (copied 0600 by the init container, no key of its own
        # written), and the item reads back.
        data = fs.roots["/var/lib/sekimori"]
        key_copy = data / "quarantine.key"
        assert key_copy.read_bytes() == (fs.roots["/etc/sekimori/secrets"] / "quarantine.key").read_bytes()
        assert key_copy.stat().st_mode & 0o777 == 0o600
        common = ["--data-dir", str(data), "--config", str(fs.roots["/etc/sekimori/config"] / "dlp.yaml")]
        listed = subprocess.run([*DLP, "quarantine", "list", "--json", *common], cwd=REPO, capture_output=True,
                                text=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
        [item] = json.loads(listed.stdout)
        assert "bulk-review" in item["rules"] and item["state"] == "held"
        out = tmp_path / "export.bin"
        exported = subprocess.run([*DLP, "quarantine", "export", item["id"], "--out", str(out), *common],
                                  cwd=REPO, capture_output=True, text=True, timeout=60)
        assert exported.returncode == 0, exported.stderr
        assert body in out.read_bytes()

        snap = samples(scrape(metrics_port))
        assert snap[("dlp_state_backend_up", frozenset())] == 1             # Redis reached
        sha = hashlib.sha256(policy.encode()).hexdigest()
        assert snap[("dlp_config_info", frozenset({("sha256", sha)}))] == 1
    finally:
        if proc is not None and hasattr(proc, "proc"):
            assert proc.stop() == 0, proc.output()
        upstream.stop()
        redis.stop()
