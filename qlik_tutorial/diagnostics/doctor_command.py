"""``qlik-tutorial doctor``: its options, and the run that reports findings.

`run_doctor` takes the configuration from the options, the environment and
the workspace, runs `diagnose`, runs `probe_tenant` when a tenant is set and
``--offline`` is not, and prints the findings. `doctor` parses ``argv`` and
calls it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from ..errors import (
    ConfigurationError,
    QlikTutorialError,
    TenantURLError,
    WorkspaceError,
)
from ..keys import SUPPORTED_ALGS, SigningKey
from ..tenant import is_loopback, safe_url, tenant_origin
from ..workspace import ClientConfig, Workspace, default_workspace
from .checks import _Assertion, _finding, _split_assertion
from .findings import Finding, finding_for_error, format_findings
from .preflight import diagnose
from .probe import probe_tenant


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``doctor`` alone: --assertion, --offline and --timeout.

    The options that name the configuration are the ones every command of
    the CLI shares; `add_configuration_arguments` adds them for `doctor`.
    """
    parser.add_argument(
        "--assertion",
        metavar="JWT",
        help="client assertion to check, or - to read it from stdin (default: "
        "sign a new one with the key and check that)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="skip the GET request that checks that the tenant responds and compares "
        "clocks",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds to wait for the tenant's response (default: %(default)g)",
    )


def add_configuration_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--workspace``, ``--tenant``, ``--client-id``, ``--key`` and ``--alg``."""
    # The command line imports this package, so its helpers load on use.
    from ..cli import folder_argument

    parser.add_argument(
        "--workspace",
        type=folder_argument,
        metavar="DIR",
        help="workspace folder supplying the tenant, client ID, key and registered "
        "kid where their options are left out (default: "
        "$QLIK_TUTORIAL_WORKSPACE, else workspace/ at the repository root)",
    )
    parser.add_argument(
        "--tenant",
        metavar="T",
        help="tenant host or URL, or 'local' for the workspace's running local "
        "tenant (default: $QLIK_TENANT, else the workspace's client.json)",
    )
    parser.add_argument(
        "--client-id",
        metavar="ID",
        help="OAuth client ID (default: $QLIK_CLIENT_ID, else the workspace's "
        "client.json)",
    )
    parser.add_argument(
        "--key",
        metavar="KEYFILE",
        help="private key PEM file, or - to read it from stdin (default: "
        "$QLIK_PRIVATE_KEY, else the workspace's private_key.pem)",
    )
    parser.add_argument(
        "--alg",
        choices=SUPPORTED_ALGS,
        help="signing alg (default: the workspace's client.json, else the key's)",
    )


def doctor(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run ``qlik-tutorial doctor`` with ``argv``: 0 when nothing was found, else 1.

    A usage error raises SystemExit with status 2, as argparse does.
    """
    parser = argparse.ArgumentParser(
        prog="qlik-tutorial doctor",
        description="Check the configuration and a client assertion before "
        "sending them to the tenant.",
    )
    add_configuration_arguments(parser)
    add_doctor_arguments(parser)
    return run_doctor(parser.parse_args(argv), stdin=stdin, stdout=stdout)


@dataclass
class _Configuration:
    """The values `run_doctor` took from options, environment and workspace."""

    workspace: Workspace
    client: ClientConfig | None = None
    tenant: str | None = None
    client_id: str | None = None
    key: SigningKey | None = None
    local_keys: list[dict[str, Any]] | None = None
    findings: list[Finding] = field(default_factory=list)

    def registered_jwks(self) -> list[dict[str, Any]] | None:
        """Return the client's registered keys, if known.

        The running local tenant's record of the client comes first, then the
        key client.json registered, if it is for this client.
        """
        if self.local_keys is not None:
            return self.local_keys
        client = self.client
        if client is None or client.client_id != self.client_id:
            return None
        return [{"kid": client.kid, "alg": client.alg}]


def run_doctor(
    args: argparse.Namespace,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run the checks that parsed ``doctor`` options ask for; return the exit code.

    Problems with the configuration itself, such as a key that does not load,
    are findings too, so this returns 1 for them rather than raising.
    """
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    if args.key == "-" and args.assertion == "-":
        message = "doctor: error: --key - and --assertion - cannot both read stdin"
        print(message, file=sys.stderr)
        return 2
    config = _resolve_configuration(args, stdin)
    assertion = args.assertion
    if assertion == "-":
        assertion = stdin.read().strip()
    findings = list(config.findings)
    if assertion is None and config.key is None:
        cause = "no --assertion, --key or $QLIK_PRIVATE_KEY was given, and the "
        cause += f"workspace {config.workspace.root} holds no private_key.pem"
        findings.append(_finding("nothing_to_check", cause))
    findings += diagnose(
        assertion,
        key=config.key,
        tenant=config.tenant,
        client_id=config.client_id,
        registered_jwks=config.registered_jwks(),
        sent_jtis=_sent_jtis(config.workspace),
    )
    if config.tenant and not args.offline:
        findings += probe_tenant(config.tenant, timeout=args.timeout)
    print(_describe_configuration(config, given=assertion is not None), file=out)
    print(format_findings(findings), file=out)
    return 1 if findings else 0


def _resolve_configuration(args: argparse.Namespace, stdin: TextIO) -> _Configuration:
    config = _Configuration(Workspace(args.workspace or default_workspace()))
    try:
        config.client = config.workspace.load_client()
    except WorkspaceError as error:
        config.findings.append(finding_for_error(error))
    client = config.client
    config.tenant = _first_set(
        args.tenant, os.environ.get("QLIK_TENANT"), client.tenant if client else None
    )
    config.client_id = _first_set(
        args.client_id,
        os.environ.get("QLIK_CLIENT_ID"),
        client.client_id if client else None,
    )
    config.key = _load_key(args, config, stdin)
    # The key and client ID are checked before the local tenant is looked for.
    from ..cli import is_local_tenant

    if is_local_tenant(config.tenant):
        config.tenant = _local_tenant_url(config.workspace)
        if config.tenant is None:
            root = config.workspace.root
            cause = f"no local tenant of the workspace {root} answers, and doctor "
            cause += "never starts one"
            config.findings.append(
                _finding("local_tenant_stopped", cause, str(root), workspace=root)
            )
        elif config.client_id:
            _look_up_local_client(config, config.tenant, config.client_id)
    elif config.tenant and config.client_id and _is_loopback_tenant(config.tenant):
        url = _local_tenant_url(config.workspace)
        if url is not None and tenant_origin(url) == tenant_origin(config.tenant):
            _look_up_local_client(config, url, config.client_id)
    return config


def _is_loopback_tenant(tenant: str) -> bool:
    try:
        host = urlsplit(tenant_origin(tenant)).hostname
    except TenantURLError:
        return False
    return host is not None and is_loopback(host)


def _look_up_local_client(config: _Configuration, url: str, client_id: str) -> None:
    """Read the client's registered keys from the running local tenant."""
    from ..local_tenant import registered_client

    root = config.workspace.root
    try:
        client = registered_client(root, client_id)
    except QlikTutorialError as error:
        config.findings.append(finding_for_error(error))
        return
    if client is None:
        config.local_keys = []
        cause = f"the local tenant at {url} has no OAuth client with this ID, so "
        cause += "its token endpoint answers OAUTH-14"
        config.findings.append(
            _finding(
                "client_registered",
                cause,
                client_id,
                workspace=root,
                jwk=config.workspace.public_jwk,
            )
        )
        return
    keys = client.get("publicKeys")
    config.local_keys = (
        [jwk for jwk in keys if isinstance(jwk, dict)] if isinstance(keys, list) else []
    )


def _load_key(
    args: argparse.Namespace, config: _Configuration, stdin: TextIO
) -> SigningKey | None:
    """Load the key from --key, $QLIK_PRIVATE_KEY or the workspace, if any."""
    source: str | Path | None = args.key
    if source == "-":
        source = stdin.read()
    elif source is None and not os.environ.get("QLIK_PRIVATE_KEY", "").strip():
        if not config.workspace.private_key.exists():
            return None
        source = config.workspace.private_key
    client = config.client
    try:
        alg = _first_set(args.alg, client.alg if client else None)
        return SigningKey.load(source, alg=alg)
    except ConfigurationError as error:
        config.findings.append(finding_for_error(error))
        return None


def _first_set(*values: str | None) -> str | None:
    """Return the first value that is set and not blank."""
    for value in values:
        if value is not None and value.strip():
            return value.strip()
    return None


def _local_tenant_url(workspace: Workspace) -> str | None:
    """Return the URL of the workspace's local tenant if it runs; never start it."""
    from ..local_tenant import local_tenant_status

    status = local_tenant_status(workspace.root)
    url = status.get("url") if status else None
    return url if isinstance(url, str) else None


def _sent_jtis(workspace: Workspace) -> set[str]:
    """Return the jti of the workspace's assertion when a token was saved after it.

    The workspace keeps only its last assertion and last token response, so a
    token saved later means that the assertion was most likely sent.
    """
    assertion_file, token_file = workspace.assertion, workspace.token_json
    if not assertion_file.exists() or not token_file.exists():
        return set()
    if token_file.stat().st_mtime < assertion_file.stat().st_mtime:
        return set()
    parts = _split_assertion(assertion_file.read_text())
    jti = parts.claims.get("jti") if isinstance(parts, _Assertion) else None
    return {jti} if isinstance(jti, str) else set()


def _describe_configuration(config: _Configuration, *, given: bool) -> str:
    key = config.key
    rows = (
        ("workspace", str(config.workspace.root)),
        (
            "tenant",
            safe_url(config.tenant)
            if config.tenant
            else "not set, so aud is checked for its form only",
        ),
        ("client ID", config.client_id or "not set, so iss and sub are not checked"),
        ("signing key", f"kid {key.kid} ({key.alg})" if key else "none"),
        ("registered kid", _registered_kids(config)),
        ("assertion", "given" if given else "a new one, signed for this check"),
    )
    return "\n".join(f"{name + ':':<16}{value}" for name, value in rows)


def _registered_kids(config: _Configuration) -> str:
    registered = config.registered_jwks()
    if registered:
        return ", ".join(str(jwk.get("kid")) for jwk in registered)
    if config.local_keys is not None:
        return "none: the local tenant has no key for this client ID"
    return "unknown"
