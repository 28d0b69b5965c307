"""Policy in a running proxy: identity, departed accounts, hot reload, and cumulative
windows shared by two `dlp run` replicas through a real redis-server."""

from __future__ import annotations

import json
import os
import time

import pytest
from servers import DlpProcess, RedisServer, metric, multipart, send_http
from synthetic import people, resident_csv

pytestmark = pytest.mark.e2e

USER_HEADER = "X-Authenticated-User"


def policy(threshold: int, extra: str = "") -> str:
    return f"""version: 1
identity: {{header: {USER_HEADER}, trusted_networks: [127.0.0.0/8], departed: [taro.yamada]}}
rules:
  - {{name: bulk, when: {{persons: {threshold}}}, action: block}}
{extra}"""


def upload(proc: DlpProcess, upstream, persons, user: str = "alice") -> tuple[int, dict, bytes]:
    body, ctype = multipart("list.csv", resident_csv(persons))
    return send_http(proc.port, upstream.port, body,
                     {"Content-Type": ctype, USER_HEADER: user, "Accept": "application/json"})


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_departed_account_is_blocked_with_a_critical_incident(tmp_path, upstream):
    cfg = tmp_path / "p.yaml"
    cfg.write_text(policy(1000))
    proc = DlpProcess(cfg, tmp_path / "var").start()
    try:
        status, _headers, data = upload(proc, upstream, people(1, seed=4), user="taro.yamada")
        assert status == 403 and json.loads(data)["rules"] == ["departed-account"]
        assert upstream.received == []
        status, _h, _d = upload(proc, upstream, people(1, seed=4), user="hanako")
        assert status == 200
        incident = json.loads((tmp_path / "var" / "incidents.jsonl").read_text().splitlines()[0])
        assert incident["severity"] == "critical" and incident["user"] == "taro.yamada"
    finally:
        proc.stop()


def test_hot_reload_in_place_by_rename_and_by_symlink_swap(tmp_path, upstream):
    real = tmp_path / "v1.yaml"
    real.write_text(policy(1000))
    link = tmp_path / "dlp.yaml"          # the path the proxy watches: a symlink, like a ConfigMap
    link.symlink_to(real)
    proc = DlpProcess(link, tmp_path / "var").start()
    few = people(150, seed=5)
    try:
        assert upload(proc, upstream, few)[0] == 200
        # 1. written in place
        real.write_text(policy(100))
        assert wait_for(lambda: metric(proc.metrics_port, "dlp_config_reloads_total", {"result": "success"}) == 1)
        assert upload(proc, upstream, few)[0] == 403
        # 2. a broken file replaced by rename: rejected, the old policy stays in force
        broken = tmp_path / "broken.yaml"
        broken.write_text("version: 1\nrules: [{name: x, when: {persons: 1}, action: explode}]\n")
        os.replace(broken, real)
        assert wait_for(lambda: metric(proc.metrics_port, "dlp_config_reloads_total", {"result": "failure"}) == 1)
        assert upload(proc, upstream, few)[0] == 403
        assert "explode" in proc.output() and "old policy stays in force" in proc.output()
        # 3. a symlink swap (kubectl ConfigMap update)
        v2 = tmp_path / "v2.yaml"
        v2.write_text(policy(1000))
        tmp_link = tmp_path / "dlp.yaml.new"
        tmp_link.symlink_to(v2)
        os.replace(tmp_link, link)
        assert wait_for(lambda: metric(proc.metrics_port, "dlp_config_reloads_total", {"result": "success"}) == 2)
        assert upload(proc, upstream, few)[0] == 200
        import hashlib
        sha = hashlib.sha256(v2.read_bytes()).hexdigest()
        assert metric(proc.metrics_port, "dlp_config_info", {"sha256": sha}) == 1
    finally:
        proc.stop()


WINDOW = """  - {name: drip, when: {window: {persons: 1000, period: 24h, per: user}}, action: block}
state: {backend: redis, url: "%s"}
"""


def test_two_replicas_share_one_window_through_redis(tmp_path, upstream):
    redis = RedisServer().start()
    cfg = tmp_path / "p.yaml"
    cfg.write_text(policy(5000, WINDOW % redis.url))
    a = DlpProcess(cfg, tmp_path / "a").start()
    b = DlpProcess(cfg, tmp_path / "b").start()
    try:
        first, second = people(600, seed=6), people(600, seed=7)
        assert upload(a, upstream, first, user="carol")[0] == 200     # 600 in carol's window
        assert upload(b, upstream, first, user="carol")[0] == 200     # the same 600: still 600
        status, _h, data = upload(b, upstream, second, user="carol")  # 1200 >= 1000 via the other replica
        assert status == 403 and json.loads(data)["rules"] == ["drip"]
        assert upload(a, upstream, second, user="dave")[0] == 200     # another user's window
        assert metric(a.metrics_port, "dlp_state_backend_up") == 1
        # Redis dies: the proxy keeps serving with local counting and says so
        redis.stop()
        assert upload(a, upstream, people(10, seed=8), user="erin")[0] == 200
        assert metric(a.metrics_port, "dlp_state_backend_up") == 0
        assert "counting locally" in a.output()
    finally:
        a.stop()
        b.stop()
        redis.stop()
