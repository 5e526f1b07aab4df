"""Parameter resolution for the step notebooks, and what they pass on.

Every step notebook has one cell tagged ``parameters`` with plain values, where
``None`` means "not set". A value that is not set comes from its environment
variable, then from the workspace, then from the default::

    parameter    environment variable      workspace                  default
    workspace    QLIK_TUTORIAL_WORKSPACE   -                          <repo>/workspace
    tenant       QLIK_TENANT               client.json                "local"
    client_id    QLIK_CLIENT_ID            client.json                registered by 02
    private_key  QLIK_PRIVATE_KEY (PEM)    private_key.pem            new key from 01
    alg          -                         public_jwk.json            RS256

The tenant ``"local"`` is the offline local tenant of the workspace, started
when needed. Notebooks 02 to 05 take the alg, tenant and client ID from the
workspace and raise when a parameter contradicts it. Notebooks pass nothing to
each other but the workspace's files.

The display helpers live in `qlik_tutorial.notebook_display` and are
re-exported here, so a notebook needs only ``from qlik_tutorial import
notebook as nb``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from . import local_tenant
from .assertion import build_client_assertion, decode_assertion
from .errors import (
    AlgorithmError,
    APIRequestError,
    ConfigurationError,
    WorkspaceError,
)
from .jwk import check_public_jwk, describe_key
from .keys import SigningKey, generate_private_key, write_key_files
from .local_tenant.registration import admin_request
from .notebook_display import (
    SUMMARY_MIMETYPE,
    Clock,
    assertion_text,
    checklist_text,
    checklist_widget,
    curl_api_text,
    curl_token_text,
    error_text,
    expiry_text,
    format_utc,
    jwk_copy_widget,
    jwk_text,
    key_files_text,
    openssl_text,
    relative_time,
    show_assertion,
    show_checklist,
    show_curl_api,
    show_curl_token,
    show_errors_briefly,
    show_jwk,
    show_key_files,
    show_openssl,
    show_summary,
    show_token,
    show_token_issued,
    show_user,
    summarize_assertion,
    summarize_client,
    summarize_key,
    summarize_token,
    summarize_user,
    summary_bundle,
    token_issued_text,
    token_text,
)
from .tenant import is_loopback, tenant_origin, token_endpoint
from .token_endpoint import AccessToken, fetch_access_token
from .workspace import WORKSPACE_ENV, ClientConfig, Workspace, default_workspace

__all__ = [
    "CLIENT_ID_ENV",
    "LOCAL_TENANT",
    "METADATA_KEY",
    "PARAMETERS",
    "PRIVATE_KEY_ENV",
    "SUMMARY_MIMETYPE",
    "TENANT_ENV",
    "Tenant",
    "assertion_for_exchange",
    "assertion_text",
    "check_alg",
    "checklist_text",
    "checklist_widget",
    "curl_api_text",
    "curl_token_text",
    "error_text",
    "format_utc",
    "jwk_copy_widget",
    "jwk_text",
    "key_files_text",
    "load_client",
    "load_key",
    "load_public_jwk",
    "openssl_text",
    "prepare_key",
    "register_client",
    "require_local_tenant",
    "resolve_tenant",
    "resolve_workspace",
    "shift_local_clock",
    "show_assertion",
    "show_checklist",
    "show_curl_api",
    "show_curl_token",
    "show_errors_briefly",
    "show_jwk",
    "show_key_files",
    "show_openssl",
    "show_summary",
    "show_token",
    "show_token_issued",
    "show_user",
    "summarize_assertion",
    "summarize_client",
    "summarize_key",
    "summarize_token",
    "summarize_user",
    "summary_bundle",
    "token_for_call",
    "token_issued_text",
    "token_text",
    "workspace_alg",
]


TENANT_ENV = "QLIK_TENANT"
CLIENT_ID_ENV = "QLIK_CLIENT_ID"
PRIVATE_KEY_ENV = "QLIK_PRIVATE_KEY"
LOCAL_TENANT = "local"
DEFAULT_ALG = "RS256"
PARAMETERS = ("workspace", "tenant", "client_id", "private_key", "alg", "interactive")
# Notebook metadata key: {"tenants": ["local"]} marks a local-tenant-only step.
METADATA_KEY = "qlik_tutorial"

# An assertion or token this close to its expiry is replaced before use.
ASSERTION_MARGIN = 10.0
TOKEN_MARGIN = 30.0


@dataclass(frozen=True)
class Tenant:
    """A resolved tenant: its origin, whether it is the local tenant, and why."""

    origin: str
    local: bool
    source: str


# --- parameter resolution ---------------------------------------------------


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


def _key_summary(key: SigningKey) -> str:
    """Return "RS256 key pair: RSA 2048-bit key, kid ...", never key material."""
    return f"{key.alg} key pair: {describe_key(key.private_key)}, kid {key.kid}"


def prepare_key(
    space: Workspace,
    *,
    alg: str | None = None,
    private_key: str | os.PathLike[str] | None = None,
) -> SigningKey:
    """Generate, load or reuse the key pair of step 01, and print which.

    A supplied key (the ``private_key`` path or ``QLIK_PRIVATE_KEY``) is used
    instead of a new one. A key already in the workspace is reused when it is
    the same key or fits the requested alg. Keys are never overwritten, so any
    other existing key raises `WorkspaceError` or `AlgorithmError`.
    """
    source, origin = _supplied_key(private_key)
    requested = alg.strip().upper() if alg is not None else None
    existing = space.private_key.exists()
    existing_jwk = _workspace_jwk(space) if existing else None
    existing_alg = str(existing_jwk["alg"]) if existing_jwk else None

    if source is not None:
        key = SigningKey.load(source, alg=requested)
        if not existing:
            write_key_files(space.root, key)
            summary = _key_summary(key)
            print(f"Loaded the key from {origin} and wrote its files. {summary}.")
            return key
        current = SigningKey.load(space.private_key, alg=existing_alg)
        if current.kid != key.kid:
            raise WorkspaceError(
                "The workspace already contains a different private key",
                value=str(space.private_key),
                cause=f"the key from {origin} has kid {key.kid}, the workspace's "
                f"key has kid {current.kid}",
                fix="use a fresh workspace for the supplied key, or move the old "
                "key aside with `qlik-tutorial keygen --force`",
            )
        requested = requested or current.alg

    if existing:
        chosen = requested or existing_alg
        if existing_alg is not None and chosen != existing_alg:
            raise AlgorithmError(
                "The workspace already contains a key for another alg",
                value=requested,
                cause=f"{space.private_key} is a {existing_alg} key, and an "
                "existing key is never overwritten",
                fix=f"pass alg={existing_alg!r}, use a fresh workspace, or back "
                "the old key up with `qlik-tutorial keygen --force`",
            )
        key = SigningKey.load(space.private_key, alg=chosen)
        same = f"the key from {origin}" if source is not None else "a key"
        print(
            f"The workspace already contains {same}: reusing it. {_key_summary(key)}."
        )
        return key

    chosen = requested or DEFAULT_ALG
    key = SigningKey.from_private_key(generate_private_key(chosen), chosen)
    write_key_files(space.root, key)
    print(f"Generated a new {_key_summary(key)}.")
    return key


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


def require_local_tenant(tenant: Tenant, *, reason: str) -> None:
    """Raise `ConfigurationError` unless ``tenant`` is the local tenant.

    ``reason`` says why the step needs the local tenant.
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


def load_public_jwk(
    space: Workspace,
    *,
    alg: str | None = None,
    private_key: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Return the workspace's public JWK after checking it as the console would.

    Raises when the ``alg`` parameter or a supplied key (the ``private_key``
    path or ``QLIK_PRIVATE_KEY``) contradicts the workspace.
    """
    found = check_alg(alg, space)
    jwk = _workspace_jwk(space)
    if jwk is None:
        raise WorkspaceError(
            "No public JWK in the workspace",
            value=str(space.public_jwk),
            cause="step 01 writes it next to the private key",
            fix="run 01_generate_keys with this workspace first",
        )
    check_public_jwk(jwk)
    _check_supplied_key(space, str(jwk["kid"]), found, private_key)
    print(f"{space.public_jwk.name} passes the console's checks (kid {jwk['kid']}).")
    return jwk


def _check_local_client(
    space: Workspace, client_id: str, kid: str, source: str
) -> None:
    """Raise unless the local tenant has a client ``client_id`` with the key ``kid``."""
    url = local_tenant.ensure_local_tenant(space.root)
    key = local_tenant.admin_key(space.root)
    path = f"/api/v1/oauth-clients/{quote(client_id, safe='')}"
    status, body = admin_request(url, key, "GET", path)
    if source == "workspace":
        fresh = f"delete {space.client_json.name} and run this step again"
    elif source == CLIENT_ID_ENV:
        fresh = f"unset {CLIENT_ID_ENV}"
    else:
        fresh = "leave client_id unset (None)"
    fresh += ", so that the local tenant registers a new client"
    if status == 404:
        raise ConfigurationError(
            f"The client ID from {source} is not registered on the local tenant",
            value=client_id,
            cause=f"the local tenant at {url} has no OAuth client with this ID",
            fix=f"{fresh}, or pass the ID of a client registered there",
        )
    if status != 200 or not isinstance(body, dict):
        raise APIRequestError(
            "Looking the client ID up on the local tenant failed",
            value=status,
            cause=f"the admin API responded {json.dumps(body)[:200]}",
            fix="check the local tenant with `qlik-tutorial local-tenant status`",
            status=status,
            url=url + path,
        )
    kids = [
        str(jwk.get("kid"))
        for jwk in body.get("publicKeys") or []
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


def register_client(
    space: Workspace,
    tenant: Tenant,
    jwk: Mapping[str, Any],
    *,
    client_id: str | None = None,
    name: str = "qlik-private-key-jwt tutorial",
) -> ClientConfig:
    """Return the registered client and save it to client.json.

    The client ID comes from the parameter, ``QLIK_CLIENT_ID``, or client.json
    when that names the same tenant and key. Otherwise the local tenant
    registers a new client through its API; a real tenant needs the client ID
    that the console showed, and its absence raises `ConfigurationError`. On
    the local tenant, a client ID that it does not know, or whose client is
    registered without the JWK's kid, raises `ConfigurationError` too.
    """
    value, source = _from_environment(client_id, CLIENT_ID_ENV)
    saved = space.load_client()
    same_client = (
        saved is not None and saved.tenant == tenant.origin and saved.kid == jwk["kid"]
    )
    if value is None and saved is not None and same_client:
        value, source = saved.client_id, "workspace"
    if value is None and tenant.local:
        value = local_tenant.register_client(space.root, jwk, name=name)
        source = "the local tenant's API"
    elif value is not None and tenant.local:
        _check_local_client(space, value, str(jwk["kid"]), source)
    if value is None:
        raise ConfigurationError(
            "No client ID for the tenant",
            value=tenant.origin,
            cause="a real tenant's OAuth client is created in its console",
            fix="follow the checklist above, then pass client_id='<Client ID>' as "
            f"a parameter or set {CLIENT_ID_ENV}",
        )
    config = ClientConfig(
        tenant=tenant.origin, client_id=value, alg=str(jwk["alg"]), kid=str(jwk["kid"])
    )
    space.save_client(config)
    print(f"Client ID: {value} (from {source}), saved to {space.client_json.name}")
    return config


def load_client(
    space: Workspace,
    *,
    tenant: str | None = None,
    client_id: str | None = None,
    alg: str | None = None,
) -> ClientConfig:
    """Return client.json's client, raising when a parameter contradicts it.

    A local tenant that has stopped is started again. If it had to take
    another port, client.json gets the new origin, because assertions use it
    in their ``aud``.
    """
    config = space.load_client()
    if config is None:
        raise WorkspaceError(
            "No registered client in the workspace",
            value=str(space.client_json),
            cause="step 02 saves the client ID, tenant, alg and kid there",
            fix="run 02_register_client with this workspace first",
        )
    check_alg(alg, space)

    requested, source = _from_environment(tenant, TENANT_ENV)
    local = _is_local_origin(config.tenant, space, recorded=True)
    if requested is not None:
        wants_local = requested.strip().lower() == LOCAL_TENANT
        matches = local if wants_local else tenant_origin(requested) == config.tenant
        if not matches:
            raise WorkspaceError(
                f"The tenant from {source} contradicts the workspace",
                value=requested,
                cause=f"the client in {space.client_json.name} is registered on "
                f"{config.tenant}",
                fix="leave tenant unset, or use a fresh workspace for that tenant",
            )
    if local:
        origin = tenant_origin(local_tenant.ensure_local_tenant(space.root))
        if origin != config.tenant:
            print(f"The local tenant moved to {origin}; updating client.json.")
            config = replace(config, tenant=origin)
            space.save_client(config)

    requested_id, id_source = _from_environment(client_id, CLIENT_ID_ENV)
    if requested_id is not None and requested_id != config.client_id:
        raise WorkspaceError(
            f"The client ID from {id_source} contradicts the workspace",
            value=requested_id,
            cause=f"{space.client_json.name} names client {config.client_id}",
            fix="leave client_id unset, or run 02_register_client again",
        )
    print(
        f"Client {config.client_id} on {config.tenant}, {config.alg}, kid {config.kid}"
    )
    return config


def load_key(
    space: Workspace,
    config: ClientConfig,
    *,
    private_key: str | os.PathLike[str] | None = None,
) -> SigningKey:
    """Return the workspace's signing key, checked against the registered kid."""
    key = SigningKey.load(space.private_key, alg=config.alg)
    if key.kid != config.kid:
        raise WorkspaceError(
            "The workspace key is not the registered key",
            value=key.kid,
            cause=f"{space.client_json.name} registered kid {config.kid}",
            fix="run 02_register_client again to register the current key",
        )
    _check_supplied_key(space, key.kid, config.alg, private_key)
    return key


# --- assertions and tokens across steps ---------------------------------------


def _stale_reason(
    space: Workspace, jwt: str, key: SigningKey, config: ClientConfig, now: float
) -> str | None:
    decoded = decode_assertion(jwt, now=lambda: now)
    claims, header = decoded.claims, decoded.header
    left = float(claims.get("exp", 0)) - now
    if left <= 0:
        return f"it expired {relative_time(left)}"
    if left <= ASSERTION_MARGIN:
        return f"it expires {relative_time(left)}, too soon to send"
    if (
        claims.get("iss") != config.client_id
        or claims.get("aud") != token_endpoint(config.tenant)
        or header.get("kid") != key.kid
    ):
        return "it was signed for another client, tenant or key"
    if (
        space.token_json.exists()
        and space.token_json.stat().st_mtime >= space.assertion.stat().st_mtime
    ):
        return "a token request already sent it, and a jti is meant for one request"
    return None


def assertion_for_exchange(
    space: Workspace, key: SigningKey, config: ClientConfig, *, now: Clock = time.time
) -> str:
    """Return step 03's assertion, or a fresh one when it can no longer be sent.

    An assertion is replaced when it is missing, expired or about to expire,
    signed for another client, tenant or key, or already sent (the token in
    token.json is newer than it).
    """
    jwt = space.load_assertion()
    reason = "there is none in the workspace" if jwt is None else None
    if jwt is not None:
        reason = _stale_reason(space, jwt, key, config, now())
    if jwt is not None and reason is None:
        exp = float(decode_assertion(jwt, now=now).claims["exp"])
        left = relative_time(exp - now())
        print(f"Using the assertion from step 3: it expires {left}.")
        return jwt
    fresh = build_client_assertion(key, config.client_id, config.tenant, now=now)
    space.save_assertion(fresh)
    print(
        f"Signed a fresh assertion, because the one from step 3 cannot be used: "
        f"{reason}."
    )
    return fresh


def token_for_call(
    space: Workspace, key: SigningKey, config: ClientConfig, *, now: Clock = time.time
) -> AccessToken:
    """Return the access token from step 04, renewed when it has expired."""
    token = space.load_token()
    if token is None:
        raise WorkspaceError(
            "No access token in the workspace",
            value=str(space.token_json),
            cause="step 04 saves the token response there",
            fix="run 04_exchange_token with this workspace first",
        )
    if not token.is_expired(now, margin=TOKEN_MARGIN):
        print(f"Using the token from step 4: it expires {expiry_text(token, now())}.")
        return token
    print("The token from step 4 has expired: signing a new assertion for a new one.")
    token = fetch_access_token(key, config.client_id, config.tenant, now=now)
    space.save_token(token)
    return token
