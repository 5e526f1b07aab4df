"""A scripted HTTP server on 127.0.0.1 for tests, built on the standard library.

`ScriptedServer` responds to each request with the next queued `Reply`, or with
the reply routed to its path, and records every request it received::

    with ScriptedServer() as server:
        server.route("GET", "/", Reply(200, {"ok": True}))
        server.queue(Reply(401, {"error": "invalid_client"}))
        requests.get(server.url + "/")
        server.requests[0].headers["Accept"]

`silent_socket` accepts connections and never responds, `closed_port` names a
port where nothing listens.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    """A scripted response; a dict or list body is sent as JSON."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, dict | list):
            data = json.dumps(self.body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(self.body, str):
            data = self.body.encode()
            headers.setdefault("Content-Type", "text/html; charset=utf-8")
        else:
            data = bytes(self.body)
        return data, headers


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received."""

    method: str
    path: str
    headers: Message
    body: bytes

    @property
    def form(self) -> dict[str, list[str]]:
        """The form-encoded body, parsed."""
        return parse_qs(self.body.decode(), keep_blank_values=True)

    @property
    def route(self) -> str:
        """The path without the query string."""
        return urlsplit(self.path).path


Responder = Reply | Callable[[RecordedRequest], Reply]
NO_REPLY = Reply(599, {"error": "test_server", "error_description": "no reply queued"})


class ScriptedServer:
    """A ThreadingHTTPServer on 127.0.0.1 with a port the system picks."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Responder] = deque()
        self._routes: dict[tuple[str, str], Responder] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The server's origin, such as ``http://127.0.0.1:41234``."""
        return f"http://127.0.0.1:{self.port}"

    def queue(self, *replies: Responder) -> ScriptedServer:
        """Respond to the next requests with ``replies``, in order."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def route(self, method: str, path: str, reply: Responder) -> ScriptedServer:
        """Respond to every ``method`` request to ``path`` with ``reply``."""
        with self._lock:
            self._routes[(method.upper(), path)] = reply
        return self

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _reply_to(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            responder = self._routes.get((request.method, request.route))
            if responder is None:
                responder = self._queue.popleft() if self._queue else NO_REPLY
        return responder(request) if callable(responder) else responder

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = RecordedRequest(self.command, self.path, self.headers, body)
                reply = server._reply_to(request)
                data, headers = reply.encoded()
                self.send_response(reply.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextlib.contextmanager
def silent_socket() -> Iterator[str]:
    """Yield the URL of a socket on 127.0.0.1 that accepts and never responds.

    The kernel completes the TCP handshake for the listen backlog, so a
    client connects, sends its request and waits until its read timeout.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def closed_port() -> int:
    """Return a port on 127.0.0.1 where nothing listens (connection refused)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    finally:
        probe.close()
    return port


@contextlib.contextmanager
def raw_server(payload: bytes) -> Iterator[str]:
    """Yield the URL of a server on 127.0.0.1 that sends ``payload`` as it is.

    Each connection gets the bytes after the request arrives, then is closed,
    so a test can send a truncated or malformed HTTP response.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                with contextlib.suppress(OSError):
                    _read_request(connection)
                    connection.sendall(payload)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()


def _read_request(connection: socket.socket) -> bytes:
    """Read one request, headers and Content-Length body, so that closing the
    connection afterwards sends no reset."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return data
