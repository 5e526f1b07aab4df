"""Notebook helpers that only the local tenant supports, through its admin API.

Notebook 06 uses them to cause failures on purpose: `require_local_tenant`
raises for a real tenant, and `shift_local_clock` moves the local tenant's
clock. Step 02 looks a client ID up on the admin API to check that it is
registered with the workspace's key. `show_stop_command` prints the command
that stops the local tenant, which the notebooks start in the background.
"""

from __future__ import annotations

import json
import shlex

from . import local_tenant
from .errors import APIRequestError, ConfigurationError
from .local_tenant.registration import admin_request
from .local_tenant.settings import DEFAULT_IDLE_TIMEOUT
from .notebook_parameters import CLIENT_ID_ENV, LOCAL_TENANT, TENANT_ENV, Tenant
from .workspace import Workspace


def require_local_tenant(tenant: Tenant, *, reason: str) -> None:
    """Raise `ConfigurationError` unless ``tenant`` is the local tenant.

    ``reason`` explains why the step needs the local tenant.
    """
    if not tenant.local:
        raise ConfigurationError(
            "This step runs only against the local tenant",
            value=tenant.origin,
            cause=reason,
            fix=f"leave tenant unset (None) or pass {LOCAL_TENANT!r}, and unset "
            f"{TENANT_ENV}",
        )


def shift_local_clock(space: Workspace, seconds: float) -> None:
    """Set how far the local tenant's clock runs ahead of this machine's.

    The local tenant adds ``seconds`` to its clock from the next request on,
    so a notebook can let time pass without waiting. A negative value sets it
    behind, and 0 restores the real time. Only the local tenant has this
    setting, through its admin API.
    """
    url = local_tenant.ensure_local_tenant(space.root)
    key = local_tenant.admin_key(space.root)
    path = "/api/v1/local-tenant/settings"
    status, body = admin_request(url, key, "PATCH", path, {"clockOffset": seconds})
    if status != 200:
        raise APIRequestError(
            "Changing the local tenant's clock failed",
            value=status,
            cause=f"the admin API responded {json.dumps(body)[:200]}",
            fix="check the local tenant with `qlik-tutorial local-tenant status`",
            status=status,
            url=url + path,
        )
    if seconds == 0:
        print("The local tenant's clock is back in step with this machine's.")
    else:
        direction = "ahead of" if seconds > 0 else "behind"
        offset = f"{abs(seconds):g} s {direction}"
        print(f"The local tenant's clock now runs {offset} this machine's.")


def stop_command(space: Workspace) -> str:
    """Return the command, run from the kit's root, that stops the local tenant."""
    folder = shlex.quote(str(space.root))
    return f".venv/bin/qlik-tutorial local-tenant stop --workspace {folder}"


def show_stop_command(space: Workspace) -> None:
    """Say whether the workspace's local tenant still runs, and how to stop it.

    Nothing is stopped: later notebooks and ``make run`` use the same tenant.
    """
    status = local_tenant.local_tenant_status(space.root)
    if status is None:
        print("No local tenant runs for this workspace: there is nothing to stop.")
        return
    hours = DEFAULT_IDLE_TIMEOUT / 3600
    print(
        f"The local tenant of this workspace still runs at {status['url']} "
        f"(pid {status['pid']}).\n"
        f"It stops by itself after {DEFAULT_IDLE_TIMEOUT:g} s ({hours:g} h) without "
        "a request, unless it was started with another idle timeout.\n"
        "To stop it now, run this in a terminal at the kit's root:\n"
        f"  {stop_command(space)}"
    )


def _check_local_client(
    space: Workspace, client_id: str, kid: str, source: str
) -> None:
    """Raise unless the local tenant has a client ``client_id`` with the key ``kid``."""
    url = local_tenant.ensure_local_tenant(space.root)
    client = local_tenant.registered_client(space.root, client_id)
    if source == "workspace":
        fresh = f"delete {space.client_json.name} and run this step again"
    elif source == CLIENT_ID_ENV:
        fresh = f"unset {CLIENT_ID_ENV}"
    else:
        fresh = "leave client_id unset (None)"
    fresh += ", so that the local tenant registers a new client"
    if client is None:
        raise ConfigurationError(
            f"The client ID from {source} is not registered on the local tenant",
            value=client_id,
            cause=f"the local tenant at {url} has no OAuth client with this ID",
            fix=f"{fresh}, or pass the ID of a client registered there",
        )
    kids = [
        str(jwk.get("kid"))
        for jwk in client.get("publicKeys") or []
        if isinstance(jwk, dict)
    ]
    if kid not in kids:
        raise ConfigurationError(
            f"The client from {source} is not registered with the workspace's key",
            value=client_id,
            cause=f"its public keys have kid {', '.join(kids) or '(none)'}, the "
            f"workspace's public JWK has kid {kid}",
            fix=f"{fresh}, or pass the ID of a client registered with "
            f"{space.public_jwk.name}",
        )
