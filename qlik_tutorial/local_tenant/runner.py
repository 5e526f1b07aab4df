"""Run the local tenant in this process until it is stopped.

``qlik-tutorial local-tenant serve`` runs it in the foreground; ``start``
runs ``serve --background``, which forks first so the server is nobody's
child (see `process`). The server stops on SIGTERM or SIGINT, when its
workspace folder is deleted or replaced (checked every half second), and
after ``idle_timeout`` seconds without a request (default 7200 s in the
background, never in the foreground).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import sys
import threading
import time

from ..errors import ConfigurationError
from .process import STOP_TIMEOUT, is_healthy, live_record
from .server import LocalTenantServer
from .settings import DEFAULT_IDLE_TIMEOUT, Settings
from .state import StateFiles, WorkspaceLike

logger = logging.getLogger(__name__)

WATCH_INTERVAL = 0.5


def _detach() -> None:
    """Fork so the server is no child of the launcher, which exits at once."""
    if os.fork() > 0:
        os._exit(0)


def _configure_logging(files: StateFiles, *, foreground: bool) -> None:
    package_logger = logging.getLogger("qlik_tutorial")
    package_logger.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.FileHandler(files.log, encoding="utf-8")]
    if foreground:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(formatter)
        package_logger.addHandler(handler)


def _bind(
    files: StateFiles, settings: Settings, port: int, may_move: bool
) -> LocalTenantServer:
    try:
        return LocalTenantServer(files, settings, port)
    except OSError as error:
        if not may_move or port == 0:
            raise
        logger.warning("port %d is not free (%s); taking a free port", port, error)
        return LocalTenantServer(files, settings, 0)


def _watch(
    server: LocalTenantServer, files: StateFiles, stop: threading.Event, idle: float
) -> str:
    """Wait until a stop signal, a deleted workspace or the idle timeout."""
    folder = os.stat(files.directory).st_ino
    while not stop.wait(WATCH_INTERVAL):
        try:
            replaced = os.stat(files.directory).st_ino != folder
        except FileNotFoundError:
            return "workspace folder deleted"
        if replaced or not files.database.exists():
            return "workspace folder replaced"
        limit = server.settings.idle_timeout
        limit = idle if limit is None else limit
        if limit and time.monotonic() - server.last_request > limit:
            return f"idle for {limit:g} s"
    return "stop signal"


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def serve(
    workspace: WorkspaceLike,
    settings: Settings,
    *,
    port: int = 0,
    may_move: bool = True,
    background: bool = False,
    ready_fd: int | None = None,
) -> int:
    """Run the local tenant in this process until stopped; return the exit status.

    In the background (``background=True``) it forks first and reports
    ``ready`` or ``error <reason>`` on ``ready_fd``. In the foreground it
    refuses to start a second server for a workspace that has a healthy one.
    """
    files = StateFiles.for_workspace(workspace)
    if background:
        _detach()
        os.umask(0o077)
    files.ensure()
    _configure_logging(files, foreground=not background)

    def report(message: str) -> None:
        nonlocal ready_fd
        if ready_fd is not None:
            with contextlib.suppress(OSError):
                os.write(ready_fd, message.encode("utf-8") + b"\n")
                os.close(ready_fd)
            ready_fd = None

    lock = contextlib.nullcontext() if background else files.lock()
    try:
        with lock:
            running = live_record(files)
            if running and is_healthy(str(running["url"]), running.get("instanceId")):
                raise ConfigurationError(
                    "Local tenant already running",
                    value=running["url"],
                    cause=f"pid {running['pid']} serves this workspace",
                    fix="use it, or stop it first: qlik-tutorial local-tenant stop",
                )
            server = _bind(files, settings, port, may_move)
            files.write_record(
                {
                    "pid": os.getpid(),
                    "url": server.url,
                    "port": server.server_port,
                    "instanceId": server.instance_id,
                    "running": True,
                    "startedAt": _utc_now(),
                    "workspace": str(files.workspace),
                    "log": str(files.log),
                    "settings": settings.public_view(),
                }
            )
    except Exception as error:
        logger.error("local tenant failed to start: %s", error)
        report(f"error {error}")
        return 1

    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    if background and hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-tenant"
    )
    thread.start()
    logger.info(
        "local tenant listening on %s (pid %d, workspace %s)",
        server.url,
        os.getpid(),
        files.workspace,
    )
    report(f"ready {server.url}")
    if not background:
        print(f"Local tenant listening on {server.url}; press Ctrl-C to stop it.")
        sys.stdout.flush()
    idle = DEFAULT_IDLE_TIMEOUT if background else 0.0
    reason = _watch(server, files, stop, idle)
    server.shutdown()
    server.server_close()
    thread.join(timeout=STOP_TIMEOUT)
    _mark_stopped(files, server.instance_id, reason)
    logger.info("local tenant stopped: %s", reason)
    return 0


def _mark_stopped(files: StateFiles, instance_id: str, reason: str) -> None:
    """Record that this server stopped, keeping its port for the next start."""
    if not files.directory.is_dir():
        return
    record = files.read_record()
    if not record or record.get("instanceId") != instance_id:
        return
    record.update(running=False, stoppedAt=_utc_now(), stopReason=reason)
    with contextlib.suppress(OSError):
        files.write_record(record)
