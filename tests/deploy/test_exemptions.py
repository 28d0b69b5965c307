"""What README.md says about exempting destinations from interception
(`--set ignore_hosts=REGEX`), on a real `dlp run`: TLS to an exempt host passes through
untouched (the client sees the server's own certificate, so pinned apps work), uninspected
and uncounted, while plain HTTP to the same host is still inspected."""

from __future__ import annotations

import http.client
import ssl

import pytest
from servers import DlpProcess, Upstream, self_signed
from synthetic import people, resident_csv

from .helpers import POLICY, multipart, samples, scrape

pytestmark = pytest.mark.e2e


def test_an_exempt_host_is_passed_through_and_only_its_tls_is(tmp_path):
    tls_up = Upstream(tls_cert=self_signed(tmp_path, "localhost")).start()
    plain_up = Upstream().start()
    cfg = tmp_path / "dlp.yaml"
    cfg.write_text(POLICY)
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
        assert sum(v for (n, _l), v in snap.items() if n == "dlp_transfers_total") == 0   # not counted

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
