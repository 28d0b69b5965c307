"""Where mitmproxy 12.3.1's HTTP layers would answer or fail on their own, Sekimori's hand.

No addon hook can reach these places, so they are patched in-process, once, by ``install``
(the web addon calls it when it loads):

* **Error answers.** A body over ``body_size_limit`` (413), a request refused as malformed or
  as a smuggling attempt (400) and an unreachable upstream (502) are written by the HTTP/1
  and HTTP/2 connection layers themselves, with ``Server: mitmproxy <version>`` and
  mitmproxy's own text; setting ``flow.response`` in the ``error`` hook changes nothing there.
  Each client-bound error of an ``HttpStream`` is turned into a ``Refusal`` that carries the
  page ``pages(flow, status, message)`` gives, and the connection layers write that page
  instead of theirs, with the same framing (HTTP/1: the page, then close; HTTP/2: the page
  on that stream; an HTTP/1 refusal sent while the body is still coming reads and drops the
  rest for up to ``LINGER_SECONDS`` before closing, so a client that uploads the whole body
  before reading, as most do, gets the page and not a reset). Pages without a flow (an
  unparseable request head) come from the same provider with ``flow=None``.
* **HTTP/1 trailers.** mitmproxy raises ``NotImplementedError("HTTP trailers are not
  implemented yet.")`` when a chunked HTTP/1 message ends with trailer fields (issue #2474):
  the connection is dropped and "mitmproxy has crashed!" logged. Here the trailers become
  ``RequestTrailers``/``ResponseTrailers`` events, so they land in ``flow.request.trailers``
  (scanned like headers) and are forwarded in the last chunk when the outgoing HTTP/1
  message is chunked; when it is framed by Content-Length (an HTTP/2 request relayed to an
  HTTP/1 server), they are dropped, as RFC 9110 section 6.5.1 allows a recipient that
  removes the chunked coding. Before, an HTTP/2 request with trailers relayed to an HTTP/1
  server crashed too (``AssertionError`` in ``Http1Client.send``), and so did an HTTP/1
  upstream's chunked response with trailers.
* **HTTP/2 requests relayed to HTTP/1** get the framing header mitmproxy leaves out (see
  ``_h1_client_send``): without it the upstream lost the body of any HTTP/2 upload sent
  without Content-Length.

* **Responses are not capped.** ``body_size_limit`` (= inspect.max_body) is meant for what
  leaves; mitmproxy applies it to responses too, so every download over 64 MiB failed with
  502. Responses are exempt here and streamed by the web addon (never buffered).

* **A server that resets the connection as it is opened.** asyncio finds no peer name for a
  socket already reset when its transport is made; mitmproxy asserts that it has one, the
  connection task dies with that ``AssertionError`` unseen, and the request waits for a
  connection that is never reported open or failed: the client gets no answer at all (about
  one upload in ten to a server that accepts and resets, with plain mitmdump too). Here that
  case is reported as the connection error it is, so the client gets the 502 page.

HTTP/3 is not patched: ``dlp run`` listens in regular proxy mode over TCP only.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import h11
from h11._readers import ChunkedReader
from mitmproxy import http, version
from mitmproxy.connection import Client, ConnectionState
from mitmproxy.net.http import http1
from mitmproxy.proxy import commands, events, server, server_hooks
from mitmproxy.proxy.layers.http import (
    HttpStream,
    RequestEndOfMessage,
    RequestHeaders,
    RequestTrailers,
    ResponseEndOfMessage,
    ResponseHeaders,
    ResponseProtocolError,
    ResponseTrailers,
    SendHttp,
    _http1,
    _http2,
)
from mitmproxy.proxy.layers.http._base import ReceiveHttp

log = logging.getLogger("sekimori.web")

WRITTEN_FOR = "12.3.1"
LINGER_SECONDS = 30.0
"""After an early HTTP/1 refusal, how long the rest of the request body is read and dropped
so that the client can read the page (nginx's lingering_time is the same)."""

Handler = Callable[..., Iterator[commands.Command]]
"""A layer method that yields commands (the shape of every method patched here)."""

Pages = Callable[[http.HTTPFlow | None, int, str], http.Response]
"""(flow or None, HTTP status mitmproxy would send, mitmproxy's message) -> the answer."""

# Trailer fields never forwarded: framing, routing and connection control (RFC 9110 6.5.1).
FORBIDDEN_TRAILERS = frozenset({
    b"content-length", b"transfer-encoding", b"content-encoding", b"content-type", b"content-range",
    b"host", b"connection", b"keep-alive", b"te", b"trailer", b"upgrade", b"proxy-connection",
    b"expect", b"authorization", b"proxy-authorization", b"cookie", b"set-cookie",
})


def _default_pages(flow: http.HTTPFlow | None, status: int, message: str) -> http.Response:
    from dlp import notice
    body, ctype = notice.render_error(status, "", "")
    return http.Response.make(status, body, {"Content-Type": ctype, "Cache-Control": "no-store"})


_pages: Pages = _default_pages
_installed = False


class Refusal(ResponseProtocolError):
    """A client-bound protocol error that carries the page to send instead of mitmproxy's."""

    response: http.Response

    def __init__(self, stream_id: int, message: str, code: Any, response: http.Response):
        super().__init__(stream_id, message, code)
        self.response = response


def install(pages: Pages | None = None) -> None:
    """Patch mitmproxy's HTTP layers (once per process) and make ``pages`` the source of every
    error answer; a later call only replaces ``pages``."""
    global _pages, _installed
    if pages is not None:
        _pages = pages
    if _installed:
        return
    if version.VERSION != WRITTEN_FOR:
        log.warning("mitmproxy %s: the HTTP layer patches were written for %s", version.VERSION, WRITTEN_FOR)
    HttpStream.handle_event = _stream_handle_event(HttpStream.handle_event)  # type: ignore[method-assign]
    HttpStream.check_body_size = _requests_only(HttpStream.check_body_size)  # type: ignore[method-assign]
    _http1.Http1Server.send = _h1_server_send(_http1.Http1Server.send)  # type: ignore[method-assign]
    _http1.Http1Server._handle_event = _h1_server_handle_event(_http1.Http1Server._handle_event)  # type: ignore
    _http1.Http1Client.send = _h1_client_send(_http1.Http1Client.send)  # type: ignore[method-assign]
    _http1.Http1Connection.read_body = _h1_read_body(_http1.Http1Connection.read_body)  # type: ignore[method-assign]
    _http1.make_body_reader = _make_body_reader(_http1.make_body_reader)
    _http1.make_error_response = make_error_response
    _http2.Http2Connection._handle_event = _h2_handle_event(_http2.Http2Connection._handle_event)  # type: ignore
    server.ConnectionHandler.open_connection = _open_connection(server.ConnectionHandler.open_connection)  # type: ignore
    _installed = True


def page(flow: http.HTTPFlow | None, status: int, message: str) -> http.Response:
    """The answer for an error: the provider's, or a plain Sekimori page if the provider fails
    (an exception here would crash the connection)."""
    try:
        return _pages(flow, status, message)
    except Exception:
        log.exception("error page provider failed; answering with the plain page")
        return _default_pages(flow, status, message)


def h1_bytes(response: http.Response) -> bytes:
    """An error answer on HTTP/1: the connection is closed after it, so it says so."""
    response = response.copy()
    response.http_version = "HTTP/1.1"
    response.headers["Connection"] = "close"
    return http1.assemble_response(response)


def make_error_response(status_code: int, message: str = "") -> bytes:
    """Replaces ``_http1.make_error_response`` (used where no flow exists yet)."""
    return h1_bytes(page(None, status_code, message))


# --- error answers -------------------------------------------------------------------------

def _stream_handle_event(orig: Handler) -> Handler:
    @functools.wraps(orig)
    def handle_event(self: HttpStream, event: Any) -> Iterator[commands.Command]:
        for command in orig(self, event):
            if (isinstance(command, SendHttp) and type(command.event) is ResponseProtocolError
                    and isinstance(command.connection, Client)):
                err = command.event
                status = err.code.http_status_code()
                if status is not None:
                    flow = getattr(self, "flow", None)
                    command = SendHttp(Refusal(err.stream_id, err.message, err.code, page(flow, status, err.message)),
                                       command.connection)
            yield command
    return handle_event


def _h1_server_send(orig: Handler) -> Handler:
    orig = _h1_trailers_send(orig)

    @functools.wraps(orig)
    def send(self: _http1.Http1Server, event: Any) -> Iterator[commands.Command]:
        if isinstance(event, Refusal):
            # as mitmproxy does for its own page: only if nothing was answered yet, then close
            if not (self.conn.state & ConnectionState.CAN_WRITE):
                return
            # A "100 Continue" is no answer: mitmproxy's own check (``not self.response``) skips
            # its page after one and leaves the client waiting for an answer that never comes.
            answered = self.response is not None and self.response.status_code >= 200
            if not answered:
                yield commands.SendData(self.conn, h1_bytes(event.response))
            if self.request_done or answered:
                yield commands.CloseConnection(self.conn)
                return
            # The client may still be sending the body (a 413 comes before it is read): closing
            # now would answer its next bytes with a reset that destroys the page unread. Keep
            # reading and dropping what still comes (the page says Connection: close and has a
            # length, so the client needs no EOF), and close when the client does or after a
            # while. Not a half-close: inside a CONNECT tunnel mitmproxy turns that into a full
            # close, and a close while the client is still sending can leave the socket open
            # and unread for good (its reader task is cancelled while waiting for the event
            # lock and skips closing the transport), with the client blocked in its write.
            self._sekimori_linger = commands.RequestWakeup(LINGER_SECONDS)  # type: ignore[attr-defined]
            yield self._sekimori_linger  # type: ignore[attr-defined]
            return
        yield from orig(self, event)
    return send


def _h1_server_handle_event(orig: Handler) -> Handler:
    @functools.wraps(orig)
    def _handle_event(self: _http1.Http1Server, event: Any) -> Iterator[commands.Command]:
        if isinstance(event, events.Wakeup) and event.command is getattr(self, "_sekimori_linger", None):
            if self.conn.state is not ConnectionState.CLOSED:
                yield commands.CloseConnection(self.conn)
            return
        yield from orig(self, event)
    return _handle_event


def _h2_handle_event(orig: Handler) -> Handler:
    @functools.wraps(orig)
    def _handle_event(self: _http2.Http2Connection, event: Any) -> Iterator[commands.Command]:
        if isinstance(event, Refusal) and not self.is_closed(event.stream_id):
            stream = self.h2_conn.streams[event.stream_id]
            if self.is_open_for_us(event.stream_id) and not stream.state_machine.headers_sent:
                headers = yield from _http2.format_h2_response_headers(
                    self.context, ResponseHeaders(event.stream_id, event.response, False))
                self.h2_conn.send_headers(event.stream_id, headers)
                self.h2_conn.send_data(event.stream_id, event.response.raw_content or b"", end_stream=True)
                yield commands.SendData(self.conn, self.h2_conn.data_to_send())
                return
        yield from orig(self, event)
    return _handle_event


def _requests_only(orig: Handler) -> Handler:
    @functools.wraps(orig)
    def check_body_size(self: HttpStream, request: bool) -> Iterator[commands.Command]:
        if not request:
            return False
        return (yield from orig(self, request))
    return check_body_size


# --- a server connection reset as it is opened -----------------------------------------------

RESET_ON_OPEN = "connection reset by the server as it was opened"


def _open_connection(orig: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(orig)
    async def open_connection(self: server.ConnectionHandler, command: commands.OpenConnection) -> None:
        try:
            await orig(self, command)
        except AssertionError:
            conn = command.connection
            # mitmproxy's ``assert command.connection.peername``, right after the connection was
            # made and before it is reported open: report it failed instead, as a refused one is
            if conn.peername is not None or conn.state is not ConnectionState.OPEN:
                raise
            io = self.transports.pop(conn, None)
            if io is not None and io.writer is not None:
                io.writer.close()
            conn.state = ConnectionState.CLOSED
            conn.error = RESET_ON_OPEN
            self.log(f"error establishing server connection: {RESET_ON_OPEN}")
            hook_data = server_hooks.ServerConnectionHookData(client=self.client, server=conn)
            await self.handle_hook(server_hooks.ServerConnectErrorHook(hook_data))
            await self.server_event(events.OpenConnectionCompleted(command, RESET_ON_OPEN))
    return open_connection


# --- HTTP/1 trailers -----------------------------------------------------------------------

class _TrailerKeepingReader:
    """h11's ChunkedReader, with the trailer fields of the last chunk taken aside (mitmproxy
    raises on an EndOfMessage that has them)."""

    def __init__(self, inner: ChunkedReader):
        self.inner = inner
        self.trailers: http.Headers | None = None

    def __call__(self, buf: Any) -> Any:
        event = self.inner(buf)
        if isinstance(event, h11.EndOfMessage) and event.headers:
            self.trailers = http.Headers([(bytes(k), bytes(v)) for k, v in event.headers.raw_items()])
            return h11.EndOfMessage()
        return event

    def read_eof(self) -> Any:
        return self.inner.read_eof()


def _make_body_reader(orig: Callable[[int | None], Any]) -> Callable[[int | None], Any]:
    @functools.wraps(orig)
    def make_body_reader(expected_size: int | None) -> Any:
        reader = orig(expected_size)
        return _TrailerKeepingReader(reader) if isinstance(reader, ChunkedReader) else reader
    return make_body_reader


def _h1_read_body(orig: Handler) -> Handler:
    @functools.wraps(orig)
    def read_body(self: _http1.Http1Connection, event: Any) -> Iterator[commands.Command]:
        for command in orig(self, event):
            ends = isinstance(command, ReceiveHttp) and isinstance(command.event, (RequestEndOfMessage,
                                                                                   ResponseEndOfMessage))
            if ends and getattr(self.body_reader, "trailers", None):
                trailers, self.body_reader.trailers = self.body_reader.trailers, None  # type: ignore[union-attr]
                kind = RequestTrailers if isinstance(command.event, RequestEndOfMessage) else ResponseTrailers
                yield ReceiveHttp(kind(command.event.stream_id, trailers))
            yield command
    return read_body


def _h1_trailers_send(orig: Handler) -> Handler:
    """Write trailers into the last chunk of a chunked HTTP/1 message; drop them otherwise."""

    @functools.wraps(orig)
    def send(self: _http1.Http1Connection, event: Any) -> Iterator[commands.Command]:
        if isinstance(event, (RequestTrailers, ResponseTrailers)):
            message = self.request if isinstance(event, RequestTrailers) else self.response
            head = self.request is not None and self.request.method.upper() == "HEAD"
            fields = [(k, v) for k, v in event.trailers.fields if k.lower() not in FORBIDDEN_TRAILERS]
            if (message is not None and "chunked" in message.headers.get("transfer-encoding", "").lower()
                    and not (head and isinstance(event, ResponseTrailers))):
                self._sekimori_last_chunk_sent = True  # type: ignore[attr-defined]
                yield commands.SendData(self.conn, b"0\r\n" + bytes(http.Headers(fields)) + b"\r\n")
            elif fields:
                log.debug("trailer fields dropped: the outgoing HTTP/1 message is not chunked")
            return
        if isinstance(event, (RequestEndOfMessage, ResponseEndOfMessage)) and getattr(
                self, "_sekimori_last_chunk_sent", False):
            self._sekimori_last_chunk_sent = False  # type: ignore[attr-defined]
            for command in orig(self, event):
                if not (isinstance(command, commands.SendData) and command.data == b"0\r\n\r\n"):
                    yield command
            return
        yield from orig(self, event)
    return send


# --- HTTP/2 requests relayed to HTTP/1 -----------------------------------------------------

def _h1_client_send(orig: Handler) -> Handler:
    """An HTTP/2 request needs no Content-Length (DATA frames end with END_STREAM); mitmproxy
    relays one to an HTTP/1 server with neither Content-Length nor Transfer-Encoding, so the
    server reads no body and takes the body's bytes for the next request on the connection
    (a benign upload arrives empty, and a body can smuggle a request past the flow). The
    request gets the length of the buffered body, or chunked framing if it was streamed."""
    orig = _h1_trailers_send(orig)

    @functools.wraps(orig)
    def send(self: _http1.Http1Client, event: Any) -> Iterator[commands.Command]:
        if isinstance(event, RequestHeaders) and not event.end_stream:
            request = event.request  # the flow's: it shows what was sent (mitmproxy copies it next)
            if ((request.is_http2 or request.is_http3) and "content-length" not in request.headers
                    and "transfer-encoding" not in request.headers):
                if request.raw_content is not None:
                    request.headers["content-length"] = str(len(request.raw_content))
                else:
                    request.headers["transfer-encoding"] = "chunked"
        yield from orig(self, event)
    return send
