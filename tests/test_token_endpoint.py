"""Token requests against a scripted token endpoint on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt as pyjwt
import pytest
from http_fixtures import Reply, ScriptedServer, raw_server

from qlik_tutorial.assertion import ASSERTION_TYPE, build_client_assertion
from qlik_tutorial.errors import (
    ClientAssertionError,
    ConfigurationError,
    RateLimitedError,
    ResponseFormatError,
    TenantTimeoutError,
    TenantUnreachableError,
    TokenRequestError,
    TransportError,
)
from qlik_tutorial.keys import SigningKey
from qlik_tutorial.token_endpoint import (
    AccessToken,
    fetch_access_token,
    request_access_token,
)

pytestmark = pytest.mark.timeout(30)

NOW = 1_800_000_000.0
CLIENT_ID = "3f9c2b7e6a1d4c8f9e0b1a2c3d4e5f60"
ACCESS_TOKEN = "eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJ1c2VyIn0." + "s" * 64
FAKE_ASSERTION = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz"


def clock() -> float:
    return NOW


def token_body(**members: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 21600,
        "scope": "user_default",
    }
    body.update(members)
    return {name: value for name, value in body.items() if value is not None}


def qlik_error(status: int, code: str, title: str, detail: str) -> dict[str, Any]:
    return {
        "errors": [
            {"code": code, "title": title, "detail": detail, "status": str(status)}
        ],
        "traceId": "0123456789abcdef",
    }


@pytest.fixture
def server(scripted_server: Callable[[], ScriptedServer]) -> ScriptedServer:
    return scripted_server()


def request(server: ScriptedServer, **options: Any) -> AccessToken:
    return request_access_token(
        server.url, CLIENT_ID, FAKE_ASSERTION, now=clock, **options
    )


def test_request_sends_exact_form(server: ScriptedServer) -> None:
    server.queue(Reply(200, token_body()))
    request(server)
    sent = server.requests[0]
    assert sent.method == "POST"
    assert sent.path == "/oauth/token"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.form == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT_ID],
        "client_assertion_type": [ASSERTION_TYPE],
        "client_assertion": [FAKE_ASSERTION],
        "scope": ["user_default"],
    }


def test_request_sends_chosen_scope(server: ScriptedServer) -> None:
    server.queue(Reply(200, token_body(scope=None)))
    token = request(server, scope="admin_classic")
    assert server.requests[0].form["scope"] == ["admin_classic"]
    assert token.scope == "admin_classic"


def test_token_parses_expires_in(server: ScriptedServer) -> None:
    server.queue(Reply(200, token_body()))
    token = request(server)
    assert token.access_token == ACCESS_TOKEN
    assert token.expires_at == NOW + 21600
    assert token.scope == "user_default"


def test_token_parses_expires_at(server: ScriptedServer) -> None:
    server.queue(
        Reply(200, token_body(expires_in=None, expires_at="2027-01-15T08:00:00Z"))
    )
    token = request(server)
    expected = datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()
    assert token.expires_at == expected


@pytest.mark.parametrize("token_type", ["bearer", "BEARER", "Bearer"])
def test_token_type_any_case(server: ScriptedServer, token_type: str) -> None:
    server.queue(Reply(200, token_body(token_type=token_type)))
    assert request(server).token_type == token_type


def test_token_type_other_rejected(server: ScriptedServer) -> None:
    server.queue(Reply(200, token_body(token_type="mac")))
    with pytest.raises(ResponseFormatError, match="token_type: 'mac'"):
        request(server)


def test_token_without_expiry_rejected(server: ScriptedServer) -> None:
    server.queue(Reply(200, token_body(expires_in=None)))
    with pytest.raises(ResponseFormatError, match="no expiry"):
        request(server)


def test_token_bad_expires_in_rejected(server: ScriptedServer) -> None:
    server.queue(Reply(200, token_body(expires_in="soon")))
    with pytest.raises(ResponseFormatError, match="expires_in: 'soon'"):
        request(server)


def test_token_without_access_token(server: ScriptedServer) -> None:
    server.queue(Reply(200, {"token_type": "Bearer", "expires_in": 60}))
    with pytest.raises(ResponseFormatError, match="no access_token") as caught:
        request(server)
    assert caught.value.status == 200


def test_token_html_success_rejected(server: ScriptedServer) -> None:
    server.queue(Reply(200, "<html><body><h1>Sign in</h1></body></html>"))
    with pytest.raises(ResponseFormatError) as caught:
        request(server)
    message = str(caught.value)
    assert "HTTP 200" in message
    assert "Sign in" in message
    assert "<h1>" not in message


def test_qlik_error_body(server: ScriptedServer) -> None:
    server.queue(
        Reply(
            401,
            qlik_error(
                401, "OAUTH-24", "Signature validation failed", "kid abc: no match"
            ),
        )
    )
    with pytest.raises(TokenRequestError) as caught:
        request(server)
    error = caught.value
    assert error.status == 401
    assert error.code == "OAUTH-24"
    assert error.case == "signature_invalid"
    assert error.trace_id == "0123456789abcdef"
    assert "Signature validation failed" in str(error)
    assert "register the new public JWK" in str(error)


def test_rfc6749_error_body(server: ScriptedServer) -> None:
    server.queue(
        Reply(
            401,
            {"error": "invalid_client", "error_description": "Client not found"},
        )
    )
    with pytest.raises(TokenRequestError) as caught:
        request(server)
    assert caught.value.case == "invalid_client"
    assert caught.value.code == "invalid_client"
    assert "Client not found" in str(caught.value)


def test_html_error_page_excerpt(server: ScriptedServer) -> None:
    page = (
        "<html><head><style>p{color:red}</style></head><body><h1>502 Bad "
        f"Gateway</h1><p>upstream said {FAKE_ASSERTION}</p></body></html>"
    )
    server.queue(Reply(502, page))
    with pytest.raises(TokenRequestError) as caught:
        request(server)
    message = str(caught.value)
    assert caught.value.case == "server_error"
    assert "502 Bad Gateway" in message
    assert FAKE_ASSERTION not in message
    assert "color:red" not in message


def test_rate_limited_retry_after(server: ScriptedServer) -> None:
    body = qlik_error(429, "HTTP-429", "Too many requests", "slow down")
    server.queue(Reply(429, body, {"Retry-After": "30"}))
    with pytest.raises(RateLimitedError) as caught:
        request(server)
    assert caught.value.retry_after == 30
    assert caught.value.case == "rate_limited"
    assert "Retry-After: 30 s" in str(caught.value)


def test_redirect_not_followed(server: ScriptedServer) -> None:
    server.queue(Reply(302, b"", {"Location": "/login"}))
    with pytest.raises(TokenRequestError) as caught:
        request(server)
    assert caught.value.case == "token_redirected"
    assert len(server.requests) == 1


def test_error_hides_assertion(server: ScriptedServer) -> None:
    detail = f"assertion {FAKE_ASSERTION} rejected"
    server.queue(Reply(401, qlik_error(401, "OAUTH-25", "Invalid client", detail)))
    with pytest.raises(TokenRequestError) as caught:
        request(server)
    assert FAKE_ASSERTION not in str(caught.value)


def test_timeout_names_url_and_fix(silent_tenant: str) -> None:
    with pytest.raises(TenantTimeoutError) as caught:
        request_access_token(
            silent_tenant, CLIENT_ID, FAKE_ASSERTION, timeout=(2.0, 0.3)
        )
    message = str(caught.value)
    assert f"{silent_tenant}/oauth/token" in message
    assert f"curl {silent_tenant}" in message
    assert "0.3 s" in message


def test_refused_names_url_and_fix(refused_tenant: str) -> None:
    with pytest.raises(TenantUnreachableError) as caught:
        request_access_token(refused_tenant, CLIENT_ID, FAKE_ASSERTION, timeout=2.0)
    message = str(caught.value)
    assert f"{refused_tenant}/oauth/token" in message
    assert "refused" in message.lower()
    assert f"curl {refused_tenant}" in message


def test_tls_failure_unreachable(server: ScriptedServer) -> None:
    # The scripted server speaks plain HTTP, so a TLS handshake with it fails.
    tenant = server.url.replace("http://", "https://")
    with pytest.raises(TenantUnreachableError) as caught:
        request_access_token(tenant, CLIENT_ID, FAKE_ASSERTION, timeout=2.0)
    assert "TLS handshake failed" in str(caught.value)
    assert f"curl {server.url}" in str(caught.value)


def test_tls_to_plain_http_loopback(server: ScriptedServer) -> None:
    tenant = server.url.replace("http://", "https://")
    with pytest.raises(TenantUnreachableError) as caught:
        request_access_token(tenant, CLIENT_ID, FAKE_ASSERTION, timeout=2.0)
    assert f"use http://127.0.0.1:{server.port}" in caught.value.fix
    assert "plain http" in caught.value.fix


def test_refused_fix_not_plain_http(refused_tenant: str) -> None:
    with pytest.raises(TenantUnreachableError) as caught:
        request_access_token(refused_tenant, CLIENT_ID, FAKE_ASSERTION, timeout=2.0)
    assert "plain http" not in caught.value.fix


def test_empty_client_id_rejected(server: ScriptedServer) -> None:
    with pytest.raises(ConfigurationError, match="Client ID is empty"):
        request_access_token(server.url, " ", FAKE_ASSERTION)
    assert server.requests == []


def test_malformed_assertion_rejected(server: ScriptedServer) -> None:
    with pytest.raises(ClientAssertionError, match="compact JWS"):
        request_access_token(server.url, CLIENT_ID, "not-a-jwt")
    assert server.requests == []


def test_fetch_signs_fresh_assertion(
    server: ScriptedServer, rs256_key: SigningKey
) -> None:
    server.queue(Reply(200, token_body()), Reply(200, token_body()))
    fetch_access_token(rs256_key, CLIENT_ID, server.url, now=clock)
    fetch_access_token(rs256_key, CLIENT_ID, server.url, now=clock)
    first, second = (sent.form["client_assertion"][0] for sent in server.requests)
    claims = pyjwt.decode(
        first,
        rs256_key.public_key,
        algorithms=["RS256"],
        audience=f"{server.url}/oauth/token",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == CLIENT_ID
    assert first != second


def test_repr_hides_token() -> None:
    token = AccessToken.from_response(token_body(), now=clock)
    assert ACCESS_TOKEN not in repr(token)
    assert ACCESS_TOKEN not in str(token)
    assert token.masked in repr(token)


def test_masked_shows_prefix_and_length() -> None:
    token = AccessToken.from_response(token_body(), now=clock)
    assert token.masked == f"{ACCESS_TOKEN[:10]}…({len(ACCESS_TOKEN)} chars)"


def test_expiry_uses_injected_clock() -> None:
    token = AccessToken.from_response(token_body(expires_in=60), now=clock)
    assert token.expires_in(lambda: NOW + 20) == 40
    assert not token.is_expired(lambda: NOW + 59)
    assert token.is_expired(lambda: NOW + 60)
    assert token.is_expired(lambda: NOW + 30, margin=30)


def test_to_json_stores_absolute_expiry() -> None:
    token = AccessToken.from_response(token_body(expires_in=60), now=clock)
    stored = token.to_json()
    reloaded = AccessToken.from_response(stored, now=lambda: NOW + 1000)
    assert reloaded.expires_at == NOW + 60


def test_token_used_with_real_assertion(
    server: ScriptedServer, es384_key: SigningKey
) -> None:
    assertion = build_client_assertion(es384_key, CLIENT_ID, server.url, now=clock)
    server.queue(Reply(200, token_body()))
    request_access_token(server.url, CLIENT_ID, assertion)
    assert server.requests[0].form["client_assertion"] == [assertion]


@pytest.mark.parametrize(
    "expires_in", [10**400, 1e300, "1e300"], ids=["long-int", "float", "text"]
)
def test_token_huge_expires_in_rejected(expires_in: object) -> None:
    with pytest.raises(ResponseFormatError, match="invalid expires_in"):
        AccessToken.from_response(token_body(expires_in=expires_in), now=clock)


@pytest.mark.parametrize("expires_in", [-5, "-60"])
def test_token_negative_expires_in_rejected(expires_in: object) -> None:
    with pytest.raises(ResponseFormatError, match="invalid expires_in"):
        AccessToken.from_response(token_body(expires_in=expires_in), now=clock)


def test_token_expires_in_as_string() -> None:
    token = AccessToken.from_response(token_body(expires_in="3600"), now=clock)
    assert token.expires_at == NOW + 3600


@pytest.mark.parametrize(
    "expires_at",
    [1e20, -1e20, "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
)
def test_token_expires_at_out_of_range(expires_at: object) -> None:
    body = token_body(expires_in=None, expires_at=expires_at)
    with pytest.raises(ResponseFormatError, match="invalid expires_at"):
        AccessToken.from_response(body, now=clock)


@pytest.mark.parametrize(
    "expires_at", ["2027-01-15T10:00:00+02:00", "2027-01-15T08:00:00z"]
)
def test_token_expires_at_with_offset(expires_at: str) -> None:
    body = token_body(expires_in=None, expires_at=expires_at)
    token = AccessToken.from_response(body, now=clock)
    assert token.expires_at == datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()


def test_token_far_expiry_repr() -> None:
    token = AccessToken(ACCESS_TOKEN, "Bearer", 1e300, "user_default")
    assert "expires_at=" in repr(token)


def test_token_extra_members_kept() -> None:
    body = token_body(refresh_token="r-1", issued_token_type="urn:x")
    token = AccessToken.from_response(body, now=clock)
    assert token.response["issued_token_type"] == "urn:x"


@pytest.mark.parametrize(
    "access_token",
    ["abc def" + "x" * 40, "abc\r\nX-Injected: 1" + "x" * 40, "tök" * 20],
)
def test_token_unusable_characters_rejected(access_token: str) -> None:
    with pytest.raises(ResponseFormatError, match="access_token") as caught:
        AccessToken.from_response(token_body(access_token=access_token), now=clock)
    assert access_token[4:] not in str(caught.value)


def test_token_type_value_redacted() -> None:
    with pytest.raises(ResponseFormatError, match="token_type") as caught:
        AccessToken.from_response(token_body(token_type=ACCESS_TOKEN), now=clock)
    assert ACCESS_TOKEN not in str(caught.value)


def test_truncated_response_is_transport_error() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    with (
        raw_server(head + b"Content-Length: 100\r\n\r\n{") as url,
        pytest.raises(TransportError, match="could not be read") as caught,
    ):
        request_access_token(url, CLIENT_ID, FAKE_ASSERTION, timeout=2.0)
    assert f"{url}/oauth/token" in str(caught.value)


def test_undecodable_response_is_transport_error(server: ScriptedServer) -> None:
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    server.queue(Reply(200, b"not gzip at all", headers))
    with pytest.raises(TransportError, match="could not be read"):
        request(server)


def test_deeply_nested_json_rejected(server: ScriptedServer) -> None:
    server.queue(Reply(200, "[" * 100_000, {"Content-Type": "application/json"}))
    with pytest.raises(ResponseFormatError, match="not JSON"):
        request(server)


def test_redirect_to_malformed_url(server: ScriptedServer) -> None:
    server.queue(Reply(302, b"", {"Location": "http://[::1"}))
    with pytest.raises(TransportError, match="Location header that is not a URL"):
        request(server)
