"""HTTP(S) requests: every request with a body, a query, a long or encoded path, cookies or
non-standard headers becomes a Transfer (a GET carries data too); block and quarantine
verdicts are answered locally with 403, so the upstream never receives a byte.

Follows mitmproxy's addon model: one class, hooks named for events. The body is only
visible in ``request`` and only when buffered, which is why ``dlp run`` never sets
``stream_large_bodies`` and caps bodies with ``body_size_limit`` instead.

Every answer the proxy writes itself is Sekimori's: the 403 of a verdict, the 413 of a body
over inspect.max_body (with its incident), and the 400/502 pages mitmproxy's HTTP layers
would otherwise write with their own text and ``Server`` header (``addons/mitm_patches.py``
routes those through ``error_page``).
"""

from __future__ import annotations

import logging
import posixpath
import urllib.parse
from functools import partial

from mitmproxy import http

from addons import mitm_patches
from addons.admission import REFUSED
from dlp import identity, notice
from dlp.extract.request import carries_content
from dlp.model import Decision, ScanResult, Transfer
from dlp.quarantine import Held
from dlp.runtime import Runtime

log = logging.getLogger("sekimori.web")

STOP_ACTIONS = ("block", "quarantine")
PAGE = "sekimori_page"
"""flow.metadata key: the page of a refusal decided in the ``error`` hook, until it is sent."""


class SekimoriWeb:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def load(self, loader: object) -> None:
        mitm_patches.install(self.error_page)

    def error(self, flow: http.HTTPFlow) -> None:
        """mitmproxy refused a request body over ``body_size_limit`` (= inspect.max_body) before
        reading it all (at once from Content-Length, or when a chunked body passed the limit):
        record a too_large incident and keep its page for the 413 the client is sent."""
        if flow.error is None or "body_size_limit" not in flow.error.msg or flow.response:
            return
        max_body = self.runtime.policy.inspect.max_body
        scan = ScanResult()
        scan.mark_uninspectable("too_large", f"body exceeds inspect.max_body ({max_body} bytes)")
        decision = self.runtime.conclude(self._transfer(flow, b"", tuple(flow.request.headers.items(multi=True))), scan,
                                         Decision("block", uninspectable=("too_large",)))
        body, ctype = notice.render(decision, scan, self.runtime.policy.contact, flow.request.headers.get("accept", ""))
        flow.metadata[PAGE] = {"status": 413, "body": body, "content_type": ctype,
                               "incident": decision.incident_id or ""}

    def error_page(self, flow: http.HTTPFlow | None, status: int, message: str) -> http.Response:
        """The answer wherever mitmproxy would write its own error page: the refusal kept by
        ``error`` (413), else a plain page for the status (400 malformed, 502 unreachable)."""
        kept = flow.metadata.pop(PAGE, None) if flow is not None else None
        if kept is not None and kept["status"] == status:
            return _answer(status, kept["body"], kept["content_type"], kept["incident"])
        if status == 400:  # a smuggling attempt or a malformed request: worth a line for the SOC
            # (the reason only: what follows its colon may echo a header name or value)
            req = flow.request if flow is not None else None
            log.warning("refused a malformed request: client=%s host=%s: %s",
                        flow.client_conn.peername[0] if flow is not None and flow.client_conn.peername else "-",
                        req.pretty_host if req is not None else "-", message.split(":", 1)[0][:200])
        accept = flow.request.headers.get("accept", "") if flow is not None and flow.request else ""
        # mitmproxy's connection errors help ("Connect call failed"); its advice to its own operators does not
        detail = message if status == 502 and "mitmproxy" not in message and "option" not in message else ""
        body, ctype = notice.render_error(status, self.runtime.policy.contact, accept, detail)
        return _answer(status, body, ctype, None)

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:  # answered already (proxyauth 407)
            return
        req = flow.request
        body = req.raw_content or b""
        headers = tuple(req.headers.items(multi=True))
        if req.trailers:  # fields after a chunked body (HTTP/1) or after DATA (HTTP/2) carry content too
            headers += tuple(req.trailers.items(multi=True))
        if not body and (not carries_content(req.path, headers) or self.runtime.request_is_clean(req.path, headers)):
            return  # ordinary browsing: nothing to read, or nothing found in what there is
        transfer = self._transfer(flow, body, headers)
        scan, decision = await self.runtime.inspect(transfer, partial(_held, req, headers, body), quiet=not body,
                                                    refused=flow.metadata.get(REFUSED))
        if decision.action in STOP_ACTIONS:
            self._stop(flow, decision, scan)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """What comes back is never inspected: it passes as it arrives, neither buffered nor
        capped by inspect.max_body (which mitmproxy's body_size_limit would apply to it)."""
        if flow.response is not None:
            flow.response.stream = True

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        """Each message the client sends is a transfer too; a stopped one is dropped."""
        assert flow.websocket is not None
        message = flow.websocket.messages[-1]
        if not message.from_client or not message.content:
            return
        base = self._transfer(flow, message.content, ())
        transfer = Transfer(
            protocol="websocket", body=message.content,
            content_type="text/plain; charset=utf-8" if message.is_text else "application/octet-stream",
            user=base.user, client_ip=base.client_ip, host=base.host, method="WS", path=base.path,
        )
        _scan, decision = await self.runtime.inspect(transfer)
        if decision.action in STOP_ACTIONS:
            message.drop()

    def _transfer(self, flow: http.HTTPFlow, body: bytes, headers: tuple[tuple[str, str], ...]) -> Transfer:
        req = flow.request
        filename = None
        if req.method in ("PUT", "POST") and not req.headers.get("content-type", "").startswith(
                ("multipart/", "application/x-www-form-urlencoded")):
            leaf = posixpath.basename(urllib.parse.unquote(req.path.split("?")[0]))
            filename = leaf or None
        peer = flow.client_conn.peername
        ident = self.runtime.policy.identity
        auth = flow.metadata.get("proxyauth")
        user = identity.resolve_user(auth[0] if auth else None, req.headers.get(ident.header) if ident.header else None,
                                     peer[0] if peer else None, ident)
        return Transfer(
            protocol="http",
            body=body,
            content_type=req.headers.get("content-type", ""),
            content_encoding=req.headers.get("content-encoding", ""),
            filename=filename,
            user=user,
            client_ip=peer[0] if peer else None,
            host=req.pretty_host,
            method=req.method,
            path=req.path,
            headers=headers,
        )

    def _stop(self, flow: http.HTTPFlow, decision: Decision, scan: ScanResult) -> None:
        body, ctype = notice.render(decision, scan, self.runtime.policy.contact,
                                    flow.request.headers.get("accept", ""))
        flow.response = _answer(403, body, ctype, decision.incident_id or "")


def _answer(status: int, body: bytes, ctype: str, incident: str | None) -> http.Response:
    """A response of Sekimori's own: no ``Server`` header, never cached."""
    headers = {"Content-Type": ctype, "Cache-Control": "no-store"}
    if incident is not None:
        headers["X-Sekimori-Incident"] = incident
    return http.Response.make(status, body, headers)


def _held(req: http.Request, headers: tuple[tuple[str, str], ...], body: bytes) -> Held:
    """What a quarantined request keeps: enough to replay it on release."""
    return Held({"method": req.method, "url": req.pretty_url, "http_version": req.http_version,
                 "headers": [list(h) for h in headers]}, body)
