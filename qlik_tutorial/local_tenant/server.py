"""HTTP server of the local tenant, on the standard library's ThreadingHTTPServer.

It binds to 127.0.0.1 only: no option takes another address. Each request
runs in its own thread and is logged as one INFO line on this module's
logger (method, path, status, client ID, error code, duration in ms), never
with a header or body. Path segments longer than an ID are cut (`show_path`),
so no token, assertion or admin key reaches the log.

    with running_server(StateFiles(tmp / "local-tenant"), Settings()) as server:
        requests.get(server.url)
"""

from __future__ import annotations

import contextlib
import json
import logging
import socketserver
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .codes import Rejection, show, show_path
from .routes import Request, Response, Routes
from .settings import Settings
from .state import StateFiles, read_admin_key
from .store import Store

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_BODY_BYTES = 256 * 1024


class LocalTenantServer(ThreadingHTTPServer):
    """A local tenant listening on 127.0.0.1, with its store and settings.

    ``port`` 0 lets the system choose a free port; ``url`` is the origin it
    listens on, and ``last_request`` the `time.monotonic` of the last request.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, files: StateFiles, settings: Settings, port: int = 0) -> None:
        files.ensure()
        read_admin_key(files)
        self.files = files
        self.settings = settings
        self.instance_id = uuid.uuid4().hex
        self.last_request = time.monotonic()
        super().__init__((HOST, port), RequestHandler)
        self.url = f"http://{HOST}:{self.server_port}"
        try:
            self.store = Store(files.database)
        except BaseException:
            self.socket.close()
            raise
        self.routes = Routes(files, self.store, settings, self.url, self.instance_id)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name, which can stall on a
        # machine with slow DNS; the name is fixed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name = HOST
        self.server_port = self.socket.getsockname()[1]

    def server_close(self) -> None:
        super().server_close()
        store = getattr(self, "store", None)
        if store is not None:
            store.close()


class RequestHandler(BaseHTTPRequestHandler):
    """Reads one request, passes it to `Routes` and writes the JSON response."""

    server: LocalTenantServer
    protocol_version = "HTTP/1.1"
    server_version = "qlik-tutorial-local-tenant"
    sys_version = ""
    # Seconds an idle keep-alive connection may hold its thread.
    timeout = 30
    # Headers and body go out in two writes; with Nagle's algorithm the
    # second waits for the client's delayed ACK (about 40 ms on Linux).
    disable_nagle_algorithm = True

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header follows the tenant's clock, test offset included, so
        # a client can estimate its clock offset to this tenant as to Qlik's.
        if timestamp is None:
            timestamp = self.server.settings.now()
        return super().date_time_string(timestamp)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def _handle(self) -> None:
        started = time.perf_counter()
        self.server.last_request = time.monotonic()
        path = urlsplit(self.path).path or "/"
        try:
            body = self._read_body()
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = Request(self.command, path, headers, body)
            response = self.server.routes.dispatch(request)
        except Rejection as rejection:
            response = Response.rejected(rejection)
        except Exception:
            logger.exception("request %s %s failed", self.command, show_path(path))
            response = Response.rejected(
                Rejection(
                    "HTTP-500",
                    "The local tenant failed on this request. Fix: read "
                    "local-tenant/local-tenant.log in the workspace and report it",
                )
            )
        # Logged before the response is sent, so a client that has its
        # response can rely on the log line being written.
        logger.info(
            "%s %s %d client=%s error=%s %.1f ms",
            self.command,
            show_path(path),
            response.status,
            response.client_id or "-",
            response.error_code or "-",
            (time.perf_counter() - started) * 1000,
        )
        self._send(response)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise Rejection(
                "OAUTH-1",
                "Chunked request bodies are not supported. Fix: send the body "
                "with a Content-Length header",
            )
        raw_length = self.headers.get("Content-Length") or "0"
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError(raw_length)
        except ValueError:
            self.close_connection = True
            raise Rejection(
                "OAUTH-1",
                f"Content-Length {show(raw_length)} is not a size. Fix: send a "
                "valid Content-Length",
            ) from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise Rejection(
                "OAUTH-1",
                f"The body is {length} bytes, more than {MAX_BODY_BYTES}. Fix: "
                "send a smaller body",
            )
        return self.rfile.read(length) if length else b""

    def _send(self, response: Response) -> None:
        payload = b""
        if response.body is not None:
            payload = json.dumps(response.body).encode("utf-8")
        self.send_response(response.status)
        if response.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing here: `_handle` logs each request once, without secrets."""

    def log_message(self, format: str, *args: Any) -> None:
        # Only malformed requests get here, and their arguments may contain the
        # raw request line (a path can hold a pasted token), so none is logged.
        logger.info("malformed HTTP request rejected")


@contextlib.contextmanager
def running_server(
    files: StateFiles, settings: Settings | None = None, port: int = 0
) -> Iterator[LocalTenantServer]:
    """Run a local tenant in a background thread of this process until the block ends.

    Tests and benchmarks use it for speed; ``qlik-tutorial local-tenant start``
    runs the same server in its own process instead.
    """
    server = LocalTenantServer(files, settings or Settings(), port)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.01},
        name=f"local-tenant-{server.server_port}",
        daemon=True,
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
