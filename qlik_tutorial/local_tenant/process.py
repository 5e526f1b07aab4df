"""Start, stop and inspect the local tenant as a background process.

``start`` runs ``python -m qlik_tutorial.local_tenant serve --background``
in a new session with stdin from /dev/null and stdout/stderr appended to
``local-tenant/local-tenant.log``. That process forks once and its first
half exits, so the server is nobody's child and keeps none of the caller's
file descriptors: ``make``, CI jobs and notebook kernels never wait on it.
The server reports readiness through a pipe, then closes it.

The server exits by itself when its workspace folder is deleted or replaced
and after ``idle_timeout`` seconds without a request (see `runner`). A
restart requests the port of the last run, so the URL and the ``aud`` of
assertions stay the same. When another program uses that port, it takes a
free one: `ensure_local_tenant` logs a warning, and `start_local_tenant`
reports the old port in its result for the caller to show.

Starting and stopping hold ``local-tenant/lock``, so two notebook kernels
that ask at the same moment share one server. The background mode needs a
POSIX system (Linux, macOS). On other systems ``serve`` runs in the
foreground instead.

NOTE: the foreground path on Windows (no fcntl lock, no /proc) is untested.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, TenantUnreachableError
from .server import HOST
from .settings import ENV_PREFIX, Settings, settings_to_args
from .state import StateFiles, WorkspaceLike

logger = logging.getLogger(__name__)

PORT_ENV = ENV_PREFIX + "PORT"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
HEALTH_TIMEOUT = 2.0
LOG_ROTATE_BYTES = 5 * 1024 * 1024
_MODULE = "qlik_tutorial.local_tenant"
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class StartResult:
    """Outcome of `start_local_tenant`.

    ``reused`` is true when a healthy local tenant was already running.
    ``previous_port`` is the port of the last run when this run had to take
    another one, else None.
    """

    url: str
    port: int
    pid: int
    reused: bool
    previous_port: int | None = None


# Process inspection


def _pid_alive(pid: int) -> bool:
    """Return whether ``pid`` runs and is not a zombie waiting to be reaped."""
    if os.name != "posix":
        # On Windows os.kill(pid, 0) terminates the process; trust the record
        # and let the health check decide.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    # The state letter follows the parenthesised command name.
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _runs_this_server(pid: int, files: StateFiles) -> bool | None:
    """Return whether ``pid``'s command line is this workspace's local tenant.

    None when the system has no /proc to tell.
    """
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False if Path("/proc/self").exists() else None
    except OSError:
        return None
    text = [a.decode("utf-8", "replace") for a in arguments]
    return _MODULE in text and str(files.workspace) in text


def is_healthy(url: str, instance_id: object) -> bool:
    """Return whether ``GET url/`` responds with the expected instance ID."""
    address = url.removeprefix("http://")
    host, _, port = address.partition(":")
    if host != HOST or not port.isdigit():
        return False
    connection = http.client.HTTPConnection(host, int(port), timeout=HEALTH_TIMEOUT)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        body = json.loads(response.read() or b"null")
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        connection.close()
    return (
        response.status == 200
        and isinstance(body, dict)
        and body.get("instanceId") == instance_id
    )


def live_record(files: StateFiles) -> dict[str, Any] | None:
    """Return ``server.json`` when its process is still running, else None.

    A record written for another workspace folder, such as one copied with
    the workspace while its server ran, names that folder's server and is
    ignored, so the copy never uses or stops it.
    """
    record = files.read_record()
    if not record or not record.get("running"):
        return None
    if record.get("workspace") != str(files.workspace):
        return None
    pid = record.get("pid")
    if not isinstance(pid, int) or not _pid_alive(pid):
        return None
    return record


def local_tenant_status(workspace: WorkspaceLike) -> dict[str, Any] | None:
    """Return the workspace's running local tenant, or None when none runs.

    The dict has ``url``, ``port``, ``pid``, ``startedAt``, ``workspace``,
    ``log`` and ``healthy`` (whether it responded to ``GET /`` just now). Nothing
    is started or created.
    """
    files = StateFiles.for_workspace(workspace)
    record = live_record(files)
    if record is None:
        return None
    return {
        "url": record.get("url"),
        "port": record.get("port"),
        "pid": record.get("pid"),
        "startedAt": record.get("startedAt"),
        "workspace": str(files.workspace),
        "log": str(files.log),
        "healthy": is_healthy(str(record.get("url")), record.get("instanceId")),
    }


# Starting


def _requested_port(port: int | None, files: StateFiles) -> tuple[int, bool]:
    """Return the port to ask for and whether another may be taken instead."""
    if port is not None:
        return port, False
    configured = os.environ.get(PORT_ENV, "").strip()
    if configured:
        if not configured.isdigit() or not 0 <= int(configured) <= 65535:
            raise ConfigurationError(
                "Invalid local tenant port",
                value=f"{PORT_ENV}={configured}",
                cause="a port is a number from 0 to 65535 (0: any free port)",
                fix=f"set {PORT_ENV} to a free port, or unset it",
            )
        return int(configured), False
    record = files.read_record() or {}
    previous = record.get("port")
    if isinstance(previous, int) and 0 < previous <= 65535:
        return previous, True
    return 0, True


def _rotate_log(files: StateFiles) -> None:
    with contextlib.suppress(FileNotFoundError):
        if files.log.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(files.log, files.log.with_suffix(".log.1"))


def _log_tail(files: StateFiles, lines: int = 5) -> str:
    try:
        text = files.log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(text.strip().splitlines()[-lines:])


def _read_ready(descriptor: int, timeout: float) -> str:
    """Read the server's readiness message until it closes the pipe.

    Returns "" when the server ended without a message or ``timeout``
    seconds passed. Reading to the end (not just one line) means the server
    has closed the pipe when this returns.
    """
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select([descriptor], [], [], remaining)
        if not readable:
            break
        chunk = os.read(descriptor, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace").strip()


def _spawn(
    files: StateFiles,
    settings: Settings | None,
    port: int,
    may_move: bool,
    timeout: float,
) -> dict[str, Any]:
    if os.name != "posix":
        raise ConfigurationError(
            "Background local tenant not supported here",
            value=os.name,
            cause="starting it in the background needs fork() and a POSIX system",
            fix="run `qlik-tutorial local-tenant serve` in a second terminal",
        )
    read_end, write_end = os.pipe()
    command = [
        sys.executable,
        "-m",
        _MODULE,
        "serve",
        "--workspace",
        str(files.workspace),
        "--background",
        "--ready-fd",
        str(write_end),
        "--port",
        str(port),
    ]

    if may_move:
        command.append("--port-fallback")
    if settings is not None:
        command += settings_to_args(settings)

    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(_PACKAGE_PARENT), environment.get("PYTHONPATH")])
    )
    _rotate_log(files)
    try:
        try:
            with open(files.log, "ab") as log, open(os.devnull, "rb") as devnull:
                launcher = subprocess.Popen(
                    command,
                    stdin=devnull,
                    stdout=log,
                    stderr=log,
                    pass_fds=(write_end,),
                    start_new_session=True,
                    cwd="/",
                    env=environment,
                )
        finally:
            # Only the server may hold the write end, so EOF means it ended.
            os.close(write_end)
        message = _read_ready(read_end, timeout)
    finally:
        os.close(read_end)

    launcher.wait(timeout=timeout)
    record = files.read_record()
    if not message.startswith("ready") or record is None:
        reason = message.removeprefix("error ") or f"no response within {timeout:g} s"
        raise TenantUnreachableError(
            "Local tenant did not start",
            value=str(files.workspace),
            cause=reason,
            fix=f"read {files.log}; last lines: {_log_tail(files) or '(empty)'}",
        )
    return record


def start_local_tenant(
    workspace: WorkspaceLike,
    *,
    settings: Settings | None = None,
    port: int | None = None,
    timeout: float = START_TIMEOUT,
) -> StartResult:
    """Start the workspace's local tenant in the background, or reuse a healthy one.

    ``settings`` None lets the new process read ``QLIK_LOCAL_TENANT_*`` from
    the environment. ``port`` None requests the port of the last run (or
    ``$QLIK_LOCAL_TENANT_PORT``, or any free port) and takes another when it
    is taken. The result's ``previous_port`` then names the old port for the
    caller to show; it is logged only at INFO. An explicit port that is taken
    raises instead. A running local tenant is reused as it is, whatever
    ``settings`` say: stop it first to change them.
    """
    files = StateFiles.for_workspace(workspace)
    with files.lock():
        record = live_record(files)
        if record is not None:
            if is_healthy(str(record["url"]), record.get("instanceId")):
                return StartResult(
                    str(record["url"]), int(record["port"]), int(record["pid"]), True
                )
            logger.warning(
                "local tenant pid %s does not respond at %s; restarting it",
                record["pid"],
                record["url"],
            )
            _terminate(int(record["pid"]), files, STOP_TIMEOUT, healthy=False)
        requested, may_move = _requested_port(port, files)
        record = _spawn(files, settings, requested, may_move, timeout)
    moved = requested if requested and record["port"] != requested else None
    if moved is not None:
        logger.info("port %d of the last run is taken", moved)
    logger.info("local tenant started at %s (pid %s)", record["url"], record["pid"])
    return StartResult(
        str(record["url"]), int(record["port"]), int(record["pid"]), False, moved
    )


def ensure_local_tenant(
    workspace: WorkspaceLike,
    *,
    settings: Settings | None = None,
    port: int | None = None,
    timeout: float = START_TIMEOUT,
) -> str:
    """Return the URL of the workspace's healthy local tenant, starting one if needed.

    Every caller with the same workspace gets the same URL, also across
    notebook kernels, because the URL is recorded in the workspace and a
    restart keeps the port when it is free. When another program took that
    port, a warning names the old port and the new URL. See
    `start_local_tenant` for the options.
    """
    result = start_local_tenant(
        workspace, settings=settings, port=port, timeout=timeout
    )
    if result.previous_port is not None:
        logger.warning(
            "port %d of the last run is taken, so the local tenant now listens "
            "on %s; sign new assertions with aud %s/oauth/token",
            result.previous_port,
            result.url,
            result.url,
        )
    return result.url


# Stopping


def _terminate(pid: int, files: StateFiles, timeout: float, *, healthy: bool) -> bool:
    """Send SIGTERM (then SIGKILL) to the local tenant ``pid``; return if it ended.

    ``healthy`` means ``pid`` responded with the recorded instance ID, which
    proves it is this workspace's server. Otherwise its command line must name
    the workspace, so a recycled pid is left alone.
    """
    if not healthy and _runs_this_server(pid, files) is False:
        logger.warning("pid %d is not this workspace's local tenant; left alone", pid)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_for_exit(pid, timeout):
        return True
    logger.warning(
        "local tenant pid %d ignored SIGTERM for %g s; killing it", pid, timeout
    )
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    return _wait_for_exit(pid, timeout)


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def stop_local_tenant(
    workspace: WorkspaceLike, *, timeout: float = STOP_TIMEOUT
) -> bool:
    """Stop the workspace's local tenant; return whether one was running.

    Its state (clients, tokens, port) stays in the workspace for the next start.
    """
    files = StateFiles.for_workspace(workspace)
    if not files.directory.is_dir():
        return False
    with files.lock():
        record = live_record(files)
        if record is None:
            return False
        pid = int(record["pid"])
        healthy = is_healthy(str(record.get("url")), record.get("instanceId"))
        stopped = _terminate(pid, files, timeout, healthy=healthy)
    if stopped:
        logger.info("local tenant pid %d stopped", pid)
    return stopped
