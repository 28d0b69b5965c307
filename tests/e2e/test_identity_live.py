"""Identity through a real `dlp run` with the shipped policy: a claimed user name that changes
with every transfer must not reset the 1,000-person window (issue 12, points 4 and 5).

Each test counts the resident rows the upstream actually RECEIVED. A chunk stays under the
per-transfer rules (the shipped bulk-review quarantines 100 persons, personal-data-seen only
logs 10), so only drip-exfiltration's window, `per: [user, client_ip]`, can stop the series.
"""

from __future__ import annotations

import base64
import json
import smtplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from mail.peers import Sink, plain_message, strip_received
from servers import REPO, DlpProcess, free_port, multipart, send_http
from synthetic import people, resident_csv

from e2e.test_websocket import WsClient, WsUpstream

pytestmark = pytest.mark.e2e

USER_HEADER = "X-Authenticated-User"
WINDOW = 1000       # the shipped drip-exfiltration threshold
LIMIT = 1100        # rows that must never all arrive
HTTP_ROWS = 50      # per POST/GET: 50 persons, logged, not held
MAIL_ROWS = 97      # per mail: with the From: and To: addresses of its header, 99 persons (< 100)


def shipped(tmp_path: Path, **overrides: object) -> Path:
    """config/dlp.yaml as shipped, with only the given top-level keys replaced."""
    doc = yaml.safe_load((REPO / "config" / "dlp.yaml").read_text(encoding="utf-8"))
    assert doc["rules"][2]["name"] == "drip-exfiltration"
    assert doc["rules"][2]["when"]["window"] == {"persons": WINDOW, "period": "30d", "per": ["user", "client_ip"]}
    doc.update(overrides)
    path = tmp_path / "dlp.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def incidents(proc: DlpProcess) -> list[dict]:
    path = proc.data_dir / "incidents.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def chunks(rows: int, total: int, seed: int) -> list[bytes]:
    """CSV exports of ``rows`` distinct residents each, ``total`` residents in all."""
    persons = people(total, seed=seed)
    return [resident_csv(persons[i:i + rows]) for i in range(0, total, rows)]


def post_rotating(proc: DlpProcess, upstream) -> tuple[list[int], dict[bytes, str]]:
    """50-row uploads, alternately POST and GET with a body, each under a new claimed user;
    (statuses, body → claimed user) until the first 403, and a few more after it."""
    statuses: list[int] = []
    claims: dict[bytes, str] = {}
    for i, csv in enumerate(chunks(HTTP_ROWS, 1500, seed=71)):
        body, ctype = multipart("part.csv", csv)
        claims[body] = f"Claim-{i}"
        status, _h, _d = send_http(proc.port, upstream.port, body, {"Content-Type": ctype, USER_HEADER: claims[body]},
                                   method="GET" if i % 2 else "POST", path=f"/sync?part={i}")
        statuses.append(status)
        if statuses.count(403) == 3:
            break
    return statuses, claims


def test_a_rotating_user_header_from_an_untrusted_client_is_stopped_by_the_window(tmp_path, upstream):
    cfg = shipped(tmp_path, identity={"header": USER_HEADER, "trusted_networks": ["192.0.2.0/24"], "departed": []})
    proc = DlpProcess(cfg, tmp_path / "var").start()
    try:
        statuses, claims = post_rotating(proc, upstream)
        rows = HTTP_ROWS * sum(1 for r in upstream.received if r.body in claims)
        assert rows < LIMIT and rows == HTTP_ROWS * (WINDOW // HTTP_ROWS - 1), rows   # 950: the 20th is stopped
        assert statuses[:19] == [200] * 19 and statuses[19:] == [403] * 3
        blocked = [i for i in incidents(proc) if i["action"] == "block"]
        assert len(blocked) == 3 and all(i["rules"] == ["drip-exfiltration", "personal-data-seen"] for i in blocked)
        assert {i["user"] for i in incidents(proc)} == {None}                 # the claims were not believed
        assert {i["client_ip"] for i in incidents(proc)} == {"127.0.0.1"}
        assert {r.method for r in upstream.received} == {"GET", "POST"}
    finally:
        proc.stop()


def test_the_user_header_from_a_trusted_network_is_believed(tmp_path, upstream):
    cfg = shipped(tmp_path, identity={"header": USER_HEADER, "trusted_networks": ["127.0.0.0/8", "::1"],
                                      "departed": []})
    proc = DlpProcess(cfg, tmp_path / "var").start()
    try:
        statuses, claims = post_rotating(proc, upstream)
        rows = HTTP_ROWS * sum(1 for r in upstream.received if r.body in claims)
        # each claim was believed, so only the machine's window (ip:127.0.0.1) held them all
        assert rows < LIMIT and statuses.index(403) == WINDOW // HTTP_ROWS - 1, (rows, statuses)
        seen = incidents(proc)
        assert [i["user"] for i in seen] == [f"Claim-{n}" for n in range(len(statuses))]   # spelling kept
        assert [i["action"] for i in seen][-3:] == ["block"] * 3
        assert "identity.header" not in proc.output()                           # no warning: networks set
    finally:
        proc.stop()


def test_a_header_without_trusted_networks_is_ignored_with_a_warning(tmp_path, upstream):
    cfg = shipped(tmp_path, identity={"header": USER_HEADER, "departed": ["taro.yamada"]})
    proc = DlpProcess(cfg, tmp_path / "var").start()
    try:
        status, _h, _d = send_http(proc.port, upstream.port, b"weekly notes",
                                   {"Content-Type": "text/plain", USER_HEADER: "taro.yamada"})
        assert status == 200 and len(upstream.received) == 1                  # a claim is not an identity
        assert f"identity.header {USER_HEADER} is ignored: identity.trusted_networks is empty" in proc.output()
    finally:
        proc.stop()


def test_a_departed_proxyauth_user_matches_in_any_letter_case_and_wins_over_the_header(tmp_path, upstream):
    cfg = shipped(tmp_path, identity={"header": USER_HEADER, "trusted_networks": ["127.0.0.0/8"],
                                      "departed": ["departed.user"]})
    proc = DlpProcess(cfg, tmp_path / "var", ["--set", "proxyauth=Departed.User:s3cret"]).start()
    try:
        auth = "Basic " + base64.b64encode(b"Departed.User:s3cret").decode()
        status, headers, _d = send_http(proc.port, upstream.port, b"weekly notes", {
            "Content-Type": "text/plain", "Proxy-Authorization": auth, USER_HEADER: "someone.else"})
        assert status == 403 and upstream.received == []
        [record] = incidents(proc)
        assert record["id"] == headers["x-sekimori-incident"]
        assert record["rules"] == ["departed-account"] and record["severity"] == "critical"
        assert record["user"] == "Departed.User"
    finally:
        proc.stop()


def test_rotating_identity_over_new_websocket_connections_fills_the_same_window(tmp_path, upstream):
    """Uploads first, then one WebSocket connection per claimed user, all from one machine:
    protocol and claimed name change, the client_ip window does not."""
    cfg = shipped(tmp_path, identity={"header": USER_HEADER, "trusted_networks": ["127.0.0.0/8"], "departed": []})
    proc = DlpProcess(cfg, tmp_path / "var").start()
    ws_upstream = WsUpstream()
    try:
        parts = chunks(HTTP_ROWS, 1500, seed=73)
        sent: dict[bytes | str, int] = {}
        for i, csv in enumerate(parts[:5]):                     # 250 rows over HTTP
            body, ctype = multipart("part.csv", csv)
            sent[body] = HTTP_ROWS
            assert send_http(proc.port, upstream.port, body, {"Content-Type": ctype, USER_HEADER: f"web-{i}"})[0] == 200
        for i, csv in enumerate(parts[5:]):                     # then 50 rows per new connection
            message = csv.decode("cp932")
            sent[message] = HTTP_ROWS
            client = WsClient(proc.port, ws_upstream.port, {USER_HEADER: f"ws-{i}"})
            client.send(message)
            deadline = time.monotonic() + 20                    # one verdict at a time
            while time.monotonic() < deadline and len(incidents(proc)) < 6 + i:
                time.sleep(0.05)
            client.sock.close()
            if sum(1 for x in incidents(proc) if x["action"] == "block") == 3:
                break
        time.sleep(1)
        rows = sum(sent[b] for b in [r.body for r in upstream.received] + ws_upstream.received if b in sent)
        assert rows == HTTP_ROWS * (WINDOW // HTTP_ROWS - 1) < LIMIT, rows
        seen = incidents(proc)
        assert [(x["protocol"], x["action"]) for x in seen] == \
            [("http", "log")] * 5 + [("websocket", "log")] * 14 + [("websocket", "block")] * 3
        assert [x["user"] for x in seen[4:7]] == ["web-4", "ws-0", "ws-1"]      # each claim believed
        assert "drip-exfiltration" in seen[-1]["rules"]
    finally:
        proc.stop()
        ws_upstream.sock.close()


# -- the mail relay -------------------------------------------------------------------------

@pytest.fixture
def relay(tmp_path) -> Iterator[tuple[DlpProcess, Sink]]:
    """`dlp run` with the shipped policy and the relay on, in front of a recording SMTP server;
    a leaver's private address is listed, spelt differently from the way mail will use it."""
    sink = Sink().start()
    smtp_port = free_port()
    cfg = shipped(tmp_path, identity={"departed": ["taro.yamada", "Taro.Yamada@Private-Mail.Example"]},
                  smtp={"listen": f"127.0.0.1:{smtp_port}", "upstream": f"127.0.0.1:{sink.port}",
                        "upstream_starttls": "none"})
    proc = DlpProcess(cfg, tmp_path / "var").start()
    proc.smtp_port = smtp_port
    yield proc, sink
    try:
        assert proc.stop() == 0, proc.output()
    finally:
        sink.stop()


def send_mail(proc: DlpProcess, sender: str, data: bytes) -> tuple[int, bytes]:
    """One unauthenticated transaction from 127.0.0.1: (code, text) of the reply to DATA."""
    with smtplib.SMTP("127.0.0.1", proc.smtp_port, timeout=120) as c:
        c.ehlo("client.example.jp")
        assert c.mail(sender)[0] == 250
        assert c.rcpt("partner@example.com")[0] == 250
        return c.data(data)


def test_rotating_mail_from_without_auth_is_stopped_by_the_client_ip_window(relay):
    proc, sink = relay
    mails = {plain_message("名簿を送ります。\n" + csv.decode("cp932")): i
             for i, csv in enumerate(chunks(MAIL_ROWS, 97 * 15, seed=72))}
    codes = []
    for data, i in mails.items():
        code, _text = send_mail(proc, f"sender{i}@example.jp", data)
        codes.append(code)
        if codes.count(550) == 2:
            break
    sink.wait(codes.count(250))
    rows = MAIL_ROWS * sum(1 for d in sink.received if strip_received(d.data)[1] in mails)
    assert rows < LIMIT and codes[:10] == [250] * 10 and codes[10:] == [550, 550], (rows, codes)
    assert len(sink.received) == 10 and rows == 970
    blocked = [i for i in incidents(proc) if i["action"] == "block"]
    assert [i["rules"] for i in blocked] == [["drip-exfiltration", "personal-data-seen"]] * 2
    assert {i["client_ip"] for i in incidents(proc)} == {"127.0.0.1"}
    assert len({i["user"] for i in incidents(proc)}) == 12                     # a new sender each time


def test_a_departed_persons_other_address_as_envelope_sender_is_refused(relay):
    proc, sink = relay
    code, text = send_mail(proc, "taro.yamada@private-mail.example", plain_message("お世話になりました。"))
    assert code == 550 and text.startswith(b"5.7.1 Blocked by Sekimori rule departed-account (incident "), text
    [record] = incidents(proc)
    assert record["severity"] == "critical" and record["rules"] == ["departed-account"]
    assert record["user"] == "taro.yamada@private-mail.example" and record["protocol"] == "smtp"
    assert sink.received == [] and sink.connections == 0
    # another sender from the same client is relayed
    assert send_mail(proc, "hanako@example.jp", plain_message("ご連絡です。"))[0] == 250
    assert len(sink.wait(1)) == 1
