"""The proxy's own surface (issue 13, point 6): loopback by default, key files nobody else can
read, and a block page that escapes everything it echoes."""

from __future__ import annotations

import html
import json

import pytest

from dlp import cli, notice
from dlp.config import parse_policy
from dlp.keyfiles import exposed, key_files
from dlp.model import Decision, ScanResult

POLICY = b"version: 1\nrules:\n  - {name: bulk, when: {persons: 1000}, action: block}\n"


# -- loopback by default ----------------------------------------------------------------------


def test_run_listens_and_serves_metrics_on_loopback_unless_told_otherwise():
    args = cli._parser().parse_args(["run"])
    assert args.listen == ("127.0.0.1", 8080)
    assert args.metrics == ("127.0.0.1", 9464)          # /metrics, /healthz, /readyz
    # A port without a host is loopback too, never every interface.
    assert cli._parser().parse_args(["run", "--metrics", ":9999"]).metrics == ("127.0.0.1", 9999)
    assert cli._parser().parse_args(["run", "--metrics", "0.0.0.0:9464"]).metrics == ("0.0.0.0", 9464)


def test_the_mail_relay_is_off_unless_configured():
    assert parse_policy(POLICY).smtp.listen == ""


# -- key files --------------------------------------------------------------------------------


def test_key_files_are_the_ca_key_the_quarantine_key_and_the_salt(tmp_path):
    pol = parse_policy(POLICY)
    assert key_files(tmp_path, pol) == [tmp_path / "mitmproxy" / "mitmproxy-ca.pem",
                                        tmp_path / "mitmproxy" / "mitmproxy-ca.p12",
                                        tmp_path / "quarantine.key", tmp_path / "salt"]
    elsewhere = parse_policy(POLICY + b"quarantine: {key_file: /etc/sekimori/q.key}\n")
    assert key_files(tmp_path, elsewhere)[2].as_posix() == "/etc/sekimori/q.key"


@pytest.mark.parametrize("mode, message", [
    (0o600, None),
    (0o400, None),
    (0o640, "has mode 0640: its group can read it"),
    (0o604, "has mode 0604: others can read it"),
    (0o644, "has mode 0644: its group and others can read it"),
    (0o620, "has mode 0620: its group can change it"),
])
def test_a_key_file_others_can_use_is_named_with_its_mode_and_the_fix(tmp_path, mode, message):
    key = tmp_path / "quarantine.key"
    key.write_text("k1:AAAA\n")
    key.chmod(mode)
    missing = tmp_path / "salt"                          # not there yet: it will be created 0600
    found = exposed([key, missing])
    if message is None:
        assert found == []
    else:
        assert found == [f"key file {key} {message}; only this account may (fix: chmod 600 {key})"]


# -- the block page -----------------------------------------------------------------------------

HOSTILE = ["<img src=x onerror=alert(1)>.csv", "o'brien \"root\" <b>", "</code><script>alert('r')</script>"]


def test_the_block_page_escapes_everything_it_echoes():
    contact = "IT \"help\" desk <script>alert('c')</script> & co"
    decision = Decision("block", rules=tuple(HOSTILE), uninspectable=("<svg onload=alert(2)>",),
                        incident_id="<i>01J\"x'</i>")
    page, ctype = notice.render(decision, ScanResult(persons=3), contact, "text/html")
    text = page.decode()
    assert ctype == "text/html; charset=utf-8"
    for raw in [*HOSTILE, contact, "<svg onload=alert(2)>", "<i>01J\"x'</i>"]:
        assert raw not in text
        assert html.escape(raw) in text                 # shown, as text
    assert "<script" not in text and "<img" not in text and "<svg" not in text and "<i>" not in text


def test_the_json_answer_carries_the_same_values_as_data():
    contact = "IT \"help\" desk <script>alert('c')</script>"
    decision = Decision("quarantine", rules=(HOSTILE[1],), incident_id="01J")
    body, ctype = notice.render(decision, ScanResult(persons=3), contact, "application/json")
    assert ctype == "application/json; charset=utf-8"
    doc = json.loads(body)
    assert doc["rules"] == [HOSTILE[1]] and doc["contact"] == contact
