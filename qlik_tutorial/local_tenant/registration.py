"""Register OAuth clients on a local tenant through its admin API.

``register_client`` does what the console's "Create new OAuth client" form
does for the tutorial: a Web client with Private Key JWT, consent method
Trusted and the client-credentials grant, holding the given public JWK(s).
``registered_client`` looks a client up on a running local tenant.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from ..errors import APIRequestError, JWKError, TenantUnreachableError
from .process import ensure_local_tenant, live_record
from .state import StateFiles, WorkspaceLike, read_admin_key

DEFAULT_CLIENT_NAME = "qlik-private-key-jwt tutorial"
ADMIN_TIMEOUT = 10.0


def admin_request(
    url: str,
    key: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    timeout: float = ADMIN_TIMEOUT,
) -> tuple[int, Any]:
    """Send one admin API request to the local tenant at ``url``.

    Returns the status and the decoded JSON body (None when empty). The
    connection goes straight to 127.0.0.1, never through a proxy.
    """
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout
    )
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as error:
        raise TenantUnreachableError(
            "Local tenant did not respond",
            value=url,
            cause=str(error),
            fix="check it with `qlik-tutorial local-tenant status`, or start it",
        ) from error
    finally:
        connection.close()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    return response.status, data


def _public_keys(jwk_or_jwks: Mapping[str, Any]) -> list[Any]:
    if "keys" in jwk_or_jwks:
        keys = jwk_or_jwks["keys"]
        return list(keys) if isinstance(keys, list) else [keys]
    return [dict(jwk_or_jwks)]


def registered_client(
    workspace: WorkspaceLike, client_id: str
) -> dict[str, Any] | None:
    """Return the client ``client_id`` of the workspace's local tenant, or None.

    None means that the local tenant has no client with this ID. The dict is
    the admin API's view of the client, with its ``publicKeys``. A local
    tenant that does not run is never started: that raises
    `TenantUnreachableError`, and any other failure `APIRequestError`.
    """
    files = StateFiles.for_workspace(workspace)
    record = live_record(files)
    if record is None:
        raise TenantUnreachableError(
            "No local tenant runs for the workspace",
            value=str(files.workspace),
            cause="looking a client up never starts the local tenant",
            fix=f"start it with: qlik-tutorial local-tenant start --workspace "
            f"{files.workspace}",
        )
    url = str(record.get("url"))
    path = f"/api/v1/oauth-clients/{quote(client_id, safe='')}"
    status, data = admin_request(url, read_admin_key(files), "GET", path)
    if status == 404:
        return None
    if status == 200 and isinstance(data, dict):
        return data
    raise APIRequestError(
        "Looking the client up on the local tenant failed",
        value=status,
        cause=f"the admin API responded {json.dumps(data)[:200]}",
        fix=f"check it with `qlik-tutorial local-tenant status`, or read {files.log}",
        status=status,
        url=url + path,
    )


def register_client(
    workspace: WorkspaceLike,
    jwk_or_jwks: Mapping[str, Any],
    *,
    name: str = DEFAULT_CLIENT_NAME,
) -> str:
    """Create a client on the workspace's local tenant and return its client ID.

    ``jwk_or_jwks`` is one public JWK or a JWKS (``{"keys": [...]}``). The
    local tenant is started when none runs. A JWK the tenant rejects raises
    `JWKError` with its reason and fix; any other failure `APIRequestError`.
    """
    url = ensure_local_tenant(workspace)
    key = read_admin_key(StateFiles.for_workspace(workspace))
    body = {
        "appType": "web",
        "clientName": name,
        "allowedAuthMethods": ["private_key_jwt"],
        "allowedGrantTypes": ["client_credentials"],
        "allowedScopes": ["user_default"],
        "publicKeys": _public_keys(jwk_or_jwks),
        "connectionConfig": {"consentMethod": "trusted"},
    }
    path = "/api/v1/oauth-clients"
    status, data = admin_request(url, key, "POST", path, body)
    if status == 201 and isinstance(data, dict) and "clientId" in data:
        return str(data["clientId"])
    error: dict[str, Any] = {}
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        error = data["errors"][0] if data["errors"] else {}
    detail = str(error.get("detail", ""))
    cause, _, fix = detail.partition(". Fix: ")
    if error.get("code") == "OAUTH-40":
        raise JWKError(
            "The local tenant rejected the public JWK",
            cause=cause,
            fix=fix or "export the public key again as a JWK",
        )
    raise APIRequestError(
        "Registering the OAuth client failed",
        value=f"{status} {error.get('code', '')}".strip(),
        cause=cause or "the local tenant responded without an error body",
        fix=fix or f"read {StateFiles.for_workspace(workspace).log}",
        status=status,
        url=url + path,
        code=error.get("code"),
        title=error.get("title"),
        detail=detail or None,
    )
