"""Tunnels: whatever leaves through CONNECT without being HTTP (raw TCP, TLS that is not
intercepted, a client that refuses Sekimori's certificate, mail ports) is refused with a
``tunnel`` incident, unless ``tunnels.allow`` names its destination (passed as opaque bytes,
counted) or ``tunnels.inspect`` scans the client's bytes as text.

Follows mitmproxy's addon model: one class, hooks named for events. mitmproxy picks the
layer after CONNECT from the first client bytes (``next_layer``): TLS is intercepted, HTTP
is parsed, anything else, and a host in ``ignore_hosts``/``allow_hosts``, becomes a TCP layer.
This addon swaps that layer for one that stops where a hook killed the flow, because
12.3.1's TCP layer opens the upstream connection and relays each message whatever the hooks
did to the flow. The decisions themselves come from the policy and the runtime.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from mitmproxy import connection, http, tcp, tls
from mitmproxy import flow as mflow
from mitmproxy.net.tls import starts_like_tls_record
from mitmproxy.proxy import commands, events, layer, layers
from mitmproxy.proxy.layers.tcp import TcpErrorHook, TcpMessageHook, TcpMessageInjected, TcpStartHook
from mitmproxy.proxy.utils import expect

from dlp import notice
from dlp.model import Decision, ScanResult, Transfer
from dlp.runtime import Runtime

log = logging.getLogger("sekimori.tunnel")

STOP_ACTIONS = ("block", "quarantine")
MAIL_PORTS = frozenset({25, 465, 587})
"""SMTP, SMTPS and submission: mail belongs on Sekimori's SMTP relay. Refused at CONNECT,
because SMTP servers speak first and a lazy proxy would otherwise leave the client waiting
for a greeting that never comes (and nothing would be recorded)."""

ENCRYPTED_STARTS = (b"SSH-",)
"""Openings of client streams that are encrypted from there on (TLS records are checked
with mitmproxy's own test): a scan of them would see nothing, so they are refused."""


class SekimoriTunnel:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._users: weakref.WeakKeyDictionary[connection.Client, str | None] = weakref.WeakKeyDictionary()
        self._passthrough: weakref.WeakSet[tcp.TCPFlow] = weakref.WeakSet()
        self._streams: weakref.WeakKeyDictionary[tcp.TCPFlow, _Stream] = weakref.WeakKeyDictionary()

    def http_connect(self, flow: http.HTTPFlow) -> None:
        """Remember who opened the tunnel (proxyauth has run: it is a default addon) and
        refuse mail ports that are not allowed."""
        if flow.response is not None:  # answered already (proxyauth 407)
            return
        auth = flow.metadata.get("proxyauth")
        header = self.runtime.policy.identity.header
        self._users[flow.client_conn] = auth[0] if auth else (flow.request.headers.get(header) or None
                                                              if header else None)
        host, port = flow.request.host, flow.request.port
        if port in MAIL_PORTS and not self.runtime.policy.tunnels.allows(host, port):
            decision, scan = self._refuse(self._transfer(flow.client_conn, host, port),
                                          f"CONNECT to mail port {port}: use the SMTP relay")
            body, ctype = notice.render(decision, scan, self.runtime.policy.contact,
                                        flow.request.headers.get("accept", ""))
            flow.response = http.Response.make(403, body, {"Content-Type": ctype,
                                                           "X-Sekimori-Incident": decision.incident_id or ""})

    def next_layer(self, nextlayer: layer.NextLayer) -> None:
        """Runs after mitmproxy's NextLayer addon: a TCP layer it chose, anywhere in the new
        stack, becomes a ``_TunnelLayer`` with a recorded flow, so ``tcp_start`` decides. An
        ignored one (``ignore_hosts``, ``allow_hosts``) would have no flow and no hooks at
        all: it is remembered as a pass-through, which only ``tunnels.allow`` lets out."""
        owner: Any = nextlayer
        attr, current = "layer", nextlayer.layer
        while current is not None:
            if type(current) is layers.TCPLayer:
                replacement = _TunnelLayer(current.context)
                current.context.layers.remove(current)  # both registered in the shared context
                assert replacement.flow is not None
                if current.flow is None:
                    self._passthrough.add(replacement.flow)
                setattr(owner, attr, replacement)
                return
            owner, attr, current = current, "child_layer", getattr(current, "child_layer", None)

    async def tcp_start(self, flow: tcp.TCPFlow) -> None:
        """Allowed destinations pass (counted), TLS passed through un-intercepted and raw
        TCP without ``tunnels.inspect`` are refused before anything is sent upstream."""
        host, port = _address(flow.server_conn)
        transfer = self._transfer(flow.client_conn, host, port)
        tunnels = self.runtime.policy.tunnels
        if tunnels.allows(host, port):
            scan = ScanResult()
            scan.mark_uninspectable("tunnel", "opaque tunnel allowed by tunnels.allow")
            self.runtime.conclude(transfer, scan, Decision("allow", uninspectable=("tunnel",)))
            self._streams[flow] = _Stream(transfer, opaque=True)
            log.info("tunnel allowed (tunnels.allow): user=%s client=%s destination=%s:%s",
                     transfer.user or "-", transfer.client_ip or "-", host, port)
        elif flow in self._passthrough:
            self._stop(flow, transfer, "TLS passed through un-intercepted (ignore_hosts/allow_hosts) "
                                       "to a destination not in tunnels.allow")
        elif tunnels.inspect:
            self._streams[flow] = _Stream(transfer, opaque=False)
        else:
            self._stop(flow, transfer, "not HTTP after CONNECT and not in tunnels.allow")

    async def tcp_message(self, flow: tcp.TCPFlow) -> None:
        """Count an allowed tunnel's bytes; scan an inspected one's client bytes (with the
        carried tail of the stream) and cut it on a block or quarantine verdict."""
        message = flow.messages[-1]
        stream = self._streams.get(flow)
        if stream is None:
            # Refused. Only a TCP layer that is not ours (an HTTP 101 upgrade to raw TCP) still
            # relays after a kill: send it nothing.
            message.content = b""
            return
        # mitmproxy keeps every message of a flow; a long tunnel must not stay in memory.
        del flow.messages[:-1]
        if not message.from_client:
            return
        if stream.opaque:
            self.runtime.metrics.bytes_uninspected.labels("tcp").inc(len(message.content))
            return
        if _encrypted_from_here(message.content, stream.sent == 0):
            message.content = b""
            self._stop(flow, stream.transfer, "the stream turned encrypted (TLS or SSH) and cannot be inspected")
            return
        body = stream.carry + message.content
        transfer = Transfer(protocol="tcp", body=body, user=stream.transfer.user,
                            client_ip=stream.transfer.client_ip, host=stream.transfer.host,
                            port=stream.transfer.port)
        _scan, decision = await self.runtime.inspect(transfer)
        if decision.action in STOP_ACTIONS:
            message.content = b""
            self._streams.pop(flow, None)
            flow.kill()
            return
        stream.sent += len(message.content)
        stream.carry = _tail(body, self.runtime.policy.tunnels.carry)

    def tls_failed_client(self, data: tls.TlsData) -> None:
        """The client refused Sekimori's certificate (pinning, a private CA, mutual TLS): the
        connection is closed by mitmproxy and nothing went upstream (lazy connections).
        Recorded, because such a client expected to reach its destination unseen."""
        if data.context.server.address is None:  # TLS to the proxy itself, not a tunnel
            return
        host, port = _address(data.context.server)
        if self.runtime.policy.tunnels.allows(host, port):
            log.info("TLS to %s:%s failed (the client refused the proxy's certificate): it is in tunnels.allow, "
                     "so add it to ignore_hosts too if it must pass uninspected", host, port)
            return
        self._refuse(self._transfer(data.context.client, host, port),
                     "the client refused the proxy's certificate (TLS not intercepted)")

    def _transfer(self, client: connection.Client, host: str, port: int) -> Transfer:
        peer = client.peername
        return Transfer(protocol="tcp", body=b"", user=self._users.get(client), client_ip=peer[0] if peer else None,
                        host=host, port=port)

    def _refuse(self, transfer: Transfer, why: str) -> tuple[Decision, ScanResult]:
        scan = ScanResult()
        scan.mark_uninspectable("tunnel", why)
        return self.runtime.conclude(transfer, scan, Decision("block", uninspectable=("tunnel",))), scan

    def _stop(self, flow: tcp.TCPFlow, transfer: Transfer, why: str) -> None:
        self._streams.pop(flow, None)
        self._refuse(transfer, why)
        if flow.killable:
            flow.kill()


@dataclass
class _Stream:
    """An open tunnel this addon let through: its metadata, and for an inspected one the tail
    of what the client sent, scanned again with the next message."""

    transfer: Transfer
    opaque: bool
    carry: bytes = b""
    sent: int = 0


def _address(server: connection.Server) -> tuple[str, int]:
    host, port, *_ = server.address or ("", 0)
    return str(host), int(port)


def _encrypted_from_here(data: bytes, stream_start: bool) -> bool:
    """A TLS record (STARTTLS, or TLS after a plaintext line), or an SSH banner at the start."""
    return starts_like_tls_record(data) or (stream_start and data.startswith(ENCRYPTED_STARTS))


def _tail(data: bytes, limit: int) -> bytes:
    """The last ``limit`` bytes of ``data``, from the start of a line when there is one, so
    the next scan sees a row split between two messages whole and begins on a row."""
    if len(data) <= limit:
        return data
    tail = data[-limit:] if limit else b""
    cut = tail.find(b"\n")
    return tail[cut + 1:] if cut >= 0 else tail


class _TunnelLayer(layers.TCPLayer):
    """mitmproxy's TCP layer, except that a flow killed in ``tcp_start`` or ``tcp_message``
    ends there: no upstream connection is opened, the message is not sent, both ends close.
    12.3.1's own layer never looks at ``flow.error`` after its hooks."""

    @expect(events.Start)
    def start(self, event: events.Event) -> layer.CommandGenerator[None]:
        yield from self._until_killed(super().start(event))

    _handle_event = start

    @expect(events.DataReceived, events.ConnectionClosed, TcpMessageInjected)
    def relay_messages(self, event: events.Event) -> layer.CommandGenerator[None]:
        yield from self._until_killed(super().relay_messages(event))

    def _until_killed(self, handler: Generator[commands.Command, Any, None]) -> layer.CommandGenerator[None]:
        """Run one of TCPLayer's handlers; once one of its hooks has killed the flow, drop the
        rest (the OpenConnection, the SendData) and close both connections instead."""
        reply: Any = None
        while True:
            try:
                command = handler.send(reply)
            except StopIteration:
                return
            reply = yield command
            if isinstance(command, (TcpStartHook, TcpMessageHook)) and self._killed():
                handler.close()
                yield from self._close()
                return

    def _killed(self) -> bool:
        error = self.flow.error if self.flow is not None else None
        return error is not None and error.msg == mflow.Error.KILLED_MESSAGE

    def _close(self) -> layer.CommandGenerator[None]:
        assert self.flow is not None
        self._handle_event = self.done
        for conn in (self.context.server, self.context.client):
            if conn.state is not connection.ConnectionState.CLOSED:
                yield commands.CloseConnection(conn)
        yield TcpErrorHook(self.flow)
