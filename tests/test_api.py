"""REST API calls against scripted servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from http_fixtures import Reply, ScriptedServer, closed_port, raw_server

from qlik_tutorial.api import api_url, call_api, same_origin
from qlik_tutorial.errors import (
    APIRequestError,
    ConfigurationError,
    ResponseFormatError,
    TenantTimeoutError,
    TenantUnreachableError,
    TransportError,
)
from qlik_tutorial.token_endpoint import AccessToken

pytestmark = pytest.mark.timeout(30)

NOW = 1_800_000_000.0
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhcGkifQ." + "t" * 80
USER = {"id": "u-1", "name": "Tutorial client", "subject": "client:1", "tenantId": "t"}


def qlik_error(status: int, code: str, title: str) -> dict[str, Any]:
    return {
        "errors": [{"code": code, "title": title, "status": str(status)}],
        "traceId": "trace-1",
    }


@pytest.fixture
def server(scripted_server: Callable[[], ScriptedServer]) -> ScriptedServer:
    return scripted_server()


def test_call_sends_bearer(server: ScriptedServer) -> None:
    server.queue(Reply(200, USER))
    assert call_api(server.url, TOKEN) == USER
    sent = server.requests[0]
    assert sent.path == "/api/v1/users/me"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


def test_call_accepts_access_token(server: ScriptedServer) -> None:
    token = AccessToken(TOKEN, "Bearer", NOW + 60, "user_default")
    server.queue(Reply(200, USER))
    call_api(server.url, token, now=lambda: NOW)
    assert server.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_call_other_path(server: ScriptedServer) -> None:
    server.queue(Reply(200, {"data": []}))
    assert call_api(server.url, TOKEN, "api/v1/spaces?limit=1") == {"data": []}
    assert server.requests[0].path == "/api/v1/spaces?limit=1"


def test_same_origin_redirect_keeps_bearer(server: ScriptedServer) -> None:
    server.queue(Reply(301, b"", {"Location": "/api/v1/users/u-1"}), Reply(200, USER))
    assert call_api(server.url, TOKEN) == USER
    final = server.requests[1]
    assert final.path == "/api/v1/users/u-1"
    assert final.headers["Authorization"] == f"Bearer {TOKEN}"


def test_cross_origin_redirect_drops_bearer(
    scripted_server: Callable[[], ScriptedServer],
) -> None:
    tenant, other = scripted_server(), scripted_server()
    tenant.queue(Reply(302, b"", {"Location": f"{other.url}/api/v1/users/u-1"}))
    other.queue(Reply(200, USER))
    assert call_api(tenant.url, TOKEN) == USER
    assert tenant.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert other.requests[0].headers["Authorization"] is None


def test_bearer_stays_dropped_on_return(
    scripted_server: Callable[[], ScriptedServer],
) -> None:
    tenant, other = scripted_server(), scripted_server()
    tenant.queue(
        Reply(307, b"", {"Location": f"{other.url}/hop"}),
        Reply(200, USER),
    )
    other.queue(Reply(307, b"", {"Location": f"{tenant.url}/api/v1/users/u-1"}))
    call_api(tenant.url, TOKEN)
    assert tenant.requests[1].headers["Authorization"] is None


def test_too_many_redirects(server: ScriptedServer) -> None:
    server.route("GET", "/loop", Reply(302, b"", {"Location": "/loop"}))
    with pytest.raises(APIRequestError) as caught:
        call_api(server.url, TOKEN, "/loop", max_redirects=5)
    assert caught.value.case == "too_many_redirects"
    assert len(server.requests) == 6


@pytest.mark.parametrize(
    ("status", "body", "case"),
    [
        (401, qlik_error(401, "AUTH-3", "Token expired"), "access_token_expired"),
        (401, qlik_error(401, "AUTH-2", "Invalid token"), "access_token_invalid"),
        (401, qlik_error(401, "AUTH-1", "Not authorized"), "authorization_missing"),
        (401, {"error": "invalid_token"}, "access_token_invalid"),
        (401, "<html>Unauthorized</html>", "api_unauthorized"),
        (403, qlik_error(403, "HTTP-403", "Forbidden"), "api_forbidden"),
        (404, qlik_error(404, "HTTP-404", "Not found"), "api_not_found"),
        (429, qlik_error(429, "HTTP-429", "Too many requests"), "rate_limited"),
    ],
)
def test_error_response_case(
    server: ScriptedServer, status: int, body: Any, case: str
) -> None:
    server.queue(Reply(status, body))
    with pytest.raises(APIRequestError) as caught:
        call_api(server.url, TOKEN)
    assert caught.value.case == case
    assert caught.value.status == status


def test_rate_limited_retry_after(server: ScriptedServer) -> None:
    body = qlik_error(429, "HTTP-429", "Too many requests")
    server.queue(Reply(429, body, {"Retry-After": "12"}))
    with pytest.raises(APIRequestError) as caught:
        call_api(server.url, TOKEN)
    assert caught.value.retry_after == 12


def test_error_hides_token(server: ScriptedServer) -> None:
    body = qlik_error(401, "AUTH-2", f"Invalid access token {TOKEN}")
    server.queue(Reply(401, body))
    with pytest.raises(APIRequestError) as caught:
        call_api(server.url, TOKEN)
    assert TOKEN not in str(caught.value)


def test_error_names_final_path(server: ScriptedServer) -> None:
    server.queue(
        Reply(301, b"", {"Location": "/api/v1/users/u-1"}),
        Reply(404, qlik_error(404, "HTTP-404", "Not found")),
    )
    with pytest.raises(APIRequestError, match="GET /api/v1/users/u-1"):
        call_api(server.url, TOKEN)


def test_non_json_response(server: ScriptedServer) -> None:
    server.queue(Reply(200, "<html><p>Welcome</p></html>"))
    with pytest.raises(ResponseFormatError, match="Welcome"):
        call_api(server.url, TOKEN)


def test_empty_response_returns_none(server: ScriptedServer) -> None:
    server.queue(Reply(204))
    assert call_api(server.url, TOKEN) is None


def test_expired_token_not_sent(server: ScriptedServer) -> None:
    token = AccessToken(TOKEN, "Bearer", NOW - 10, "user_default")
    with pytest.raises(ConfigurationError, match="expired 10 s ago"):
        call_api(server.url, token, now=lambda: NOW)
    assert server.requests == []


def test_empty_token_rejected(server: ScriptedServer) -> None:
    with pytest.raises(ConfigurationError, match="Access token is empty"):
        call_api(server.url, "")


def test_foreign_url_rejected(server: ScriptedServer) -> None:
    with pytest.raises(ConfigurationError, match="not on the tenant"):
        call_api(server.url, TOKEN, "https://elsewhere.example/api/v1/users/me")


def test_api_url_joins_path() -> None:
    origin = "https://acme.eu.qlikcloud.com"
    assert api_url(origin, "/api/v1/users/me") == f"{origin}/api/v1/users/me"
    assert api_url(origin, "api/v1/users/me") == f"{origin}/api/v1/users/me"


def test_same_origin_default_port() -> None:
    assert same_origin("https://acme.com:443/a", "https://ACME.com")
    assert not same_origin("http://acme.com/a", "https://acme.com")
    assert not same_origin("http://127.0.0.1:1/a", "http://127.0.0.1:2")


def test_timeout(silent_tenant: str) -> None:
    with pytest.raises(TenantTimeoutError, match="API call timed out"):
        call_api(silent_tenant, TOKEN, timeout=(2.0, 0.3))


def test_refused(refused_tenant: str) -> None:
    with pytest.raises(TenantUnreachableError, match="refused"):
        call_api(refused_tenant, TOKEN, timeout=2.0)


def test_tls_to_plain_http_loopback(server: ScriptedServer) -> None:
    tenant = server.url.replace("http://", "https://")
    with pytest.raises(TenantUnreachableError) as caught:
        call_api(tenant, TOKEN, timeout=2.0)
    assert f"use {server.url} as the tenant" in caught.value.fix


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x", "x:y"])
def test_redirect_to_unusable_url(server: ScriptedServer, location: str) -> None:
    server.queue(Reply(302, b"", {"Location": location}))
    with pytest.raises(APIRequestError, match="redirected") as caught:
        call_api(server.url, TOKEN)
    assert caught.value.status == 302
    assert len(server.requests) == 1


def test_redirect_loop_hides_token_in_location(server: ScriptedServer) -> None:
    server.route("GET", "/loop", Reply(302, b"", {"Location": f"/loop?t={TOKEN}"}))
    with pytest.raises(APIRequestError) as caught:
        call_api(server.url, TOKEN, "/loop")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in caught.value.url


def test_redirect_log_hides_token(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.queue(
        Reply(302, b"", {"Location": f"/next?access_token={TOKEN}"}), Reply(200, USER)
    )
    with caplog.at_level("DEBUG", logger="qlik_tutorial"):
        call_api(server.url, TOKEN)
    assert TOKEN not in caplog.text


def test_redirect_to_refused_origin(server: ScriptedServer) -> None:
    target = f"http://user:pw@127.0.0.1:{closed_port()}/api/v1/users/u-1"
    server.queue(Reply(302, b"", {"Location": target}))
    with pytest.raises(TenantUnreachableError, match="refused"):
        call_api(server.url, TOKEN, timeout=2.0)


def test_truncated_body_is_transport_error() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    with (
        raw_server(head + b"Content-Length: 50\r\n\r\n{") as url,
        pytest.raises(TransportError, match="could not be read"),
    ):
        call_api(url, TOKEN, timeout=2.0)


@pytest.mark.parametrize("token", [f"{TOKEN}\r\nX-Injected: 1", f"tok en{TOKEN}"])
def test_token_with_unsafe_characters(server: ScriptedServer, token: str) -> None:
    with pytest.raises(ConfigurationError, match="Access token") as caught:
        call_api(server.url, token)
    assert TOKEN not in str(caught.value)
    assert server.requests == []


@pytest.mark.parametrize("location", ["http://[::1", "http://127.0.0.1:99999/x"])
def test_redirect_to_malformed_url(server: ScriptedServer, location: str) -> None:
    server.queue(Reply(302, b"", {"Location": location}))
    with pytest.raises(TransportError, match="Location header that is not a URL"):
        call_api(server.url, TOKEN)
    assert len(server.requests) == 1
