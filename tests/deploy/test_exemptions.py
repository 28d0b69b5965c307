"""What README.md says about exempting destinations from interception
(`--set ignore_hosts=REGEX` plus `tunnels.allow`), on a real `dlp run`: TLS to an exempt host
passes through untouched (the client sees the server's own certificate, so pinned apps work),
uninspected and counted as a tunnel, while plain HTTP to the same host is still inspected.
Without `tunnels.allow` it would be refused (tests/e2e/test_tunnels.py)."""

from __future__ import annotations

import http.client
import ssl

import pytest
from servers import DlpProcess, Upstream, self_signed
from synthetic import people, resident_csv

from .helpers import POLICY, multipart, samples, scrape, value

pytestmark = pytest.mark.e2e


def test_an_exempt_host_is_passed_through_and_only_its_tls_is(tmp_path):
    tls_up = Upstream(tls_cert=self_signed(tmp_path, "localhost")).start()
    plain_up = Upstream().start()
    cfg = tmp_path / "dlp.yaml"
    cfg.write_text(POLICY + 'tunnels: {allow: ["localhost:*"]}\n')
    proc = DlpProcess(cfg, tmp_path / "var", ["--set", r"ignore_hosts=^localhost:\d+$",
                                              "--set", r"ignore_hosts=^127\.0\.0\.1:\d+$"]).start()
    try:
        body, ctype = multipart("residents.csv", resident_csv(people(1500, seed=51)))
        # The client trusts only the server's own certificate, as a pinned app does.
        ctx = ssl.create_default_context(cafile=str(tmp_path / "upstream.pem"))
        conn = http.client.HTTPSConnection("127.0.0.1", proc.port, context=ctx, timeout=60)
        conn.set_tunnel("localhost", tls_up.port)
        conn.request("POST", "/upload", body=body, headers={"Content-Type": ctype})
        assert conn.getresponse().status == 200
        conn.close()
        assert [r.body for r in tls_up.received] == [body]          # the hole an exemption is
        snap = samples(scrape(proc.metrics_port))
        assert {labels: v for (n, labels), v in snap.items() if n == "dlp_transfers_total" and v} \
            == {frozenset({("action", "allow"), ("protocol", "tcp")}): 1}          # one opaque tunnel
        assert value(snap, "dlp_uninspectable_total", reason="tunnel") == 1
        assert value(snap, "dlp_bytes_uninspected_total", protocol="tcp") >= len(body)

        # Plain HTTP to an exempt host is still inspected and blocked.
        conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=60)
        conn.request("POST", f"http://127.0.0.1:{plain_up.port}/upload", body=body, headers={"Content-Type": ctype})
        assert conn.getresponse().status == 403
        conn.close()
        assert plain_up.received == []
    finally:
        tls_up.stop()
        plain_up.stop()
        assert proc.stop() == 0, proc.output()
