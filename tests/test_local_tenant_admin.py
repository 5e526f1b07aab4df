"""Admin API of the local tenant: OAuth clients, JWK checks, counts and settings."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from local_tenant_helpers import (
    RegisteredClient,
    Tenant,
    b64url,
    detail_of,
    ec_key,
    error_of,
    local_tenant,
    public_jwk,
    rsa_key,
)

from qlik_tutorial.errors import TenantUnreachableError
from qlik_tutorial.local_tenant import admin_key, registered_client
from qlik_tutorial.local_tenant.state import StateFiles

CLIENTS = "/api/v1/oauth-clients"
COUNTS = "/api/v1/local-tenant/token-requests"
SETTINGS = "/api/v1/local-tenant/settings"


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[Tenant]:
    with local_tenant(tmp_path / "workspace") as running:
        yield running


@pytest.fixture
def client(tenant: Tenant) -> RegisteredClient:
    return tenant.register("RS256")


def client_body(*keys: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"clientName": "admin test", "publicKeys": list(keys)}
    body.update(changes)
    return body


# Admin key


def test_admin_key_file_private(tenant: Tenant) -> None:
    mode = stat.S_IMODE(tenant.files.admin_key.stat().st_mode)
    assert mode == 0o600


def test_admin_key_function_matches(tenant: Tenant) -> None:
    assert admin_key(tenant.files.workspace) == tenant.admin_key


def test_admin_key_created_once(tmp_path: Path) -> None:
    first = admin_key(tmp_path / "fresh")
    assert admin_key(tmp_path / "fresh") == first


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Basic abc", "Bearer "], ids=str
)
def test_admin_key_required(tenant: Tenant, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = tenant.session.get(tenant.url + CLIENTS, headers=headers, timeout=10)
    assert error_of(response) == (401, "AUTH-10")


def test_empty_admin_key_file_not_open(tmp_path: Path) -> None:
    files = StateFiles.for_workspace(tmp_path / "workspace")
    files.ensure()
    files.admin_key.write_text("\n")
    with local_tenant(files.workspace) as tenant:
        response = tenant.session.get(
            tenant.url + CLIENTS, headers={"Authorization": "Bearer"}, timeout=10
        )
    assert error_of(response) == (401, "AUTH-10")


def test_admin_key_in_path_not_echoed(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="qlik_tutorial")
    response = tenant.admin("GET", f"{CLIENTS}/{tenant.admin_key}")
    assert error_of(response) == (404, "HTTP-404")
    assert tenant.admin_key not in response.text
    assert tenant.admin_key not in caplog.text


def test_access_token_not_admin_key(tenant: Tenant, client: RegisteredClient) -> None:
    token = tenant.post_token(client).json()["access_token"]
    response = tenant.session.get(
        tenant.url + CLIENTS, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert error_of(response) == (401, "AUTH-10")


# Creating and reading clients


def test_create_client_defaults(tenant: Tenant) -> None:
    jwk = public_jwk(rsa_key(), "RS256")
    response = tenant.admin("POST", CLIENTS, client_body(jwk))
    assert response.status_code == 201
    body = response.json()
    assert len(body["clientId"]) == 32
    assert body["appType"] == "web"
    assert body["allowedAuthMethods"] == ["private_key_jwt"]
    assert body["allowedGrantTypes"] == ["client_credentials"]
    assert body["allowedScopes"] == ["user_default"]
    assert body["connectionConfig"] == {"consentMethod": "trusted"}
    assert body["accessTokenLifetime"] == 360
    assert body["enabled"] is True
    assert body["publicKeys"] == [jwk]


def test_create_client_location(tenant: Tenant) -> None:
    response = tenant.admin("POST", CLIENTS, client_body(public_jwk(ec_key(), "ES384")))
    assert response.headers["Location"] == f"{CLIENTS}/{response.json()['clientId']}"


def test_get_client(tenant: Tenant, client: RegisteredClient) -> None:
    response = tenant.admin("GET", f"{CLIENTS}/{client.client_id}")
    assert response.json()["publicKeys"][0]["kid"] == client.kid


def test_list_clients(tenant: Tenant, client: RegisteredClient) -> None:
    listed = tenant.admin("GET", CLIENTS).json()["data"]
    assert [c["clientId"] for c in listed] == [client.client_id]


def test_unknown_client_not_found(tenant: Tenant) -> None:
    assert error_of(tenant.admin("GET", f"{CLIENTS}/nope")) == (404, "HTTP-404")


def test_several_keys_accepted(tenant: Tenant) -> None:
    keys = [public_jwk(rsa_key(), "RS256"), public_jwk(ec_key(), "ES384")]
    response = tenant.admin("POST", CLIENTS, client_body(*keys))
    assert response.status_code == 201


def test_rsa_4096_accepted(tenant: Tenant) -> None:
    jwk = public_jwk(rsa_key(4096), "RS512")
    assert tenant.admin("POST", CLIENTS, client_body(jwk)).status_code == 201


# JWK checks: each bad JWK is rejected with OAUTH-40 naming the member


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda jwk: jwk.pop(name)


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda jwk: jwk.update({name: value})


def _private_member(jwk: dict[str, Any]) -> None:
    numbers = rsa_key().private_numbers()
    jwk["d"] = b64url(numbers.d.to_bytes(256, "big"))


def _padded_modulus(jwk: dict[str, Any]) -> None:
    jwk["n"] = b64url(b"\x00" + rsa_key().public_key().public_numbers().n.to_bytes(256))


BAD_RSA_JWKS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "private-d": (_private_member, "'d'"),
    "no-kid": (_drop("kid"), "'kid'"),
    "empty-kid": (_set("kid", ""), "'kid'"),
    "no-use": (_drop("use"), "'use'"),
    "use-enc": (_set("use", "enc"), "'sig'"),
    "no-alg": (_drop("alg"), "'alg'"),
    "alg-rs384": (_set("alg", "RS384"), "RS384"),
    "alg-hs256": (_set("alg", "HS256"), "HS256"),
    "alg-es384": (_set("alg", "ES384"), "kty"),
    "kty-oct": (_set("kty", "oct"), "kty"),
    "no-n": (_drop("n"), "'n'"),
    "padded-n": (_set("n", "AQAB=="), "base64url"),
    "leading-zero": (_padded_modulus, "leading zero"),
    "even-e": (_set("e", "AQAA"), "exponent"),
}


@pytest.mark.parametrize("case", sorted(BAD_RSA_JWKS))
def test_bad_rsa_jwk_rejected(tenant: Tenant, case: str) -> None:
    change, expected = BAD_RSA_JWKS[case]
    jwk = public_jwk(rsa_key(), "RS256")
    change(jwk)
    response = tenant.admin("POST", CLIENTS, client_body(jwk))
    assert error_of(response) == (400, "OAUTH-40")
    assert expected in detail_of(response)
    assert "publicKeys[0]" in detail_of(response)


def test_small_rsa_key_rejected(tenant: Tenant) -> None:
    jwk = public_jwk(rsa_key(1024), "RS256")
    response = tenant.admin("POST", CLIENTS, client_body(jwk))
    assert error_of(response) == (400, "OAUTH-40")
    assert "1024-bit" in detail_of(response)


BAD_EC_JWKS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "curve-p256": (_set("crv", "P-256"), "P-384"),
    "short-x": (_set("x", b64url(b"\x01" * 32)), "48 octets"),
    "off-curve": (_set("y", b64url(b"\x01" * 48)), "not a point"),
    "no-y": (_drop("y"), "'y'"),
}


@pytest.mark.parametrize("case", sorted(BAD_EC_JWKS))
def test_bad_ec_jwk_rejected(tenant: Tenant, case: str) -> None:
    change, expected = BAD_EC_JWKS[case]
    jwk = public_jwk(ec_key(), "ES384")
    change(jwk)
    response = tenant.admin("POST", CLIENTS, client_body(jwk))
    assert error_of(response) == (400, "OAUTH-40")
    assert expected in detail_of(response)


def test_duplicate_kid_rejected(tenant: Tenant) -> None:
    first = public_jwk(rsa_key(), "RS256", kid="same")
    second = public_jwk(ec_key(), "ES384", kid="same")
    response = tenant.admin("POST", CLIENTS, client_body(first, second))
    assert error_of(response) == (400, "OAUTH-40")
    assert "publicKeys[1]" in detail_of(response)


@pytest.mark.parametrize("keys", [[], None, {"kty": "RSA"}], ids=str)
def test_missing_key_list_rejected(tenant: Tenant, keys: Any) -> None:
    body = {"clientName": "admin test", "publicKeys": keys}
    assert error_of(tenant.admin("POST", CLIENTS, body)) == (400, "OAUTH-40")


def _private_ec_jwk() -> dict[str, Any]:
    jwk = public_jwk(ec_key(), "ES384")
    jwk["d"] = b64url(ec_key().private_numbers().private_value.to_bytes(48, "big"))
    return jwk


PRIVATE_JWK_REQUESTS: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "body-list": ("POST", lambda jwk: [jwk]),
    "keys-object": ("POST", lambda jwk: client_body(**{"publicKeys": jwk})),
    "patch-object": ("PATCH", lambda jwk: {"op": "add", "value": jwk}),
    "patch-no-path": ("PATCH", lambda jwk: [{"op": "add", "value": jwk}]),
    "patch-bad-op": ("PATCH", lambda jwk: [{"op": "copy", "value": jwk}]),
}


@pytest.mark.parametrize("case", sorted(PRIVATE_JWK_REQUESTS))
def test_private_jwk_not_echoed(
    tenant: Tenant, client: RegisteredClient, case: str
) -> None:
    method, make_body = PRIVATE_JWK_REQUESTS[case]
    jwk = _private_ec_jwk()
    path = CLIENTS if method == "POST" else f"{CLIENTS}/{client.client_id}"
    response = tenant.admin(method, path, make_body(jwk))
    assert response.status_code == 400
    assert jwk["d"] not in response.text


# Other body checks


BAD_BODIES: dict[str, dict[str, Any]] = {
    "unknown-member": {"clientNme": "typo"},
    "app-type-spa": {"appType": "spa"},
    "no-name": {"clientName": ""},
    "consent-required": {"connectionConfig": {"consentMethod": "required"}},
    "lifetime-short": {"accessTokenLifetime": 10},
    "lifetime-text": {"accessTokenLifetime": "60"},
    "grant-unknown": {"allowedGrantTypes": ["password"]},
    "method-unknown": {"allowedAuthMethods": ["tls_client_auth"]},
    "scope-space": {"allowedScopes": ["user_default admin"]},
    "enabled-text": {"enabled": "yes"},
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_client_body_rejected(tenant: Tenant, case: str) -> None:
    body = client_body(public_jwk(rsa_key(), "RS256"), **BAD_BODIES[case])
    assert error_of(tenant.admin("POST", CLIENTS, body)) == (400, "OAUTH-1")


def test_non_json_body_rejected(tenant: Tenant) -> None:
    response = tenant.session.post(
        tenant.url + CLIENTS,
        data=b"clientName=x",
        headers={"Authorization": f"Bearer {tenant.admin_key}"},
        timeout=10,
    )
    assert error_of(response) == (400, "OAUTH-1")


# Patching and deleting


def test_patch_adds_key_for_rotation(tenant: Tenant, client: RegisteredClient) -> None:
    new_key = rsa_key(seed=2)
    jwk = public_jwk(new_key, "RS256")
    patch = [{"op": "add", "path": "/publicKeys/-", "value": jwk}]
    assert tenant.admin("PATCH", f"{CLIENTS}/{client.client_id}", patch).ok
    assertion = client.assertion(key=new_key, header={"kid": jwk["kid"]})
    assert tenant.post_token(client, assertion).status_code == 200


def test_patch_removes_old_key(tenant: Tenant, client: RegisteredClient) -> None:
    jwk = public_jwk(rsa_key(seed=2), "RS256")
    patch = [
        {"op": "add", "path": "/publicKeys/-", "value": jwk},
        {"op": "remove", "path": "/publicKeys/0"},
    ]
    tenant.admin("PATCH", f"{CLIENTS}/{client.client_id}", patch)
    assert error_of(tenant.post_token(client)) == (401, "OAUTH-22")


def test_patch_disables_client(tenant: Tenant, client: RegisteredClient) -> None:
    patch = [{"op": "replace", "path": "/enabled", "value": False}]
    tenant.admin("PATCH", f"{CLIENTS}/{client.client_id}", patch)
    assert error_of(tenant.post_token(client)) == (401, "OAUTH-15")


def test_patch_bad_jwk_keeps_client(tenant: Tenant, client: RegisteredClient) -> None:
    jwk = public_jwk(rsa_key(), "RS256")
    jwk["d"] = "AQAB"
    patch = [{"op": "replace", "path": "/publicKeys", "value": [jwk]}]
    response = tenant.admin("PATCH", f"{CLIENTS}/{client.client_id}", patch)
    assert error_of(response) == (400, "OAUTH-40")
    assert tenant.post_token(client).status_code == 200


@pytest.mark.parametrize(
    "patch",
    [
        [{"op": "replace", "path": "/clientId", "value": "mine"}],
        [{"op": "move", "path": "/enabled", "from": "/x"}],
        [{"op": "remove", "path": "/publicKeys/5"}],
        [{"op": "remove", "path": "/publicKeys/\u00b2"}],
        [{"op": "remove", "path": "/publicKeys/00"}],
        [{"op": "test", "path": "/enabled", "value": False}],
        [{"op": "replace", "path": "/enabled"}],
        {"op": "replace", "path": "/enabled", "value": False},
        [],
    ],
    ids=[
        "read-only",
        "move",
        "bad-index",
        "superscript-index",
        "leading-zero-index",
        "test-fails",
        "no-value",
        "object",
        "empty",
    ],
)
def test_bad_patch_rejected(
    tenant: Tenant, client: RegisteredClient, patch: Any
) -> None:
    response = tenant.admin("PATCH", f"{CLIENTS}/{client.client_id}", patch)
    assert error_of(response) == (400, "OAUTH-1")


def test_delete_client(tenant: Tenant, client: RegisteredClient) -> None:
    assert tenant.admin("DELETE", f"{CLIENTS}/{client.client_id}").status_code == 204
    assert tenant.admin("GET", f"{CLIENTS}/{client.client_id}").status_code == 404
    assert error_of(tenant.post_token(client)) == (401, "OAUTH-14")


# Token-request counts


def test_counts_by_client_and_outcome(tenant: Tenant, client: RegisteredClient) -> None:
    tenant.post_token(client)
    tenant.post_token(client)
    tenant.post_token(client, client.assertion(key=rsa_key(seed=1)))
    tenant.post_token(client, client_id="0" * 32)
    body = tenant.admin("GET", COUNTS).json()
    assert body["clients"][client.client_id] == {"issued": 2, "OAUTH-24": 1}
    assert body["clients"]["unknown"] == {"OAUTH-14": 1}
    assert body["total"] == {"issued": 2, "OAUTH-24": 1, "OAUTH-14": 1}


def test_counts_reset(tenant: Tenant, client: RegisteredClient) -> None:
    tenant.post_token(client)
    assert tenant.admin("DELETE", COUNTS).status_code == 204
    assert tenant.admin("GET", COUNTS).json() == {"clients": {}, "total": {}}


# Settings at run time


def test_settings_defaults(tenant: Tenant) -> None:
    body = tenant.admin("GET", SETTINGS).json()
    assert body["rateLimit"] == 100
    assert body["leeway"] == 60


def test_settings_patch_clock_offset(tenant: Tenant, client: RegisteredClient) -> None:
    assert tenant.admin("PATCH", SETTINGS, {"clockOffset": 400}).ok
    assert error_of(tenant.post_token(client)) == (401, "OAUTH-28")


def test_settings_patch_token_lifetime(
    tenant: Tenant, client: RegisteredClient
) -> None:
    tenant.admin("PATCH", SETTINGS, {"tokenLifetime": 2})
    assert tenant.post_token(client).json()["expires_in"] == 2
    tenant.admin("PATCH", SETTINGS, {"tokenLifetime": None})
    assert tenant.post_token(client).json()["expires_in"] == 21600


@pytest.mark.parametrize(
    "body",
    [{"clock": 1}, {"rateLimit": 0}, {"rateLimit": "many"}, {"leeway": None}, []],
    ids=str,
)
def test_settings_patch_rejected(tenant: Tenant, body: Any) -> None:
    assert error_of(tenant.admin("PATCH", SETTINGS, body)) == (400, "OAUTH-1")


# Looking a client up


def announce(tenant: Tenant) -> None:
    """Write server.json for the in-process tenant, as a started one has it."""
    tenant.files.write_record(
        {
            "pid": os.getpid(),
            "url": tenant.url,
            "port": tenant.server.server_port,
            "instanceId": tenant.server.instance_id,
            "running": True,
            "workspace": str(tenant.files.workspace),
        }
    )


def test_registered_client_keys(tenant: Tenant, client: RegisteredClient) -> None:
    announce(tenant)
    found = registered_client(tenant.files.workspace, client.client_id) or {}
    assert [jwk["kid"] for jwk in found["publicKeys"]] == [client.kid]


def test_registered_client_unknown(tenant: Tenant) -> None:
    announce(tenant)
    assert registered_client(tenant.files.workspace, "0" * 32) is None


def test_registered_client_never_starts(tmp_path: Path) -> None:
    with pytest.raises(TenantUnreachableError, match="local-tenant start"):
        registered_client(tmp_path / "ws", "0" * 32)
    assert not (tmp_path / "ws" / "local-tenant" / "server.json").exists()
