"""Resolution of a command's inputs: options, environment variables, workspace.

An option left out is filled from its environment variable
(``$QLIK_PRIVATE_KEY``, ``$QLIK_TENANT``, ``$QLIK_CLIENT_ID``), then from the
workspace's files. An option given empty raises `UsageError` instead of
falling back, and the tenant 'local' starts the workspace's local tenant only
once every input has been checked.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from . import keys
from .api import DEFAULT_PATH, api_url
from .assertion import build_client_assertion
from .errors import ConfigurationError, PrivateKeyError
from .tenant import is_loopback, safe_url, tenant_origin
from .token_endpoint import DEFAULT_TIMEOUT, AccessToken, request_access_token
from .workspace import WORKSPACE_ENV, ClientConfig, Workspace, default_workspace

logger = logging.getLogger(__name__)

PROG = "qlik-tutorial"
TENANT_ENV = "QLIK_TENANT"
CLIENT_ID_ENV = "QLIK_CLIENT_ID"
PRIVATE_KEY_ENV = keys.PRIVATE_KEY_ENV
LOCAL_TENANT = "local"


class UsageError(Exception):
    """A required option is missing or options contradict each other (exit 2)."""


def is_local_tenant(tenant: str | None) -> bool:
    """Return whether ``tenant`` names the local tenant: 'local' in any case."""
    return tenant is not None and tenant.strip().lower() == LOCAL_TENANT


def _workspace(args: argparse.Namespace) -> Workspace:
    root = getattr(args, "workspace", None)
    return Workspace(root if root is not None else default_workspace())


def _workspace_is_explicit(args: argparse.Namespace) -> bool:
    """Return whether the user chose the workspace, so results may be saved there."""
    return getattr(args, "workspace", None) is not None or bool(
        os.environ.get(WORKSPACE_ENV, "").strip()
    )


def _client(space: Workspace) -> ClientConfig | None:
    return space.load_client() if space.client_json.exists() else None


def _option_value(args: argparse.Namespace, name: str) -> str | None:
    """Return an option's value, and raise UsageError when it was given empty.

    An empty value usually comes from an unset shell variable, as in
    ``--key "$KEY_FILE"``, and falling back to another source would hide that.
    """
    value: str | None = getattr(args, name)
    if value is not None and not value.strip():
        option = "--" + name.replace("_", "-")
        raise UsageError(
            f"{option} is empty: pass a value, or leave {option} out to use the "
            "environment variable or the workspace"
        )
    return value


@dataclass(frozen=True)
class _Inputs:
    """The tenant as chosen (the local tenant not yet started), client ID and key."""

    tenant: str
    client_id: str
    key: keys.SigningKey


def _inputs(args: argparse.Namespace, space: Workspace) -> _Inputs:
    """Resolve and check the tenant, client ID and key, contacting no tenant.

    Checking every input first means a mistake never leaves a local tenant
    running, or a request sent, for a command that then fails.
    """
    tenant = _tenant(args, space)
    if not is_local_tenant(tenant):
        tenant_origin(tenant)
    return _Inputs(tenant, _client_id(args, space), _signing_key(args, space))


def _tenant_url(space: Workspace, tenant: str) -> str:
    """Return the tenant to send to, starting the local tenant when it is chosen."""
    if not is_local_tenant(tenant):
        return tenant
    from .local_tenant import ensure_local_tenant

    url = ensure_local_tenant(space.root)
    logger.debug("local tenant at %s", url)
    return url


def _check_path(path: str, tenant: str) -> None:
    """Raise `ConfigurationError` for an API URL that is not on ``tenant``."""
    if not is_local_tenant(tenant):
        api_url(tenant_origin(tenant), path)
        return
    text = path.strip()
    if "://" in text and not is_loopback(_host(text)):
        raise ConfigurationError(
            "API URL is not on the tenant",
            value=safe_url(text),
            cause="the access token belongs to the local tenant on 127.0.0.1 and "
            "must not go elsewhere",
            fix=f"pass a path such as {DEFAULT_PATH}",
        )


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _tenant(args: argparse.Namespace, space: Workspace) -> str:
    """Return the tenant as given: a host, a URL or 'local'."""
    tenant = _option_value(args, "tenant") or os.environ.get(TENANT_ENV, "").strip()
    if not tenant:
        client = _client(space)
        tenant = client.tenant if client else ""
    if not tenant:
        raise UsageError(
            f"no tenant: pass --tenant T, set ${TENANT_ENV}, or use a --workspace "
            "whose client.json names it"
        )
    return tenant


def _client_id(args: argparse.Namespace, space: Workspace) -> str:
    client_id = _option_value(args, "client_id")
    client_id = client_id or os.environ.get(CLIENT_ID_ENV, "").strip()
    if not client_id:
        client = _client(space)
        client_id = client.client_id if client else ""
    if not client_id:
        raise UsageError(
            f"no client ID: pass --client-id ID, set ${CLIENT_ID_ENV}, or use a "
            "--workspace whose client.json names it"
        )
    return str(client_id)


def _signing_key(args: argparse.Namespace, space: Workspace) -> keys.SigningKey:
    """Load the key from --key, ``$QLIK_PRIVATE_KEY`` or the workspace.

    Without --alg the alg is the one recorded for this key's kid in
    client.json or public_jwk.json, else the key's own default.
    """
    source: bytes | Path | None
    key_option = _option_value(args, "key")
    if key_option == "-":
        source = sys.stdin.buffer.read()
        if not source.strip():
            raise PrivateKeyError(
                "No private key on standard input",
                value="--key -",
                cause="standard input was empty",
                fix="pipe the key into the command, for example: "
                f"{PROG} jwk --key - < private_key.pem",
            )
    elif key_option:
        source = Path(key_option)
    elif os.environ.get(PRIVATE_KEY_ENV, "").strip():
        # None makes load_private_key read the variable, whose text it never
        # shows in a message.
        source = None
    elif space.private_key.exists():
        source = space.private_key
    else:
        raise UsageError(
            f"no private key: pass --key KEYFILE (or - for stdin), set "
            f"${PRIVATE_KEY_ENV}, or use a --workspace holding private_key.pem "
            f"(looked in {space.root})"
        )
    private_key = keys.load_private_key(source)
    alg = args.alg
    if alg is None:
        default = keys.SigningKey.from_private_key(private_key)
        alg = _recorded_alg(space, default.kid) or default.alg
    key = keys.SigningKey.from_private_key(private_key, alg)
    logger.debug("signing key %s", key)
    return key


def _recorded_alg(space: Workspace, kid: str) -> str | None:
    """Return the alg the workspace recorded for ``kid``, if any."""
    client = _client(space)
    if client is not None and client.kid == kid:
        return client.alg
    try:
        jwk = json.loads(space.public_jwk.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(jwk, dict) and jwk.get("kid") == kid:
        alg = jwk.get("alg")
        return alg if isinstance(alg, str) else None
    return None


def _timeout(args: argparse.Namespace) -> tuple[float, float]:
    read: float = args.timeout
    return min(DEFAULT_TIMEOUT[0], read), read


def _access_token(
    args: argparse.Namespace, space: Workspace, inputs: _Inputs, tenant: str
) -> AccessToken:
    """Sign a fresh assertion and exchange it; keep both in an explicit workspace."""
    assertion = build_client_assertion(inputs.key, inputs.client_id, tenant)
    token = request_access_token(
        tenant, inputs.client_id, assertion, scope=args.scope, timeout=_timeout(args)
    )
    if _workspace_is_explicit(args):
        space.save_assertion(assertion)
        space.save_token(token)
    return token
