"""The ``qlik-tutorial`` command line.

Each command is one ``add_*`` function that adds its subparser and sets a
handler, and `COMMANDS` lists them, so a new command is one function and one
entry. A handler takes the parsed arguments and returns the exit code. The
codes are 0 on success, 2 on a usage error and 1 on any other error, whose
message goes to stderr without a traceback.

Options left out are filled from ``$QLIK_PRIVATE_KEY``, ``$QLIK_TENANT`` and
``$QLIK_CLIENT_ID``, then from the workspace's files. Only ``assertion`` and
``token`` print a secret, on stdout, because handing it to scripts is their
job.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import diagnostics, keys
from .api import DEFAULT_PATH, call_api
from .assertion import DEFAULT_LIFETIME, MAX_LIFETIME, build_client_assertion
from .cli_inputs import (
    CLIENT_ID_ENV,
    PRIVATE_KEY_ENV,
    PROG,
    TENANT_ENV,
    UsageError,
    _access_token,
    _check_path,
    _inputs,
    _signing_key,
    _tenant_url,
    _timeout,
    _workspace,
    _workspace_is_explicit,
)
from .cli_inputs import LOCAL_TENANT as LOCAL_TENANT
from .cli_inputs import is_local_tenant as is_local_tenant
from .errors import QlikTutorialError, WorkspaceError
from .jwk import MIN_RSA_BITS
from .redact import redact_secrets
from .token_endpoint import DEFAULT_SCOPE, DEFAULT_TIMEOUT
from .workspace import WORKSPACE_ENV, Workspace

logger = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace], int | None]
Subparsers = Any  # argparse's _SubParsersAction, which is private


def folder_argument(text: str) -> Path:
    """Parse a folder option and reject an empty value (an argparse ``type``).

    An empty value, often an unset shell variable, would mean the current
    folder and put keys and tokens there.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty: pass a folder, or leave the option out for the default"
        )
    return Path(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        return _exit_code(exit_request)
    handler: Handler | None = getattr(args, "handler", None) or getattr(
        args, "func", None
    )
    if handler is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: choose a command", file=sys.stderr)
        return 2
    with _logging_to_stderr(verbose=getattr(args, "verbose", False)):
        return _run(handler, args, getattr(args, "parser", parser))


def _run(
    handler: Handler, args: argparse.Namespace, parser: argparse.ArgumentParser
) -> int:
    try:
        result = handler(args)
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as exit_request:
        return _exit_code(exit_request)
    except QlikTutorialError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        logger.debug("%s failed unexpectedly", parser.prog, exc_info=True)
        message = redact_secrets(str(error))
        print(
            f"{PROG}: error: unexpected {type(error).__name__}: {message} "
            "(run with --verbose for details)",
            file=sys.stderr,
        )
        return 1
    return 0 if result is None else int(result)


def _exit_code(exit_request: SystemExit) -> int:
    code = exit_request.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


@contextlib.contextmanager
def _logging_to_stderr(*, verbose: bool) -> Iterator[None]:
    """Send the kit's log records to stderr: DEBUG with --verbose, else WARNING."""
    package = logging.getLogger("qlik_tutorial")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    saved_level, saved_propagate = package.level, package.propagate
    package.addHandler(handler)
    package.setLevel(logging.DEBUG if verbose else logging.WARNING)
    package.propagate = False
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(saved_level)
        package.propagate = saved_propagate


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every command of `COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Private Key JWT for Qlik Cloud: keys, JWK, client assertion, "
        "access token and API call.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debug lines to stderr"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


# --- shared options ------------------------------------------------------


def _common_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--workspace",
        type=folder_argument,
        metavar="DIR",
        help="workspace folder supplying the key, tenant and client ID when "
        f"their options are left out (default: ${WORKSPACE_ENV}, else "
        "workspace/ at the repository root)",
    )
    options.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log debug lines to stderr",
    )
    return options


def _key_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--key",
        metavar="KEYFILE",
        help=f"private key PEM file, or - to read it from stdin (default: "
        f"${PRIVATE_KEY_ENV}, else the workspace's private_key.pem)",
    )
    options.add_argument(
        "--alg",
        choices=keys.SUPPORTED_ALGS,
        help="signing alg (default: the alg recorded for this key in the "
        "workspace, else ES384 for a P-384 key and RS256 for an RSA key)",
    )
    return options


def _client_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--tenant",
        metavar="T",
        help=f"tenant host or URL, or 'local' for the local tenant (default: "
        f"${TENANT_ENV}, else the workspace's client.json)",
    )
    options.add_argument(
        "--client-id",
        metavar="ID",
        help=f"OAuth client ID (default: ${CLIENT_ID_ENV}, else the workspace's "
        "client.json)",
    )
    return options


def _network_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT[1],
        metavar="S",
        help="seconds to wait for each response (default: %(default)g; connecting "
        f"waits at most {DEFAULT_TIMEOUT[0]:g})",
    )
    options.add_argument(
        "--scope",
        default=DEFAULT_SCOPE,
        help="scope of the access token (default: %(default)s)",
    )
    return options


def _lifetime(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not whole seconds: {text!r}") from None
    if not 1 <= value <= MAX_LIFETIME:
        raise argparse.ArgumentTypeError(
            f"must be from 1 to {MAX_LIFETIME} seconds, because Qlik Cloud rejects "
            f"a longer assertion: {text!r}"
        )
    return value


def _rsa_bits(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a whole number of bits: {text!r}"
        ) from None
    if not MIN_RSA_BITS <= value <= keys.MAX_RSA_BITS:
        raise argparse.ArgumentTypeError(
            f"must be from {MIN_RSA_BITS} to {keys.MAX_RSA_BITS} bits, because "
            f"RS256 and RS512 need at least {MIN_RSA_BITS} and the kit generates "
            f"at most {keys.MAX_RSA_BITS}: {text!r}"
        )
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600: {text!r}")
    return value


def _add_parser(
    subparsers: Subparsers,
    name: str,
    handler: Handler,
    *,
    help: str,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        parents=[_common_options(), *parents],
    )
    parser.set_defaults(handler=handler, parser=parser)
    return parser


# --- commands ------------------------------------------------------------


def add_keygen(subparsers: Subparsers) -> None:
    """Add ``keygen``: generate a key pair and write its three files."""
    parser = _add_parser(
        subparsers, "keygen", run_keygen, help="generate a key pair and its public JWK"
    )
    parser.add_argument(
        "--alg", choices=keys.SUPPORTED_ALGS, default="RS256", help="(default: RS256)"
    )
    parser.add_argument(
        "--bits",
        type=_rsa_bits,
        metavar="N",
        help=f"RSA key size in bits, {MIN_RSA_BITS} to {keys.MAX_RSA_BITS} "
        "(default: 2048; not for ES384)",
    )
    parser.add_argument(
        "--out",
        type=folder_argument,
        metavar="DIR",
        help="folder for private_key.pem, public_key.pem and public_jwk.json "
        "(default: the workspace)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="move an existing key pair to dated .bak files first",
    )


def run_keygen(args: argparse.Namespace) -> int:
    """Generate a key pair, write it and print the paths, alg and kid."""
    if args.bits is not None and args.alg == "ES384":
        raise UsageError("--bits applies to RSA keys; ES384 keys are always P-384")
    directory = (args.out or _workspace(args).root).absolute()
    Workspace(directory).ensure()
    try:
        keys.check_key_files(directory, force=args.force)
        key = keys.SigningKey.generate(args.alg, args.bits or 2048)
        files = keys.write_key_files(directory, key, force=args.force)
    except WorkspaceError as error:
        raise _with_cli_fix(error, directory, force=args.force) from None
    for backup in files.backups:
        print(f"backup:      {backup}")
    print(f"private key: {files.private_key} (mode 0600, keep it secret)")
    print(f"public key:  {files.public_key}")
    print(f"public JWK:  {files.public_jwk}")
    print(f"alg:         {key.alg}")
    print(f"kid:         {key.kid}")
    return 0


def _with_cli_fix(
    error: WorkspaceError, directory: Path, *, force: bool
) -> WorkspaceError:
    """Reword the fix for an existing key in command-line terms."""
    private_key = keys.key_files(directory).private_key
    exists = private_key.is_symlink() or private_key.is_file()
    if force or not exists:
        return error
    return WorkspaceError(
        error.symptom,
        value=error.value,
        cause=error.cause,
        fix=f"use the existing key, or run {PROG} keygen --force to move it to "
        "a dated backup first",
    )


def add_jwk(subparsers: Subparsers) -> None:
    """Add ``jwk``: print the public JWK of a private key."""
    _add_parser(
        subparsers,
        "jwk",
        run_jwk,
        help="print the public JWK to paste into the console",
        parents=[_key_options()],
    )


def run_jwk(args: argparse.Namespace) -> int:
    """Print the public JWK of the key."""
    space = _workspace(args)
    key = _signing_key(args, space)
    print(json.dumps(key.public_jwk, indent=2))
    return 0


def add_assertion(subparsers: Subparsers) -> None:
    """Add ``assertion``: print a signed client assertion."""
    parser = _add_parser(
        subparsers,
        "assertion",
        run_assertion,
        help="sign a client assertion and print it",
        parents=[_client_options(), _key_options()],
    )
    parser.add_argument(
        "--lifetime",
        type=_lifetime,
        default=DEFAULT_LIFETIME,
        metavar="S",
        help=f"seconds from iat to exp, 1 to {MAX_LIFETIME} (default: %(default)s)",
    )


def run_assertion(args: argparse.Namespace) -> int:
    """Sign a client assertion, print it and keep it in an explicit workspace."""
    space = _workspace(args)
    inputs = _inputs(args, space)
    tenant = _tenant_url(space, inputs.tenant)
    assertion = build_client_assertion(
        inputs.key, inputs.client_id, tenant, lifetime=args.lifetime
    )
    if _workspace_is_explicit(args):
        space.save_assertion(assertion)
    print(assertion)
    return 0


def add_token(subparsers: Subparsers) -> None:
    """Add ``token``: print a token response."""
    _add_parser(
        subparsers,
        "token",
        run_token,
        help="exchange a fresh client assertion for an access token and print "
        "the token response as JSON",
        parents=[_client_options(), _key_options(), _network_options()],
    )


def run_token(args: argparse.Namespace) -> int:
    """Request an access token and print the whole token response."""
    space = _workspace(args)
    inputs = _inputs(args, space)
    token = _access_token(args, space, inputs, _tenant_url(space, inputs.tenant))
    print(json.dumps(token.response, indent=2))
    return 0


def add_call(subparsers: Subparsers) -> None:
    """Add ``call``: GET an API path with a fresh access token."""
    parser = _add_parser(
        subparsers,
        "call",
        run_call,
        help="get an access token, GET an API path with it and print the JSON",
        parents=[_client_options(), _key_options(), _network_options()],
    )
    parser.add_argument(
        "path",
        nargs="?",
        default=DEFAULT_PATH,
        metavar="PATH",
        help="API path (default: %(default)s)",
    )


def run_call(args: argparse.Namespace) -> int:
    """Request an access token, call the API and print its JSON response."""
    space = _workspace(args)
    inputs = _inputs(args, space)
    _check_path(args.path, inputs.tenant)
    tenant = _tenant_url(space, inputs.tenant)
    token = _access_token(args, space, inputs, tenant)
    result = call_api(tenant, token, args.path, timeout=_timeout(args))
    print(json.dumps(result, indent=2))
    return 0


def add_doctor(subparsers: Subparsers) -> None:
    """Add ``doctor``: check the configuration and an assertion before sending."""
    parser = _add_parser(
        subparsers,
        "doctor",
        diagnostics.run_doctor,
        help="check the configuration and a client assertion before sending "
        "them; exit 0 when no problem is found, 1 otherwise",
        parents=[_client_options(), _key_options()],
    )
    diagnostics.add_doctor_arguments(parser)


def add_local_tenant(subparsers: Subparsers) -> None:
    """Add ``local-tenant``, whose subcommands the local tenant package defines."""
    # Imported on use, so importing this module loads no server code.
    from .local_tenant.cli import add_local_tenant_commands

    add_local_tenant_commands(subparsers)


COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    add_keygen,
    add_jwk,
    add_assertion,
    add_token,
    add_call,
    add_doctor,
    add_local_tenant,
)


if __name__ == "__main__":
    raise SystemExit(main())
