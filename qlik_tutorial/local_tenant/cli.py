"""Command line of the local tenant: ``qlik-tutorial local-tenant ...``.

The same commands run on their own as ``python -m qlik_tutorial.local_tenant``:

    start     start in the background (or reuse), print the URL
    status    print URL and pid; exit 0 running, 1 not responding, 3 stopped
    stop      stop the background process
    serve     run in the foreground until Ctrl-C
    register  create a client for a public JWK or JWKS, print its client ID
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import JWKError, QlikTutorialError, WorkspaceError
from .process import local_tenant_status, start_local_tenant, stop_local_tenant
from .registration import DEFAULT_CLIENT_NAME, register_client
from .runner import serve
from .settings import add_settings_arguments, settings_from

EXIT_NOT_RESPONDING = 1
EXIT_NOT_RUNNING = 3


def _workspace(args: argparse.Namespace) -> Path:
    chosen = getattr(args, "workspace", None)
    if chosen:
        return Path(chosen)
    from ..workspace import default_workspace

    return default_workspace()


def _add_workspace(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS keeps a --workspace given to the parent parser from being reset.
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="workspace folder (default: $QLIK_TUTORIAL_WORKSPACE or ./workspace "
        "at the repository root)",
    )


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port from 0 to 65535")
    return int(text)


def add_local_tenant_commands(subparsers: Any) -> None:
    """Add ``local-tenant {start,status,stop,serve,register}`` to a CLI.

    ``subparsers`` comes from ``ArgumentParser.add_subparsers()``. Each
    command sets ``func``, which takes the parsed arguments and returns the
    exit status.
    """
    parser = subparsers.add_parser(
        "local-tenant",
        help="run the offline stand-in for Qlik Cloud on 127.0.0.1",
        description="Run the offline stand-in for Qlik Cloud on 127.0.0.1.",
    )
    commands = parser.add_subparsers(dest="local_tenant_command", required=True)

    start = commands.add_parser(
        "start", help="start in the background (or reuse a running one), print URL"
    )
    _add_workspace(start)
    start.add_argument(
        "--port", type=_port, help="port to listen on (default: the last run's)"
    )
    add_settings_arguments(start)
    start.set_defaults(func=_start)

    status = commands.add_parser("status", help="show URL and pid of the running one")
    _add_workspace(status)
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(func=_status)

    stop = commands.add_parser("stop", help="stop the background local tenant")
    _add_workspace(stop)
    stop.set_defaults(func=_stop)

    run = commands.add_parser("serve", help="run in the foreground until Ctrl-C")
    _add_workspace(run)
    run.add_argument(
        "--port", type=_port, default=None, help="port (default: the last run's)"
    )
    run.add_argument("--background", action="store_true", help=argparse.SUPPRESS)
    run.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    run.add_argument("--port-fallback", action="store_true", help=argparse.SUPPRESS)
    add_settings_arguments(run)
    run.set_defaults(func=_serve)

    register = commands.add_parser(
        "register", help="create a client for a public JWK, print its client ID"
    )
    _add_workspace(register)
    register.add_argument(
        "--jwk",
        required=True,
        metavar="FILE",
        help="file with one public JWK or a JWKS ('-' reads stdin)",
    )
    register.add_argument(
        "--name", default=DEFAULT_CLIENT_NAME, help="client name shown in the API"
    )
    register.set_defaults(func=_register)


def _start(args: argparse.Namespace) -> int:
    workspace = _workspace(args)
    settings = settings_from(args)
    result = start_local_tenant(workspace, settings=settings, port=args.port)
    if result.reused:
        print(
            f"Reusing the local tenant already running (pid {result.pid}); "
            "stop it first to change its settings.",
            file=sys.stderr,
        )
    else:
        print(f"Started the local tenant (pid {result.pid}).", file=sys.stderr)
    if result.previous_port is not None:
        print(
            f"Port {result.previous_port} of the last run is taken, so the URL "
            f"changed to {result.url}: sign new assertions with aud "
            f"{result.url}/oauth/token.",
            file=sys.stderr,
        )
    print(result.url)
    return 0


def _status(args: argparse.Namespace) -> int:
    workspace = _workspace(args)
    status = local_tenant_status(workspace)
    if args.json:
        print(json.dumps(status, indent=2))
    elif status is None:
        print(f"No local tenant is running for {workspace}.")
    else:
        health = "responding" if status["healthy"] else "NOT responding"
        print(f"{status['url']} (pid {status['pid']}, {health})")
        print(f"log: {status['log']}")
    if status is None:
        return EXIT_NOT_RUNNING
    return 0 if status["healthy"] else EXIT_NOT_RESPONDING


def _stop(args: argparse.Namespace) -> int:
    workspace = _workspace(args)
    if stop_local_tenant(workspace):
        print(f"Stopped the local tenant of {workspace}.")
    else:
        print(f"No local tenant was running for {workspace}.")
    return 0


def _serve(args: argparse.Namespace) -> int:
    workspace = _workspace(args)
    settings = settings_from(args)
    port = args.port
    may_move = port is None or args.port_fallback
    if port is None:
        from .state import StateFiles

        record = StateFiles.for_workspace(workspace).read_record() or {}
        previous = record.get("port")
        port = previous if isinstance(previous, int) else 0
    return serve(
        workspace,
        settings,
        port=port,
        may_move=may_move,
        background=args.background,
        ready_fd=args.ready_fd,
    )


def _read_jwk(source: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
    except OSError as error:
        raise WorkspaceError(
            "Cannot read the JWK file",
            value=source,
            cause=error.strerror or str(error),
            fix="pass the path of public_jwk.json in the workspace",
        ) from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise JWKError(
            "JWK file is not JSON",
            value=source,
            cause=str(error),
            fix="pass a file holding one public JWK object or a JWKS",
        ) from None
    if not isinstance(data, dict):
        raise JWKError(
            "JWK file contains no JSON object",
            value=source,
            cause=f"it contains a {type(data).__name__}",
            fix="pass a file holding one public JWK object or a JWKS",
        )
    return data


def _register(args: argparse.Namespace) -> int:
    client_id = register_client(_workspace(args), _read_jwk(args.jwk), name=args.name)
    print(client_id)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m qlik_tutorial.local_tenant``; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m qlik_tutorial.local_tenant",
        description="Run the offline stand-in for Qlik Cloud on 127.0.0.1.",
    )
    add_local_tenant_commands(parser.add_subparsers(dest="command", required=True))
    arguments = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(["local-tenant", *arguments])
    try:
        return int(args.func(args))
    except QlikTutorialError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
