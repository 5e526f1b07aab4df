"""Parameter resolution for the step notebooks: workspace, tenant, key and alg.

A parameter that is not set (``None``) comes from its environment variable,
then from the workspace, then from the default; the table is in
`qlik_tutorial.notebook`. The tenant ``"local"`` is the workspace's own
local tenant, started when needed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import local_tenant
from .errors import AlgorithmError, WorkspaceError
from .keys import SigningKey
from .tenant import is_loopback, tenant_origin
from .workspace import WORKSPACE_ENV, Workspace, default_workspace

TENANT_ENV = "QLIK_TENANT"
CLIENT_ID_ENV = "QLIK_CLIENT_ID"
PRIVATE_KEY_ENV = "QLIK_PRIVATE_KEY"
LOCAL_TENANT = "local"
DEFAULT_ALG = "RS256"
PARAMETERS = ("workspace", "tenant", "client_id", "private_key", "alg", "interactive")
# Notebook metadata key: {"tenants": ["local"]} marks a local-tenant-only step.
METADATA_KEY = "qlik_tutorial"


@dataclass(frozen=True)
class Tenant:
    """A resolved tenant: its origin, whether it is the local tenant, and why."""

    origin: str
    local: bool
    source: str


def _from_environment(parameter: object, variable: str) -> tuple[str | None, str]:
    if parameter is not None:
        return str(parameter), "parameter"
    value = os.environ.get(variable, "").strip()
    if value:
        return value, variable
    return None, ""


def resolve_workspace(workspace: str | os.PathLike[str] | None = None) -> Workspace:
    """Return the workspace folder, created when missing, and print where it is."""
    if workspace is not None:
        root, source = Path(workspace).expanduser(), "parameter"
    elif os.environ.get(WORKSPACE_ENV, "").strip():
        root, source = default_workspace(), WORKSPACE_ENV
    else:
        root, source = default_workspace(), "default"
    space = Workspace(root.resolve())
    space.ensure()
    print(f"Workspace: {space.root} (from {source})")
    return space


def _workspace_jwk(space: Workspace) -> dict[str, Any] | None:
    if not space.public_jwk.exists():
        return None
    try:
        jwk = json.loads(space.public_jwk.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WorkspaceError(
            "Public JWK file cannot be read",
            value=str(space.public_jwk),
            cause=str(error),
            fix="rewrite it with `qlik-tutorial jwk --key private_key.pem`, or "
            "start again from 01_generate_keys with a fresh workspace",
        ) from None
    if not isinstance(jwk, dict):
        raise WorkspaceError(
            "Public JWK file does not contain a JSON object",
            value=str(space.public_jwk),
            cause=f"it contains a JSON {type(jwk).__name__}",
            fix="rewrite it with `qlik-tutorial jwk --key private_key.pem`",
        )
    return jwk


def workspace_alg(space: Workspace) -> str:
    """Return the alg of the workspace's key: its JWK's, else client.json's."""
    jwk = _workspace_jwk(space)
    if jwk is not None and "alg" in jwk:
        return str(jwk["alg"])
    config = space.load_client()
    if config is not None:
        return config.alg
    raise WorkspaceError(
        "No key in the workspace",
        value=str(space.root),
        cause=f"{space.public_jwk.name} is missing",
        fix="run 01_generate_keys with this workspace first",
    )


def check_alg(alg: str | None, space: Workspace) -> str:
    """Return the workspace's alg, raising when the ``alg`` parameter differs."""
    found = workspace_alg(space)
    if alg is not None and alg.strip().upper() != found:
        raise AlgorithmError(
            "The alg parameter contradicts the workspace",
            value=alg,
            cause=f"the key in {space.root} was made and registered for {found}",
            fix=f"leave alg unset (None) or pass {found!r}; for another alg run "
            "01_generate_keys with a fresh workspace",
        )
    return found


def _supplied_key(private_key: str | os.PathLike[str] | None) -> tuple[Any, str]:
    """Return the key source (a path or PEM text) and where it came from."""
    if private_key is not None:
        return Path(private_key).expanduser(), "parameter"
    text = os.environ.get(PRIVATE_KEY_ENV, "")
    if text.strip():
        return text, PRIVATE_KEY_ENV
    return None, ""


def _check_supplied_key(
    space: Workspace, kid: str, alg: str, private_key: str | os.PathLike[str] | None
) -> None:
    """Raise `WorkspaceError` when a supplied key is not the workspace's key."""
    source, origin = _supplied_key(private_key)
    if source is None:
        return
    supplied = SigningKey.load(source, alg=alg).kid
    if supplied != kid:
        raise WorkspaceError(
            f"The private key from {origin} contradicts the workspace",
            value=str(space.private_key),
            cause=f"the supplied key has kid {supplied}, the workspace's key has "
            f"kid {kid}",
            fix=f"leave private_key unset (None) and unset {PRIVATE_KEY_ENV}, or "
            "start again from 01_generate_keys with a fresh workspace",
        )


def _is_local_origin(origin: str, space: Workspace, *, recorded: bool) -> bool:
    """Return whether ``origin`` means this workspace's local tenant.

    Both need a loopback host and a workspace that has a local tenant. An
    origin that client.json ``recorded`` then does. An origin given as a
    parameter does when it is the running local tenant's URL, or when that
    tenant is stopped.
    """
    host = urlsplit(origin).hostname or ""
    if not is_loopback(host) or not space.local_tenant_dir.exists():
        return False
    if recorded:
        return True
    status = local_tenant.local_tenant_status(space.root)
    running = status.get("url") if status else None
    return running is None or tenant_origin(str(running)) == origin


def resolve_tenant(tenant: str | None, space: Workspace) -> Tenant:
    """Return the tenant to use, starting the local tenant when it is chosen.

    ``"local"`` (the default) and the origin of the workspace's own local
    tenant, such as client.json records, both mean that local tenant.
    """
    value, source = _from_environment(tenant, TENANT_ENV)
    config = space.load_client()
    if value is None and config is not None:
        value, source = config.tenant, "workspace"
    if value is None:
        value, source = LOCAL_TENANT, "default"

    local = value.strip().lower() == LOCAL_TENANT
    if not local:
        origin = tenant_origin(value)
        local = _is_local_origin(origin, space, recorded=source == "workspace")
    if local:
        origin = tenant_origin(local_tenant.ensure_local_tenant(space.root))
    print(f"Tenant: {origin} (from {source}{', the local tenant' if local else ''})")
    return Tenant(origin=origin, local=local, source=source)
