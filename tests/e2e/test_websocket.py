"""WebSocket messages through a real `dlp run`: each message the client sends is inspected;
a bulk one is dropped before the upstream sees it, ordinary ones pass unchanged."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from servers import DlpProcess
from synthetic import people, resident_csv
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Message, Request, TextMessage

pytestmark = pytest.mark.e2e


class WsUpstream:
    """A WebSocket server on 127.0.0.1 that records every message it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes | str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        parts: list = []
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, Request):
                        conn.sendall(ws.send(AcceptConnection()))
                    elif isinstance(event, Message):
                        parts.append(event.data)
                        if event.message_finished:
                            self.received.append(b"".join(parts) if isinstance(event, BytesMessage) else "".join(parts))
                            parts = []
                    elif isinstance(event, CloseConnection):
                        conn.sendall(ws.send(event.response()))
                        return


class WsClient:
    """A WebSocket client that talks to the upstream through the proxy (absolute-form request)."""

    def __init__(self, proxy_port: int, upstream_port: int, headers: dict[str, str] | None = None):
        self.sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=30)
        self.ws = WSConnection(ConnectionType.CLIENT)
        extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        self.sock.sendall(self.ws.send(Request(host=f"127.0.0.1:{upstream_port}",
                                               target=f"http://127.0.0.1:{upstream_port}/ws", extra_headers=extra)))
        while not any(isinstance(e, AcceptConnection) for e in self._events()):
            pass

    def _events(self) -> list:
        self.ws.receive_data(self.sock.recv(65536))
        return list(self.ws.events())

    def send(self, data: bytes | str) -> None:
        msg = TextMessage(data=data) if isinstance(data, str) else BytesMessage(data=data)
        self.sock.sendall(self.ws.send(msg))


def test_websocket_messages_are_inspected_and_bulk_ones_dropped(tmp_path):
    cfg = tmp_path / "p.yaml"
    cfg.write_text("version: 1\nrules:\n  - {name: bulk, when: {persons: 1000}, action: block}\n")
    proc = DlpProcess(cfg, tmp_path / "var").start()
    up = WsUpstream()
    try:
        client = WsClient(proc.port, up.port)
        client.send("こんにちは、会議は3時からです。")
        client.send(resident_csv(people(1200, seed=51)).decode("cp932"))   # text message, bulk
        client.send(resident_csv(people(1100, seed=52)))                    # binary message, bulk
        client.send(b"\x00\x01binary but harmless")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(up.received) < 2:
            time.sleep(0.1)
        time.sleep(1)
        assert up.received == ["こんにちは、会議は3時からです。", b"\x00\x01binary but harmless"]
        incidents = [json.loads(x) for x in (proc.data_dir / "incidents.jsonl").read_text().splitlines()]
        assert [(i["protocol"], i["action"]) for i in incidents] == [("websocket", "block")] * 2
        assert sorted(i["persons"] for i in incidents) == [1100, 1200]
    finally:
        proc.stop()
        up.sock.close()
