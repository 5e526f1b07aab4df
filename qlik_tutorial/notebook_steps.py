"""The hand-over between step notebooks, through the workspace's files.

Step 01 writes the key pair. Step 02 checks the public JWK and saves the
registered client, which steps 03 to 05 load with the key. Step 04 exchanges
step 03's client assertion, or a fresh one when that can no longer be sent,
and step 05 uses step 04's access token, renewed when it has expired.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from . import local_tenant
from .assertion import build_client_assertion, decode_assertion
from .errors import AlgorithmError, ConfigurationError, WorkspaceError
from .jwk import check_public_jwk, describe_key
from .keys import SigningKey, generate_private_key, write_key_files
from .notebook_display import Clock, expiry_text, relative_time
from .notebook_local_tenant import _check_local_client
from .notebook_parameters import (
    CLIENT_ID_ENV,
    DEFAULT_ALG,
    LOCAL_TENANT,
    TENANT_ENV,
    Tenant,
    _check_supplied_key,
    _from_environment,
    _is_local_origin,
    _supplied_key,
    _workspace_jwk,
    check_alg,
)
from .tenant import tenant_origin, token_endpoint
from .token_endpoint import AccessToken, fetch_access_token
from .workspace import ClientConfig, Workspace

# An assertion or token this close to its expiry is replaced before use.
ASSERTION_MARGIN = 10.0
TOKEN_MARGIN = 30.0


def _key_summary(key: SigningKey) -> str:
    """Return "RS256 key pair: RSA 2048-bit key, kid ...", never key material."""
    return f"{key.alg} key pair: {describe_key(key.private_key)}, kid {key.kid}"


def _load_supplied(source: Any, origin: str, alg: str | None) -> SigningKey:
    """Load a supplied key for ``alg``; an alg it cannot sign names both fixes."""
    try:
        return SigningKey.load(source, alg=alg)
    except AlgorithmError as error:
        if error.case != "alg_key_mismatch":
            raise
        own_key = SigningKey.load(source)
    expected_key = "an RSA key" if str(alg).startswith("RS") else "a P-384 key"
    raise AlgorithmError(
        "The alg parameter does not fit the supplied private key",
        value=alg,
        cause=f"the key from {origin} is an {describe_key(own_key.private_key)}, which "
        f"signs {own_key.alg}{' or RS512' if own_key.alg == 'RS256' else ''}",
        fix=f"leave alg unset (None), so that the key's alg is used, or pass "
        f"alg={own_key.alg!r}; for {alg}, supply {expected_key}",
        case="alg_key_mismatch",
    ) from None


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
        key = _load_supplied(source, origin, requested)
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
