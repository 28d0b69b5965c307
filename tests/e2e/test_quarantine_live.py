"""Quarantine and incidents with real parts: a `dlp run`, a recording upstream, the `dlp`
review verbs, and a webhook receiver."""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import threading

import pytest
from servers import DLP, REPO, DlpProcess, metric, multipart, send_http
from synthetic import people, resident_csv

pytestmark = pytest.mark.e2e

USER = "X-Authenticated-User"


def dlp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DLP, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


class Hook:
    """A webhook receiver that records what it gets and fails the first request."""

    def __init__(self) -> None:
        hook = self
        self.received: list[dict] = []
        self.calls = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hook.calls += 1
                body = self.rfile.read(int(self.headers["content-length"]))
                if hook.calls == 1:
                    self.send_response(503)   # the first attempt fails: the sender must retry
                else:
                    hook.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def setup(tmp_path):
    hook = Hook()
    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"""version: 1
identity: {{header: {USER}, trusted_networks: [127.0.0.0/8]}}
rules:
  - {{name: bulk-review, when: {{persons: 100}}, action: quarantine}}
quarantine: {{approval_ttl: 1h}}
notify: {{contact: "desk@example.jp", webhook: {{url: "{hook.url}", retries: 3}}}}
""")
    proc = DlpProcess(cfg, tmp_path / "var").start()
    yield proc, cfg, hook
    proc.stop()
    hook.server.shutdown()


def test_quarantine_release_grants_one_pass_and_records_everything(setup, upstream):
    proc, cfg, hook = setup
    body, ctype = multipart("list.csv", resident_csv(people(150, seed=31)))
    headers = {"Content-Type": ctype, USER: "alice"}
    status, resp_headers, page = send_http(proc.port, upstream.port, body, headers)
    assert status == 403 and "保留" in page.decode() and "150" in page.decode()
    item_id = resp_headers["x-sekimori-incident"]
    assert upstream.received == []

    common = ["--data-dir", str(proc.data_dir), "--config", str(cfg)]
    listed = json.loads(dlp("quarantine", "list", "--json", *common).stdout)
    assert [(i["id"], i["state"], i["persons"], i["user"]) for i in listed] == [(item_id, "held", 150, "alice")]
    assert metric(proc.metrics_port, "dlp_quarantine_items") == 1

    out = proc.data_dir.parent / "export.bin"
    assert dlp("quarantine", "export", item_id, "--out", str(out), *common).returncode == 0
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(body).hexdigest()

    shown = dlp("quarantine", "show", item_id, *common)
    assert shown.returncode == 0 and "090-****" in shown.stdout

    rel = dlp("quarantine", "release", item_id, *common)
    assert rel.returncode == 0, rel.stderr
    assert not (proc.data_dir / "quarantine" / f"{item_id}.bin").exists()
    # the same user sends the same content to the same destination: it passes, once
    status, _h, _d = send_http(proc.port, upstream.port, body, headers)
    assert status == 200 and [r.sha256 for r in upstream.received] == [hashlib.sha256(body).hexdigest()]
    assert send_http(proc.port, upstream.port, body, headers)[0] == 403
    # another user with the same content does not pass
    other = {**headers, USER: "mallory"}
    assert send_http(proc.port, upstream.port, body, other)[0] == 403

    incidents = [json.loads(x) for x in (proc.data_dir / "incidents.jsonl").read_text().splitlines()]
    assert any(i["action"] == "allow" and i["approval"] == item_id for i in incidents)
    listed = dlp("incidents", "list", "--json", "--action", "quarantine", "--since", "1h", *common)
    assert item_id in listed.stdout
    report = dlp("incidents", "report", item_id, *common)
    assert report.returncode == 0 and "150 人" in report.stdout and "電話番号" in report.stdout
    # the webhook got the incidents despite its first failure, masked
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(i["id"] == item_id for i in hook.received):
        time.sleep(0.2)
    got = next(i for i in hook.received if i["id"] == item_id)
    assert got["persons"] == 150 and got["evidence"]["samples"]["phone"]


def test_reject_deletes_and_no_raw_data_anywhere(setup, upstream):
    proc, cfg, _hook = setup
    persons = people(150, seed=32)
    body, ctype = multipart("list.csv", resident_csv(persons))
    _status, resp_headers, _p = send_http(proc.port, upstream.port, body, {"Content-Type": ctype, USER: "bob"})
    item_id = resp_headers["x-sekimori-incident"]
    common = ["--data-dir", str(proc.data_dir), "--config", str(cfg)]
    written = b"".join(p.read_bytes() for p in proc.data_dir.rglob("*") if p.is_file()) + proc.log_path.read_bytes()
    text = written.decode("utf-8", "replace")
    for p in persons:
        assert p.phone not in text and p.name not in text and p.name.replace(" ", "") not in text
    assert dlp("quarantine", "reject", item_id, *common).returncode == 0
    assert not (proc.data_dir / "quarantine" / f"{item_id}.bin").exists()
    assert "rejected" in dlp("quarantine", "list", *common).stdout
    gone = dlp("quarantine", "export", item_id, "--out", str(proc.data_dir.parent / "x"), *common)
    assert gone.returncode == 2 and "deleted" in gone.stderr


def test_unwritable_quarantine_blocks_instead(setup, upstream):
    proc, _cfg, _hook = setup
    (proc.data_dir / "quarantine").mkdir(exist_ok=True)
    import shutil
    shutil.rmtree(proc.data_dir / "quarantine")
    (proc.data_dir / "quarantine").write_text("a file where the directory should be")
    body, ctype = multipart("list.csv", resident_csv(people(150, seed=33)))
    status, _h, page = send_http(proc.port, upstream.port, body, {"Content-Type": ctype, "Accept": "application/json"})
    assert status == 403 and json.loads(page)["action"] == "block"
    assert upstream.received == []
    assert metric(proc.metrics_port, "dlp_errors_total", {"stage": "quarantine"}) >= 1
