"""The proxy's own surface through a real `dlp run` (issue 13, point 6): the key files it
creates are 0600, it refuses to start while one is readable by others, and its block page
shows hostile file names, URLs, user names and contacts only as text."""

from __future__ import annotations

import html
import json
import subprocess

import pytest
from servers import DLP, REPO, DlpProcess, free_port, multipart, send_http
from synthetic import people, resident_csv

pytestmark = pytest.mark.e2e

USER_HEADER = "X-Authenticated-User"
POLICY = f"""version: 1
identity: {{header: {USER_HEADER}, trusted_networks: [127.0.0.0/8]}}
rules:
  - {{name: bulk, when: {{persons: 1000}}, action: block}}
  - {{name: review, when: {{persons: 100}}, action: quarantine}}
"""


def start_refused(cfg, data_dir) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DLP, "run", "--config", str(cfg), "--listen", f"127.0.0.1:{free_port()}",
                           "--metrics", f"127.0.0.1:{free_port()}", "--data-dir", str(data_dir)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_key_files_are_created_0600_and_a_loosened_one_stops_the_next_start(tmp_path, upstream):
    cfg = tmp_path / "dlp.yaml"
    cfg.write_text(POLICY)
    data = tmp_path / "var"
    proc = DlpProcess(cfg, data).start()
    try:
        body, ctype = multipart("review.csv", resident_csv(people(150, seed=1311)))
        assert send_http(proc.port, upstream.port, body, {"Content-Type": ctype})[0] == 403   # held: key created
    finally:
        assert proc.stop() == 0
    keys = [data / "mitmproxy" / "mitmproxy-ca.pem", data / "mitmproxy" / "mitmproxy-ca.p12",
            data / "quarantine.key", data / "salt"]
    assert {k.name: oct(k.stat().st_mode & 0o777) for k in keys} == {k.name: "0o600" for k in keys}
    ca = keys[0].read_bytes()

    for key, mode in zip(keys, (0o644, 0o640, 0o604, 0o660), strict=True):
        key.chmod(mode)
        out = start_refused(cfg, data)
        assert out.returncode == 2, out.stderr
        who = {0o644: "its group and others", 0o640: "its group", 0o604: "others", 0o660: "its group"}[mode]
        assert out.stderr == (f"dlp: key file {key} has mode {mode:04o}: {who} can read it; only this account "
                              f"may (fix: chmod 600 {key})\n")
        assert "listening" not in out.stdout
        key.chmod(0o600)                                    # the fix the message names

    proc = DlpProcess(cfg, data).start()                    # fixed: it starts, with the same CA
    try:
        assert keys[0].read_bytes() == ca
    finally:
        assert proc.stop() == 0


def test_a_quarantine_key_file_elsewhere_is_checked_too(tmp_path):
    key = tmp_path / "secrets" / "quarantine.key"
    key.parent.mkdir()
    key.write_text("k1:" + "A" * 43 + "=\n")
    key.chmod(0o440)                                         # as a Kubernetes Secret volume would have it
    cfg = tmp_path / "dlp.yaml"
    cfg.write_text(POLICY + f"quarantine: {{key_file: {key}}}\n")
    out = start_refused(cfg, tmp_path / "var")
    assert out.returncode == 2
    assert out.stderr == f"dlp: key file {key} has mode 0440: its group can read it; only this account may " \
                         f"(fix: chmod 600 {key})\n"


HOSTILE_FILE = "<img src=x onerror=alert(1)>.csv"
HOSTILE_USER = "o'brien \"root\" <b>"
HOSTILE_CONTACT = "IT \"help\" desk <script>alert('contact')</script> & ext. 1234"
HOSTILE_QUERY = "?q=<script>alert('url')</script>&name=\"x\""


def test_the_block_page_shows_hostile_names_only_as_text(tmp_path, upstream):
    cfg = tmp_path / "dlp.yaml"
    cfg.write_text(POLICY + f"notify: {{contact: {json.dumps(HOSTILE_CONTACT)}}}\n")
    proc = DlpProcess(cfg, tmp_path / "var").start()
    try:
        body, ctype = multipart(HOSTILE_FILE, resident_csv(people(1000, seed=1312)))
        status, headers, page = send_http(
            proc.port, upstream.port, body,
            {"Content-Type": ctype, USER_HEADER: HOSTILE_USER, "Accept": "text/html,application/xhtml+xml"},
            path="/upload" + HOSTILE_QUERY.replace(" ", "%20"))
        assert status == 403 and headers["content-type"] == "text/html; charset=utf-8"
        assert upstream.received == []
        text = page.decode()
        for raw in (HOSTILE_FILE, HOSTILE_USER, HOSTILE_CONTACT, HOSTILE_QUERY, "<script", "<img", "<b>"):
            assert raw not in text, raw
        assert html.escape(HOSTILE_CONTACT) in text          # the contact is shown, as text
        # The hostile user really was the user of this transfer (the page had it to echo).
        [incident] = [json.loads(line) for line in (tmp_path / "var" / "incidents.jsonl").read_text().splitlines()]
        assert incident["user"] == HOSTILE_USER and incident["id"] in text
    finally:
        assert proc.stop() == 0
