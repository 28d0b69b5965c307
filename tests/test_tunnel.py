"""The tunnel addon's decisions and its TCP layer, without a network: mitmproxy's test
helpers build the flows, a real Runtime (scans in threads) decides and records."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from mitmproxy import connection
from mitmproxy.proxy import commands, events, layer, layers
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers.tcp import TcpErrorHook, TcpMessageHook, TcpStartHook
from mitmproxy.tcp import TCPMessage
from mitmproxy.test import taddons, tflow
from prometheus_client import CollectorRegistry
from synthetic import people, resident_csv

from addons.tunnel import SekimoriTunnel, _tail, _TunnelLayer
from dlp.config import parse_policy
from dlp.metrics import Metrics
from dlp.runtime import Runtime

POLICY = b"""version: 1
inspect: {workers: 0}
rules:
  - {name: bulk, when: {persons: 1000}, action: block}
"""


def make_runtime(tmp_path: Path, tunnels: str = "") -> Runtime:
    pol = parse_policy(POLICY + (f"tunnels: {tunnels}\n".encode() if tunnels else b""), "t.yaml")
    return Runtime(pol, tmp_path, Metrics(CollectorRegistry()))


def incidents(tmp_path: Path) -> list[dict]:
    path = tmp_path / "incidents.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def tcp_flow(port: int = 4444) -> tflow.TCPFlow:
    f = tflow.ttcpflow(messages=[])
    f.server_conn.address = ("sink.example", port)
    return f


def test_refused_without_a_tunnels_section(tmp_path):
    runtime = make_runtime(tmp_path)
    addon, f = SekimoriTunnel(runtime), tcp_flow()
    asyncio.run(addon.tcp_start(f))
    assert f.error is not None and f.error.msg == "Connection killed."
    [incident] = incidents(tmp_path)
    assert incident["uninspectable"] == ["tunnel"] and incident["destination"] == {"host": "sink.example", "port": 4444}
    assert runtime.metrics.uninspectable.labels("tunnel")._value.get() == 1
    f.messages.append(TCPMessage(True, b"secret"))          # a TCP layer that ignores the kill
    asyncio.run(addon.tcp_message(f))
    assert f.messages[-1].content == b""


def test_allowed_destination_passes_and_counts_its_bytes(tmp_path):
    runtime = make_runtime(tmp_path, '{allow: ["SINK.example:44*"]}')
    addon, f = SekimoriTunnel(runtime), tcp_flow()
    asyncio.run(addon.tcp_start(f))
    assert f.error is None and incidents(tmp_path) == []
    for i in range(3):
        f.messages.append(TCPMessage(i != 1, b"x" * 10))
        asyncio.run(addon.tcp_message(f))
        assert f.messages[-1].content == b"x" * 10
    assert len(f.messages) == 1                                # not kept in memory
    assert runtime.metrics.bytes_uninspected.labels("tcp")._value.get() == 20
    assert runtime.metrics.transfers.labels("tcp", "allow")._value.get() == 1


def test_passed_through_tls_needs_the_allow_list_even_with_inspect(tmp_path):
    addon = SekimoriTunnel(make_runtime(tmp_path, "{inspect: true}"))

    async def run() -> layer.NextLayer:
        with taddons.context(addon) as tctx:
            ctx = Context(tflow.tclient_conn(), tctx.options)
            ctx.server = tflow.tserver_conn()
            nextlayer = layer.NextLayer(ctx)
            nextlayer.layer = layers.TCPLayer(ctx, ignore=True)   # what ignore_hosts gives
            addon.next_layer(nextlayer)
            assert isinstance(nextlayer.layer, _TunnelLayer) and ctx.layers == [nextlayer.layer]
            await addon.tcp_start(nextlayer.layer.flow)
            return nextlayer

    f = asyncio.run(run()).layer.flow
    assert f.error is not None
    assert "ignore_hosts" in incidents(tmp_path)[0]["errors"][0]


def test_inspected_stream_is_cut_on_a_block_verdict(tmp_path):
    addon, f = SekimoriTunnel(make_runtime(tmp_path, "{inspect: true}")), tcp_flow()
    asyncio.run(addon.tcp_start(f))
    f.messages.append(TCPMessage(True, b"HELLO sekimori\r\nUPLOAD list.csv\r\n"))
    asyncio.run(addon.tcp_message(f))
    assert f.error is None and f.messages[-1].content
    f.messages.append(TCPMessage(True, resident_csv(people(1100, seed=8))))
    asyncio.run(addon.tcp_message(f))
    assert f.error is not None and f.messages[-1].content == b""
    [incident] = incidents(tmp_path)
    assert incident["rules"] == ["bulk"] and incident["protocol"] == "tcp"


def test_carry_keeps_whole_rows_of_the_stream_tail():
    assert _tail(b"a,1\nb,2\nc,3", 100) == b"a,1\nb,2\nc,3"
    assert _tail(b"a,1\nb,2\nc,3", 6) == b"c,3"            # from the first line start in the tail
    assert _tail(b"abcdef", 3) == b"def"                   # no line start: the bytes themselves
    assert _tail(b"abc", 0) == b""


@pytest.fixture
def tunnel_layer():
    with taddons.context() as tctx:
        ctx = Context(tflow.tclient_conn(), tctx.options)
        ctx.server = connection.Server(address=("sink.example", 4444))
        yield _TunnelLayer(ctx)


def test_layer_killed_at_start_never_connects(tunnel_layer):
    [hook] = tunnel_layer.handle_event(events.Start())
    assert isinstance(hook, TcpStartHook)
    tunnel_layer.flow.kill()
    done = list(tunnel_layer.handle_event(events.HookCompleted(hook)))
    assert not any(isinstance(c, commands.OpenConnection) for c in done)
    assert [type(c) for c in done] == [commands.CloseConnection, TcpErrorHook]
    assert done[0].connection is tunnel_layer.context.client


def test_layer_killed_on_a_message_does_not_send_it(tunnel_layer):
    [hook] = tunnel_layer.handle_event(events.Start())
    [open_conn] = tunnel_layer.handle_event(events.HookCompleted(hook))
    assert isinstance(open_conn, commands.OpenConnection)
    tunnel_layer.context.server.state = connection.ConnectionState.OPEN
    assert list(tunnel_layer.handle_event(events.OpenConnectionCompleted(open_conn, None))) == []
    [msg_hook] = tunnel_layer.handle_event(events.DataReceived(tunnel_layer.context.client, b"ok"))
    assert isinstance(msg_hook, TcpMessageHook)
    [send] = tunnel_layer.handle_event(events.HookCompleted(msg_hook))
    assert isinstance(send, commands.SendData) and send.data == b"ok"
    [msg_hook] = tunnel_layer.handle_event(events.DataReceived(tunnel_layer.context.client, b"rows"))
    tunnel_layer.flow.kill()
    done = list(tunnel_layer.handle_event(events.HookCompleted(msg_hook)))
    assert not any(isinstance(c, commands.SendData) for c in done)
    assert [type(c) for c in done] == [commands.CloseConnection, commands.CloseConnection, TcpErrorHook]
