"""The mail path with real parts: a `dlp run` subprocess with ``smtp.listen`` set, a recording
upstream SMTP server (aiosmtpd) on 127.0.0.1 that requires STARTTLS from the relay, and
Python's smtplib as the submitting client. Also: webmail uploads through the HTTP path."""

from __future__ import annotations

import base64
import http.client
import json
import smtplib
import socket
import ssl
import subprocess
import time

import pytest
from mail.peers import (
    Sink,
    forwarded,
    mime_with_attachment,
    plain_message,
    strip_received,
)
from servers import DLP, REPO, DlpProcess, Upstream, free_port, metric, multipart, self_signed
from synthetic import people, resident_csv

pytestmark = pytest.mark.e2e


POLICY = """\
version: 1
rules:
  - name: bulk-personal-data
    when: {{persons: 1000}}
    action: block
  - name: bulk-review
    when: {{persons: 100}}
    action: quarantine
smtp:
  listen: 127.0.0.1:{listen}
  upstream: 127.0.0.1:{upstream}
  upstream_starttls: required
  tls: {{cert: {cert}, key: {key}}}
  max_message: 20MiB
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("relay-tls"))


@pytest.fixture(scope="module")
def module_sink(tmp_path_factory):
    s = Sink(tls=self_signed(tmp_path_factory.mktemp("sink-tls"))).start()
    yield s
    s.stop()


@pytest.fixture
def sink(module_sink):
    module_sink.received.clear()
    module_sink.connections = 0
    return module_sink


@pytest.fixture(scope="module")
def dlp(tmp_path_factory, module_sink, certs):
    tmp = tmp_path_factory.mktemp("dlp-smtp")
    cfg = tmp / "dlp.yaml"
    smtp_port = free_port()
    cfg.write_text(POLICY.format(listen=smtp_port, upstream=module_sink.port, cert=certs[0], key=certs[1]))
    proc = DlpProcess(cfg, tmp / "var", ["--set", "ssl_insecure=true"]).start()
    proc.smtp_port = smtp_port
    proc.config = cfg
    yield proc
    assert proc.stop() == 0, proc.output()


def submit(dlp, sender: str, recipients: list[str], data: bytes, tls: bool = True,
           certs=None, mail_options=()) -> tuple[int, bytes]:
    """One transaction with smtplib; (code, text) of the reply to DATA."""
    with smtplib.SMTP("localhost", dlp.smtp_port, timeout=120) as c:
        c.ehlo("client.example.jp")
        if tls:
            c.starttls(context=ssl.create_default_context(cafile=str(certs[0])))
            c.ehlo("client.example.jp")
        assert c.mail(sender, list(mail_options))[0] == 250
        for r in recipients:
            assert c.rcpt(r)[0] == 250
        return c.data(data)


def incident(dlp, incident_id: str) -> dict:
    for line in (dlp.data_dir / "incidents.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["id"] == incident_id:
            return record
    raise AssertionError(f"no incident {incident_id}")


def incident_id(text: bytes) -> str:
    return text.decode().rsplit("(incident ", 1)[1].rstrip(")")


def csv_mail(n: int, encoding: str, seed: int) -> tuple[bytes, list]:
    persons = people(n, seed=seed)
    body = "お疲れさまです。\n今月の名簿を添付します。\n\n-- \n総務部 佐藤\n"
    return mime_with_attachment(body, "iso-2022-jp", resident_csv(persons, encoding), "住民名簿.csv"), persons


def body_mail(n: int, seed: int) -> bytes:
    """Personal data in the text itself (no attachment), which needs no MIME parsing."""
    text = resident_csv(people(n, seed=seed), "utf-8").decode()
    return plain_message("名簿を貼り付けます。\n" + text)


def test_bulk_shift_jis_csv_attachment_is_rejected_and_upstream_receives_nothing(dlp, sink, certs):
    data, _ = csv_mail(1200, "shift_jis", seed=21)
    code, text = submit(dlp, "sender@example.jp", ["partner@example.com"], data, certs=certs)
    assert code == 550, text
    assert text.startswith(b"5.7.1 Blocked by Sekimori rule bulk-personal-data (incident ")
    record = incident(dlp, incident_id(text))
    assert record["action"] == "block" and record["protocol"] == "smtp" and record["persons"] >= 1200
    assert sink.received == [] and sink.connections == 0


def test_forwarded_mail_with_a_bulk_attachment_is_rejected(dlp, sink, certs):
    inner, _ = csv_mail(1100, "cp932", seed=30)
    code, text = submit(dlp, "sender@example.jp", ["partner@example.com"], forwarded(inner), certs=certs)
    assert code == 550 and b"bulk-personal-data" in text, text
    assert incident(dlp, incident_id(text))["persons"] >= 1000
    assert sink.received == [] and sink.connections == 0


def test_bulk_personal_data_in_the_body_is_rejected_and_upstream_receives_nothing(dlp, sink, certs):
    code, text = submit(dlp, "sender@example.jp", ["a@example.com", "b@partner.example.net"],
                        body_mail(1200, seed=22), certs=certs)
    assert code == 550 and text.startswith(b"5.7.1 Blocked by Sekimori rule bulk-personal-data (incident ")
    record = incident(dlp, incident_id(text))
    assert record["protocol"] == "smtp" and record["user"] == "sender@example.jp"
    assert record["persons"] >= 1000 and record["client_ip"] == "127.0.0.1"
    assert record["destination"]["recipients_domains"] == ["example.com", "partner.example.net"]
    assert sink.received == [] and sink.connections == 0


def test_ordinary_mail_with_a_signature_arrives_with_identical_body_bytes(dlp, sink, certs):
    data = mime_with_attachment(
        "山田様\n\nお世話になっております。見積書をお送りします。\n\n-- \n株式会社サンプル 営業部\n"
        "鈴木 一郎\nTel: 03-1234-5678\nMail: suzuki@example.jp\n",
        "iso-2022-jp", "品名,数量,単価\r\nA4用紙,10,450\r\nトナー,2,12800\r\n".encode("cp932"), "見積書.csv")
    code, text = submit(dlp, "suzuki@example.jp", ["yamada@example.com"], data, certs=certs)
    assert code == 250 and text.startswith(b"2.0.0 Ok: queued as SINK"), text  # the upstream's answer
    [got] = sink.wait(1)
    first, rest = strip_received(got.data)
    assert rest == data
    assert first.startswith(b"Received: from client.example.jp ([127.0.0.1]) by ") and b"with ESMTPS" in first
    assert got.sender == "suzuki@example.jp" and got.recipients == ["yamada@example.com"]
    assert got.tls  # relay → upstream under STARTTLS (upstream_starttls: required)


def test_iso_2022_jp_mail_with_a_cp932_csv_attachment_is_counted(dlp, sink, certs):
    data, _ = csv_mail(150, "cp932", seed=23)
    code, text = submit(dlp, "sender@example.jp", ["partner@example.com"], data, certs=certs)
    assert code == 250 and text.startswith(b"2.0.0 Held for review by Sekimori (incident "), text
    record = incident(dlp, incident_id(text))
    # the 150 residents; the From/To addresses of the header may count as their own persons
    assert 150 <= record["persons"] <= 152, record["persons"]
    assert any(name.endswith("住民名簿.csv") for name in record["filenames"]), record["filenames"]
    assert sink.received == []


def test_quarantined_mail_is_released_and_arrives_once(dlp, sink, certs):
    data = body_mail(150, seed=24)
    code, text = submit(dlp, "sender@example.jp", ["partner@example.com", "cc@example.net"], data, certs=certs)
    assert code == 250 and text.startswith(b"2.0.0 Held for review by Sekimori (incident "), text
    held = incident_id(text)
    assert incident(dlp, held)["action"] == "quarantine"
    time.sleep(0.5)
    assert sink.received == []
    release = [*DLP, "quarantine", "release", held, "--config", str(dlp.config), "--data-dir", str(dlp.data_dir)]
    done = subprocess.run(release, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [got] = sink.wait(1)
    assert got.data == data  # exactly as received
    assert got.sender == "sender@example.jp" and got.recipients == ["partner@example.com", "cc@example.net"]
    again = subprocess.run(release, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert again.returncode != 0
    time.sleep(0.5)
    assert len(sink.received) == 1


def test_starttls_client_to_relay_and_relay_to_upstream(dlp, sink, certs):
    with smtplib.SMTP("localhost", dlp.smtp_port, timeout=60) as c:
        c.ehlo()
        assert c.has_extn("starttls") and c.has_extn("pipelining") and c.has_extn("smtputf8")
        c.starttls(context=ssl.create_default_context(cafile=str(certs[0])))
        assert isinstance(c.sock, ssl.SSLSocket) and c.sock.version() in ("TLSv1.2", "TLSv1.3")
        c.ehlo()
        assert c.sendmail("s@example.jp", ["d@example.com"], plain_message("tls both ways")) == {}
    [got] = sink.wait(1)
    assert got.tls and b" with ESMTPS id " in strip_received(got.data)[0]


def test_several_messages_rset_and_smtputf8_in_one_session(dlp, sink, certs):
    with smtplib.SMTP("localhost", dlp.smtp_port, timeout=60) as c:
        c.starttls(context=ssl.create_default_context(cafile=str(certs[0])))
        c.ehlo()
        c.mail("x@example.jp")
        c.rcpt("y@example.com")
        c.rset()
        assert c.sendmail("s1@example.jp", ["d@example.com"], plain_message("one")) == {}
        assert c.sendmail("送信者@例え.jp", ["宛先@example.com"], plain_message("二"), mail_options=["SMTPUTF8"]) == {}
    got = sink.wait(2)
    assert [d.sender for d in got] == ["s1@example.jp", "送信者@例え.jp"] and "SMTPUTF8" in got[1].mail_options


def test_metrics_count_smtp_transfers(dlp, sink, certs):
    def count(action: str) -> float:
        return metric(dlp.metrics_port, "dlp_transfers_total", {"protocol": "smtp", "action": action}) or 0.0

    allowed, blocked = count("allow"), count("block")
    assert submit(dlp, "s@example.jp", ["d@example.com"], plain_message("hello"), certs=certs)[0] == 250
    assert submit(dlp, "s@example.jp", ["d@example.com"], body_mail(1100, seed=25), certs=certs)[0] == 550
    assert count("allow") == allowed + 1 and count("block") == blocked + 1
    assert (metric(dlp.metrics_port, "dlp_bytes_inspected_total", {"protocol": "smtp"}) or 0) > 0


def test_malformed_input_never_crashes_the_relay(dlp, sink, certs):
    import os
    for junk in (os.urandom(4096), b"EHLO x\r\n" + b"A" * 5000 + b"\r\nMAIL FROM:<<>\r\nDATA\r\n",
                 b"EHLO x\r\nMAIL FROM:<a@b.jp>\r\nRCPT TO:<c@d.jp>\r\nDATA\r\nhalf a message"):
        with socket.create_connection(("127.0.0.1", dlp.smtp_port), 10) as s:
            s.sendall(junk)
            s.settimeout(10)
            assert s.recv(4096).startswith(b"220 ")
    assert submit(dlp, "s@example.jp", ["d@example.com"], plain_message("still up"), certs=certs)[0] == 250
    assert dlp.proc.poll() is None


def test_no_raw_personal_data_in_logs_or_data_dir(dlp, sink, certs):
    persons = people(1300, seed=26)
    data = plain_message("\n".join(f"{p.name} {p.phone} {p.email}" for p in persons))
    assert submit(dlp, "leaker@example.jp", ["x@example.com"], data, certs=certs)[0] == 550
    written = b"".join(p.read_bytes() for p in dlp.data_dir.rglob("*") if p.is_file())
    text = (written + dlp.log_path.read_bytes()).decode("utf-8", "replace")
    for p in persons:
        assert p.phone not in text and p.name not in text and p.email not in text


def test_port_in_use_makes_dlp_run_fail_clearly(tmp_path, module_sink):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cfg = tmp_path / "dlp.yaml"
        cfg.write_text(f"version: 1\nallow_no_stopping_rules: true\n"
                       f"smtp: {{listen: '127.0.0.1:{port}', upstream: '127.0.0.1:{module_sink.port}'}}\n")
        args = [*DLP, "run", "--config", str(cfg), "--listen", f"127.0.0.1:{free_port()}",
                "--metrics", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path / "var")]
        done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Sekimori proxy listening" not in done.stdout
    assert f"cannot listen on 127.0.0.1:{port} (smtp.listen): address already in use" in done.stderr


# -- webmail: uploads over HTTPS are the HTTP path's --------------------------------------------

def _https_post(dlp, port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    ctx = ssl.create_default_context(cafile=str(dlp.ca))
    conn = http.client.HTTPSConnection("127.0.0.1", dlp.port, context=ctx, timeout=60)
    conn.set_tunnel("localhost", port)
    conn.request("POST", path, body=body, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


@pytest.fixture
def webmail(tmp_path):
    up = Upstream(tls_cert=self_signed(tmp_path)).start()
    yield up
    up.stop()


def test_webmail_multipart_attachment_upload_is_blocked(dlp, webmail):
    body, ctype = multipart("住民名簿.csv", resident_csv(people(1200, seed=27)))
    assert _https_post(dlp, webmail.port, "/mail/u/0/upload?attid=1", body, {"Content-Type": ctype}) == 403
    assert webmail.received == []


def test_webmail_json_send_with_base64_attachment_is_blocked(dlp, webmail):
    # the shape of Microsoft Graph's sendMail (Outlook on the web sends the same fileAttachment)
    doc = {"message": {"subject": "名簿", "body": {"contentType": "Text", "content": "添付します"},
                       "toRecipients": [{"emailAddress": {"address": "partner@example.com"}}],
                       "attachments": [{"@odata.type": "#microsoft.graph.fileAttachment", "name": "名簿.csv",
                                        "contentType": "text/csv", "contentBytes": base64.b64encode(
                                            resident_csv(people(1200, seed=28))).decode()}]}}
    status = _https_post(dlp, webmail.port, "/v1.0/me/sendMail", json.dumps(doc, ensure_ascii=False).encode(),
                         {"Content-Type": "application/json"})
    assert status == 403 and webmail.received == []


# -- against Debian's Postfix as the upstream MTA ---------------------------------------------

@pytest.fixture(scope="module")
def postfix_path(tmp_path_factory, certs):
    """dlp run → Postfix (STARTTLS required) → the recording sink."""
    from mail.peers import Postfix, postfix_unavailable
    why = postfix_unavailable()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("dlp-postfix")
    final = Sink().start()
    pf = Postfix(final.port, self_signed(tmp), {"refused@example.com": "550 5.1.1 no such user"}).start()
    cfg = tmp / "dlp.yaml"
    smtp_port = free_port()
    cfg.write_text(POLICY.format(listen=smtp_port, upstream=pf.port, cert=certs[0], key=certs[1]))
    proc = DlpProcess(cfg, tmp / "var").start()
    proc.smtp_port = smtp_port
    yield proc, pf, final
    assert proc.stop() == 0, proc.output()
    pf.stop()
    final.stop()


def test_postfix_upstream(postfix_path, certs):
    dlp, postfix, final = postfix_path
    data = plain_message("お世話になっております。\n\n-- \n株式会社サンプル 鈴木\nTel: 03-1234-5678\n",
                         charset="iso-2022-jp", cte="7bit")
    code, text = submit(dlp, "suzuki@example.jp", ["yamada@example.com"], data, certs=certs)
    assert code == 250 and text.startswith(b"2.0.0 Ok: queued as "), text  # Postfix's own answer
    [got] = final.wait(1, timeout=30)
    i = got.data.index(b"Received: from client.example.jp ")
    ours, rest = strip_received(got.data[i:])
    assert rest == data and b"(Sekimori) with ESMTPS id " in ours  # our one line, then the message
    postfix_trace = got.data[:i]  # Postfix prepended its own Received: only
    assert postfix_trace.startswith(b"Received: from ") and b"by upstream.sekimori.test" in postfix_trace
    assert b"(using TLSv1." in postfix_trace and b"with ESMTPS" in postfix_trace  # relay → Postfix under TLS

    code, text = submit(dlp, "s@example.jp", ["ok@example.com", "refused@example.com"], plain_message("x"),
                        certs=certs)
    assert code == 550 and text.startswith(b"5.1.1 <refused@example.com>: Recipient address rejected"), text
    assert b"nothing was relayed" in text

    code, text = submit(dlp, "s@example.jp", ["d@example.com"], body_mail(1100, seed=29), certs=certs)
    assert code == 550 and b"bulk-personal-data" in text
    time.sleep(1)
    assert len(final.received) == 1
    assert postfix.maillog().count(" starttls=1 ") == 2  # two relay sessions: the blocked mail opened none
