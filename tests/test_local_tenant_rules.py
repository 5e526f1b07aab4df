"""Token endpoint rules of the local tenant, each accepted and rejected over HTTP."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from local_tenant_helpers import (
    ASSERTION_TYPE,
    Clock,
    RegisteredClient,
    Tenant,
    compact,
    detail_of,
    ec_key,
    error_of,
    rsa_key,
)

from qlik_tutorial.local_tenant.rules import (
    FORM_TYPE,
    parse_assertion,
    parse_token_request,
)


@pytest.fixture
def client(tenant: Tenant) -> RegisteredClient:
    return tenant.register("RS256")


def check_rejected(response: object, status: int, code: str) -> None:
    status_code, error_code = error_of(response)  # type: ignore[arg-type]
    assert status_code == status
    assert error_code == code


# Accepted requests


@pytest.mark.parametrize("alg", ["RS256", "RS512", "ES384"])
def test_token_accepted_per_alg(tenant: Tenant, alg: str) -> None:
    client = tenant.register(alg)
    response = tenant.post_token(client)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_token_response_members(tenant: Tenant, client: RegisteredClient) -> None:
    body = tenant.post_token(client).json()
    assert body["expires_in"] == 360 * 60
    assert body["scope"] == "user_default"
    assert "." not in body["access_token"]
    assert len(body["access_token"]) >= 40


def test_token_response_not_cached(tenant: Tenant, client: RegisteredClient) -> None:
    response = tenant.post_token(client)
    assert response.headers["Cache-Control"] == "no-store"


def test_token_json_body_accepted(tenant: Tenant, client: RegisteredClient) -> None:
    response = tenant.post_token(client, as_json=True)
    assert response.status_code == 200, response.text


def test_token_without_client_id_field(
    tenant: Tenant, client: RegisteredClient
) -> None:
    response = tenant.post_token(client, client_id=None)
    assert response.status_code == 200, response.text


def test_token_without_scope_gets_allowed(tenant: Tenant) -> None:
    client = tenant.register(allowedScopes=["user_default", "admin_classic"])
    response = tenant.post_token(client, scope=None)
    assert response.json()["scope"] == "user_default admin_classic"


def test_token_lifetime_of_client(tenant: Tenant) -> None:
    client = tenant.register(accessTokenLifetime=15)
    assert tenant.post_token(client).json()["expires_in"] == 900


def test_token_lifetime_setting_wins(tenant: Tenant, client: RegisteredClient) -> None:
    tenant.settings.token_lifetime = 5
    assert tenant.post_token(client).json()["expires_in"] == 5


def test_token_stored_only_as_hash(tenant: Tenant, client: RegisteredClient) -> None:
    token = tenant.post_token(client).json()["access_token"]
    with sqlite3.connect(tenant.files.database) as connection:
        rows = connection.execute("SELECT hash FROM tokens").fetchall()
    assert rows == [(hashlib.sha256(token.encode()).hexdigest(),)]


def test_assertion_lifetime_300_accepted(
    tenant: Tenant, client: RegisteredClient, clock: Clock
) -> None:
    issued = int(clock.now)
    assertion = client.assertion(iat=issued, exp=issued + 300)
    assert tenant.post_token(client, assertion).status_code == 200


def test_exp_within_leeway_accepted(
    tenant: Tenant, client: RegisteredClient, clock: Clock
) -> None:
    assertion = client.assertion(iat=int(clock.now) - 100, exp=int(clock.now) - 30)
    assert tenant.post_token(client, assertion).status_code == 200


def test_iat_within_leeway_accepted(
    tenant: Tenant, client: RegisteredClient, clock: Clock
) -> None:
    issued = int(clock.now) + 30
    assertion = client.assertion(iat=issued, exp=issued + 60)
    assert tenant.post_token(client, assertion).status_code == 200


# Body and grant (400)


def test_missing_assertion_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    response = tenant.post_token(client, client_assertion=None)
    check_rejected(response, 400, "OAUTH-1")


def test_duplicate_field_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    body = (
        f"grant_type=client_credentials&grant_type=client_credentials"
        f"&client_assertion_type={ASSERTION_TYPE}"
        f"&client_assertion={client.assertion()}"
    )
    response = tenant.session.post(
        tenant.token_url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    check_rejected(response, 400, "OAUTH-1")


def test_json_duplicate_member_rejected(
    tenant: Tenant, client: RegisteredClient
) -> None:
    body = (
        '{"grant_type": "client_credentials", "grant_type": "client_credentials", '
        f'"client_assertion_type": "{ASSERTION_TYPE}", '
        f'"client_assertion": "{client.assertion()}"}}'
    )
    response = tenant.session.post(
        tenant.token_url,
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    check_rejected(response, 400, "OAUTH-1")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b'["grant_type"]'),
        ("application/json", b'{"grant_type": 1}'),
        ("text/plain", b"grant_type=client_credentials"),
        ("application/x-www-form-urlencoded", b"grant_type"),
        ("application/x-www-form-urlencoded", b"grant_type=%ff"),
    ],
    ids=[
        "bad-json",
        "json-array",
        "json-number",
        "text-plain",
        "no-equals",
        "bad-utf8",
    ],
)
def test_bad_body_rejected(tenant: Tenant, content_type: str, body: bytes) -> None:
    response = tenant.session.post(
        tenant.token_url, data=body, headers={"Content-Type": content_type}, timeout=10
    )
    check_rejected(response, 400, "OAUTH-1")


@pytest.mark.parametrize(
    "grant_type",
    ["password", "urn:qlik:oauth:user-impersonation", "CLIENT_CREDENTIALS"],
)
def test_grant_type_rejected(
    tenant: Tenant, client: RegisteredClient, grant_type: str
) -> None:
    response = tenant.post_token(client, grant_type=grant_type)
    check_rejected(response, 400, "OAUTH-2")


def test_assertion_type_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    response = tenant.post_token(
        client, client_assertion_type=ASSERTION_TYPE.replace("jwt-bearer", "jwt")
    )
    check_rejected(response, 400, "OAUTH-3")
    assert ASSERTION_TYPE in detail_of(response)


@pytest.mark.parametrize(
    "assertion",
    ["not-a-jwt", "a.b", "e30.e30.e30.e30", "%%%.e30.", "WzFd.e30.", "e30.e30=.sig"],
    ids=["no-dots", "two-parts", "four-parts", "bad-base64", "header-array", "padded"],
)
def test_malformed_assertion_rejected(
    tenant: Tenant, client: RegisteredClient, assertion: str
) -> None:
    response = tenant.post_token(client, assertion)
    check_rejected(response, 400, "OAUTH-4")


def test_scope_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    response = tenant.post_token(client, scope="user_default admin_classic")
    check_rejected(response, 400, "OAUTH-5")
    assert "admin_classic" in detail_of(response)


# Client (401)


def test_unknown_client_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    response = tenant.post_token(client, client_id="0" * 32)
    check_rejected(response, 401, "OAUTH-14")
    assert response.json()["errors"][0]["title"] == "Invalid client_id"


def test_unknown_issuer_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    assertion = client.assertion(iss="0" * 32)
    response = tenant.post_token(client, assertion, client_id=None)
    check_rejected(response, 401, "OAUTH-14")


def test_assertion_in_client_id_not_echoed(
    tenant: Tenant, client: RegisteredClient
) -> None:
    assertion = client.assertion()
    response = tenant.post_token(client, assertion, client_id=assertion)
    check_rejected(response, 401, "OAUTH-14")
    assert assertion not in response.text
    assert assertion.split(".")[1] not in response.text


def test_token_as_client_id_not_echoed(
    tenant: Tenant, client: RegisteredClient
) -> None:
    token = tenant.post_token(client).json()["access_token"]
    response = tenant.post_token(client, client_id=token)
    check_rejected(response, 401, "OAUTH-14")
    assert token not in response.text
    assert token[:8] in detail_of(response)


def test_token_as_sub_not_echoed(tenant: Tenant, client: RegisteredClient) -> None:
    token = tenant.post_token(client).json()["access_token"]
    response = tenant.post_token(client, client.assertion(sub=token))
    check_rejected(response, 401, "OAUTH-25")
    assert token not in response.text


def test_disabled_client_rejected(tenant: Tenant) -> None:
    client = tenant.register(enabled=False)
    check_rejected(tenant.post_token(client), 401, "OAUTH-15")


def test_grant_not_allowed_rejected(tenant: Tenant) -> None:
    client = tenant.register(allowedGrantTypes=["urn:qlik:oauth:user-impersonation"])
    check_rejected(tenant.post_token(client), 401, "OAUTH-16")


def test_auth_method_not_allowed_rejected(tenant: Tenant) -> None:
    client = tenant.register(allowedAuthMethods=["client_secret"])
    check_rejected(tenant.post_token(client), 401, "OAUTH-17")


# Header and signature (401)


@pytest.mark.parametrize("alg", ["HS256", "ES256", "PS256"])
def test_unsupported_alg_rejected(
    tenant: Tenant, client: RegisteredClient, alg: str
) -> None:
    key = {
        "HS256": b"a shared secret of thirty-two bytes!",
        "ES256": ec.generate_private_key(ec.SECP256R1()),
        "PS256": rsa_key(),
    }[alg]
    assertion = client.assertion(alg=alg, key=key)  # type: ignore[arg-type]
    check_rejected(tenant.post_token(client, assertion), 401, "OAUTH-20")


def test_alg_none_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    assertion = compact({"alg": "none", "kid": client.kid}, client.claims(), b"")
    check_rejected(tenant.post_token(client, assertion), 401, "OAUTH-20")


def test_missing_kid_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    assertion = client.assertion(header={"typ": "JWT"})
    response = tenant.post_token(client, assertion)
    check_rejected(response, 401, "OAUTH-21")
    assert "has no kid" in response.json()["errors"][0]["detail"]


def test_empty_kid_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    assertion = client.assertion(header={"typ": "JWT", "kid": ""})
    response = tenant.post_token(client, assertion)
    check_rejected(response, 401, "OAUTH-21")
    assert "not a key ID" in response.json()["errors"][0]["detail"]


def test_unknown_kid_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    assertion = client.assertion(header={"kid": "not-registered"})
    response = tenant.post_token(client, assertion)
    check_rejected(response, 401, "OAUTH-22")
    assert client.kid in detail_of(response)


def test_alg_mismatch_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    assertion = client.assertion(alg="RS512")
    response = tenant.post_token(client, assertion)
    check_rejected(response, 401, "OAUTH-23")
    assert response.json()["errors"][0]["title"] == "Signature validation failed"


def test_wrong_key_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    assertion = client.assertion(key=rsa_key(seed=1))
    response = tenant.post_token(client, assertion)
    check_rejected(response, 401, "OAUTH-24")
    assert response.json()["errors"][0]["title"] == "Signature validation failed"


def test_tampered_claims_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    header, _, signature = client.assertion().split(".")
    other = client.assertion(scope_hint="changed").split(".")[1]
    response = tenant.post_token(client, f"{header}.{other}.{signature}")
    check_rejected(response, 401, "OAUTH-24")


def test_der_es384_signature_rejected(tenant: Tenant) -> None:
    client = tenant.register("ES384")
    header = {"alg": "ES384", "kid": client.kid, "typ": "JWT"}
    unsigned = compact(header, client.claims(), b"").rstrip(".")
    der = ec_key().sign(unsigned.encode(), ec.ECDSA(hashes.SHA384()))
    response = tenant.post_token(client, compact(header, client.claims(), der))
    check_rejected(response, 401, "OAUTH-24")
    assert "96-byte raw r||s" in detail_of(response)


# Claims (401)


def test_sub_not_client_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    response = tenant.post_token(client, client.assertion(sub="someone-else"))
    check_rejected(response, 401, "OAUTH-25")
    assert response.json()["errors"][0]["title"] == "Invalid client"


def test_iss_not_client_field_rejected(
    tenant: Tenant, client: RegisteredClient
) -> None:
    response = tenant.post_token(client, client.assertion(iss="someone-else"))
    check_rejected(response, 401, "OAUTH-26")


AUDIENCES: dict[str, Callable[[Tenant], str]] = {
    "trailing-slash": lambda tenant: tenant.token_url + "/",
    "origin-only": lambda tenant: tenant.url,
    "localhost": lambda tenant: tenant.token_url.replace("127.0.0.1", "localhost"),
    "other-tenant": lambda tenant: "https://acme.eu.qlikcloud.com/oauth/token",
}


@pytest.mark.parametrize("case", sorted(AUDIENCES))
def test_audience_rejected(tenant: Tenant, client: RegisteredClient, case: str) -> None:
    audience = AUDIENCES[case](tenant)
    response = tenant.post_token(client, client.assertion(aud=audience))
    check_rejected(response, 401, "OAUTH-27")
    assert tenant.token_url in detail_of(response)


def test_audience_list_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    response = tenant.post_token(client, client.assertion(aud=[tenant.token_url]))
    check_rejected(response, 401, "OAUTH-27")


def test_expired_assertion_rejected(
    tenant: Tenant, client: RegisteredClient, clock: Clock
) -> None:
    assertion = client.assertion(iat=int(clock.now), exp=int(clock.now) + 60)
    clock.now += 60 + 61
    check_rejected(tenant.post_token(client, assertion), 401, "OAUTH-28")


def test_clock_offset_expires_assertion(
    tenant: Tenant, client: RegisteredClient
) -> None:
    tenant.settings.clock_offset = 400
    check_rejected(tenant.post_token(client), 401, "OAUTH-28")


@pytest.mark.parametrize("lifetime", [301, 600, 0, -10])
def test_assertion_lifetime_rejected(
    tenant: Tenant, client: RegisteredClient, clock: Clock, lifetime: int
) -> None:
    issued = int(clock.now)
    assertion = client.assertion(iat=issued, exp=issued + lifetime)
    check_rejected(tenant.post_token(client, assertion), 401, "OAUTH-29")


def test_future_iat_rejected(
    tenant: Tenant, client: RegisteredClient, clock: Clock
) -> None:
    issued = int(clock.now) + 120
    assertion = client.assertion(iat=issued, exp=issued + 60)
    check_rejected(tenant.post_token(client, assertion), 401, "OAUTH-30")


def test_clock_behind_rejects_iat(tenant: Tenant, client: RegisteredClient) -> None:
    tenant.settings.clock_offset = -90
    check_rejected(tenant.post_token(client), 401, "OAUTH-30")


def test_future_nbf_rejected(
    tenant: Tenant, client: RegisteredClient, clock: Clock
) -> None:
    assertion = client.assertion(nbf=int(clock.now) + 200)
    check_rejected(tenant.post_token(client, assertion), 401, "OAUTH-30")


@pytest.mark.parametrize("jti", [None, "", 7])
def test_missing_jti_rejected(
    tenant: Tenant, client: RegisteredClient, jti: object
) -> None:
    response = tenant.post_token(client, client.assertion(jti=jti))
    check_rejected(response, 401, "OAUTH-31")


def test_reused_jti_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    assertion = client.assertion()
    assert tenant.post_token(client, assertion).status_code == 200
    check_rejected(tenant.post_token(client, assertion), 401, "OAUTH-32")


def test_jti_reuse_by_other_client_accepted(tenant: Tenant) -> None:
    first, second = tenant.register(), tenant.register()
    assert tenant.post_token(first, first.assertion(jti="shared")).status_code == 200
    response = tenant.post_token(second, second.assertion(jti="shared"))
    assert response.status_code == 200


def test_forgotten_jti_rejected_as_expired(
    tenant: Tenant, client: RegisteredClient, clock: Clock
) -> None:
    tenant.settings.jti_memory = 0
    assertion = client.assertion()
    assert tenant.post_token(client, assertion).status_code == 200
    clock.now += 300 + 61
    tenant.post_token(client)  # a later request purges forgotten jti values
    check_rejected(tenant.post_token(client, assertion), 401, "OAUTH-28")


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "exp", "iat"])
def test_missing_claim_rejected(
    tenant: Tenant, client: RegisteredClient, claim: str
) -> None:
    response = tenant.post_token(client, client.assertion(**{claim: None}))
    check_rejected(response, 401, "OAUTH-33")
    assert repr(claim) in detail_of(response)


def test_missing_iss_without_client_id(
    tenant: Tenant, client: RegisteredClient
) -> None:
    response = tenant.post_token(client, client.assertion(iss=None), client_id=None)
    check_rejected(response, 401, "OAUTH-33")


def test_text_exp_rejected(tenant: Tenant, client: RegisteredClient) -> None:
    response = tenant.post_token(client, client.assertion(exp="soon"))
    check_rejected(response, 401, "OAUTH-33")


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_huge_time_claim_rejected(
    tenant: Tenant, client: RegisteredClient, claim: str
) -> None:
    huge: dict[str, Any] = {claim: 10**400}  # more than a float can hold
    response = tenant.post_token(client, client.assertion(**huge))
    check_rejected(response, 401, "OAUTH-33")
    assert repr(claim) in detail_of(response)


def test_fractional_lifetime_shown(
    tenant: Tenant, client: RegisteredClient, clock: Clock
) -> None:
    issued = int(clock.now)
    assertion = client.assertion(iat=issued, exp=issued + 300.5)
    response = tenant.post_token(client, assertion)
    check_rejected(response, 401, "OAUTH-29")
    assert "exp - iat is 300.5 s" in detail_of(response)


# Rate limit


def test_rate_limit_rejects_over_limit(
    tenant: Tenant, client: RegisteredClient
) -> None:
    tenant.settings.rate_limit = 3
    for _ in range(3):
        assert tenant.post_token(client).status_code == 200
    response = tenant.post_token(client)
    check_rejected(response, 429, "HTTP-429")
    assert response.headers["Retry-After"] == "60"


def test_rate_limit_counts_failures(tenant: Tenant, client: RegisteredClient) -> None:
    tenant.settings.rate_limit = 2
    tenant.post_token(client, client.assertion(sub="x"))
    tenant.post_token(client, client.assertion(sub="x"))
    check_rejected(tenant.post_token(client), 429, "HTTP-429")


def test_rate_limit_is_per_client(tenant: Tenant, client: RegisteredClient) -> None:
    tenant.settings.rate_limit = 1
    other = tenant.register()
    assert tenant.post_token(client).status_code == 200
    assert tenant.post_token(other).status_code == 200


def test_rate_limit_window_slides(
    tenant: Tenant, client: RegisteredClient, clock: Clock
) -> None:
    tenant.settings.rate_limit = 2
    tenant.settings.rate_window = 10
    tenant.post_token(client)
    clock.now += 6
    tenant.post_token(client)
    assert tenant.post_token(client).headers["Retry-After"] == "4"
    clock.now += 4
    assert tenant.post_token(client).status_code == 200


# Secrets stay out of repr


def test_token_request_repr_hides_assertion(client: RegisteredClient) -> None:
    assertion = client.assertion()
    body = urlencode(
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
    )
    request = parse_token_request(FORM_TYPE, body.encode())
    assert assertion.split(".")[1] not in repr(request)


def test_assertion_repr_hides_compact(client: RegisteredClient) -> None:
    assertion = client.assertion()
    text = repr(parse_assertion(assertion))
    assert assertion.split(".")[0] not in text


def test_assertion_repr_hides_signature(client: RegisteredClient) -> None:
    parsed = parse_assertion(client.assertion())
    assert repr(parsed.signature)[2:18] not in repr(parsed)
