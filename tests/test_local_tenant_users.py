"""Users API, reachability check and unknown paths of the local tenant."""

from __future__ import annotations

import email.utils

import pytest
from local_tenant_helpers import Clock, RegisteredClient, Tenant, error_of


@pytest.fixture
def client(tenant: Tenant) -> RegisteredClient:
    return tenant.register("RS256", clientName="reporting bot")


@pytest.fixture
def token(tenant: Tenant, client: RegisteredClient) -> str:
    return str(tenant.post_token(client).json()["access_token"])


def test_root_responds(tenant: Tenant) -> None:
    response = tenant.get("/")
    assert response.status_code == 200
    assert response.json()["tokenEndpoint"] == tenant.token_url


def test_me_redirects_to_user(tenant: Tenant, token: str) -> None:
    response = tenant.get("/api/v1/users/me", token)
    assert response.status_code == 301
    assert response.headers["Location"].startswith("/api/v1/users/")


def test_user_has_members(tenant: Tenant, client: RegisteredClient, token: str) -> None:
    location = tenant.get("/api/v1/users/me", token).headers["Location"]
    user = tenant.get(location, token).json()
    assert set(user) >= {"id", "name", "subject", "tenantId", "email", "status"}
    assert user["status"] == "active"
    assert user["createdAt"].endswith("Z")
    assert client.client_id in user["subject"]
    assert "reporting bot" in user["name"]


def test_user_is_clients_user(
    tenant: Tenant, client: RegisteredClient, token: str
) -> None:
    registered = tenant.admin("GET", f"/api/v1/oauth-clients/{client.client_id}")
    location = tenant.get("/api/v1/users/me", token).headers["Location"]
    assert location.endswith(registered.json()["userId"])


def test_redirect_followed_with_token(tenant: Tenant, token: str) -> None:
    response = tenant.session.get(
        tenant.url + "/api/v1/users/me",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.history[0].status_code == 301


def test_missing_token_rejected(tenant: Tenant) -> None:
    response = tenant.get("/api/v1/users/me")
    assert error_of(response) == (401, "AUTH-1")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_basic_auth_rejected(tenant: Tenant) -> None:
    response = tenant.session.get(
        tenant.url + "/api/v1/users/me", auth=("user", "password"), timeout=10
    )
    assert error_of(response) == (401, "AUTH-1")


def test_unknown_token_rejected(tenant: Tenant, token: str) -> None:
    response = tenant.get("/api/v1/users/me", token + "x")
    assert error_of(response) == (401, "AUTH-2")


def test_expired_token_rejected(tenant: Tenant, token: str, clock: Clock) -> None:
    clock.now += 360 * 60
    response = tenant.get("/api/v1/users/me", token)
    assert error_of(response) == (401, "AUTH-3")


def test_short_token_lifetime_expires(
    tenant: Tenant, client: RegisteredClient, clock: Clock
) -> None:
    tenant.settings.token_lifetime = 5
    token = tenant.post_token(client).json()["access_token"]
    assert tenant.get("/api/v1/users/me", token).status_code == 301
    clock.now += 5
    assert error_of(tenant.get("/api/v1/users/me", token)) == (401, "AUTH-3")


def test_other_users_not_found(tenant: Tenant, token: str) -> None:
    other = tenant.register()
    other_token = tenant.post_token(other).json()["access_token"]
    location = tenant.get("/api/v1/users/me", other_token).headers["Location"]
    assert error_of(tenant.get(location, token)) == (404, "HTTP-404")


def test_deleted_client_token_unknown(
    tenant: Tenant, client: RegisteredClient, token: str
) -> None:
    tenant.admin("DELETE", f"/api/v1/oauth-clients/{client.client_id}")
    assert error_of(tenant.get("/api/v1/users/me", token)) == (401, "AUTH-2")


def test_unknown_path_not_found(tenant: Tenant) -> None:
    assert error_of(tenant.get("/api/v1/nothing")) == (404, "HTTP-404")


def test_wrong_method_not_allowed(tenant: Tenant) -> None:
    response = tenant.get("/oauth/token")
    assert error_of(response) == (405, "HTTP-405")
    assert response.headers["Allow"] == "POST"


def test_options_not_allowed(tenant: Tenant) -> None:
    response = tenant.session.options(tenant.token_url, timeout=10)
    assert error_of(response) == (405, "HTTP-405")
    assert response.headers["Allow"] == "POST"


def test_token_in_path_not_echoed(
    tenant: Tenant, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="qlik_tutorial")
    response = tenant.get(f"/api/v1/users/{token}", token)
    assert error_of(response) == (404, "HTTP-404")
    assert token not in response.text
    assert token not in caplog.text


def test_token_in_unknown_path_not_echoed(
    tenant: Tenant, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="qlik_tutorial")
    response = tenant.get(f"/api/v2/{token}/me")
    assert error_of(response) == (404, "HTTP-404")
    assert token not in response.text
    assert token not in caplog.text


def test_error_body_shape(tenant: Tenant) -> None:
    body = tenant.get("/api/v1/users/me").json()
    assert set(body) == {"errors", "traceId"}
    assert set(body["errors"][0]) == {"code", "title", "detail", "status"}
    assert body["errors"][0]["status"] == "401"


def test_oversized_body_rejected(tenant: Tenant) -> None:
    response = tenant.session.post(
        tenant.token_url,
        data=b"x" * (300 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert error_of(response) == (400, "OAUTH-1")


def test_request_log_line(
    tenant: Tenant, client: RegisteredClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="qlik_tutorial.local_tenant.server")
    tenant.post_token(client, client.assertion(sub="x"))
    lines = [r.getMessage() for r in caplog.records if "/oauth/token" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith(f"POST /oauth/token 401 client={client.client_id}")
    assert " error=OAUTH-25 " in lines[0]
    assert lines[0].endswith(" ms")


def test_log_has_no_secrets(
    tenant: Tenant, client: RegisteredClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="qlik_tutorial")
    assertion = client.assertion()
    token = tenant.post_token(client, assertion).json()["access_token"]
    tenant.get("/api/v1/users/me", token)
    tenant.get(f"/{assertion}")
    tenant.admin("GET", "/api/v1/oauth-clients")
    text = caplog.text
    assert token not in text
    assert assertion.split(".")[1] not in text
    assert tenant.admin_key not in text


def test_date_header_follows_test_clock(tenant: Tenant, clock: Clock) -> None:
    clock.now = 2_000_000_000.0
    tenant.server.settings.clock_offset = 600
    response = tenant.session.get(tenant.url + "/", timeout=5)
    sent = email.utils.parsedate_to_datetime(response.headers["Date"])
    assert sent.timestamp() == 2_000_000_600
