"""Mapping error responses to troubleshooting cases, independent of wording."""

from __future__ import annotations

import pytest

from qlik_tutorial.troubleshooting import (
    CASES,
    ROW_ASSERTION_TYPE,
    ROW_AUDIENCE,
    ROW_CLIENT,
    ROW_SIGNATURE,
    ROW_TIMEOUT,
    ROWS,
    case_for,
    case_named,
)

# (status, code, title, detail, error, endpoint) -> case name. The responses mix
# the local tenant's codes, codes it never sends, RFC 6749 bodies and responses
# with no body at all.
RESPONSES = [
    (401, "OAUTH-24", "Signature validation failed", "kid k1: no match", None, "token"),
    (
        401,
        "OAUTH-23",
        "Signature validation failed",
        "alg RS512 differs",
        None,
        "token",
    ),
    (400, None, None, "Signature verification failed", "invalid_grant", "token"),
    (401, "OAUTH-99", "Invalid signature", None, None, "token"),
    (
        401,
        "OAUTH-27",
        "Invalid audience",
        "aud is https://x/oauth/token/",
        None,
        "token",
    ),
    (400, None, None, "Invalid audience", "invalid_client", "token"),
    (401, "OAUTH-14", "Invalid client_id", "no client abc", None, "token"),
    (401, "OAUTH-25", "Invalid client", "iss 'x' is not the client ID", None, "token"),
    (401, None, None, None, "invalid_client", "token"),
    (400, None, None, "Client not found", "invalid_client", "token"),
    (401, "OAUTH-15", "Client disabled", None, None, "token"),
    (401, "OAUTH-16", "unauthorized_client", None, None, "token"),
    (400, None, None, None, "unauthorized_client", "token"),
    (401, "OAUTH-17", "Invalid client authentication method", None, None, "token"),
    (400, "OAUTH-3", "unsupported_client_assertion_type", None, None, "token"),
    (400, None, None, None, "unsupported_client_assertion_type", "token"),
    (401, "OAUTH-28", "Assertion expired", "exp 1700000000 passed", None, "token"),
    (401, "E-1", "Token expired", None, None, "token"),
    (401, "OAUTH-29", "Assertion lifetime too long", "exp - iat = 600", None, "token"),
    (401, "OAUTH-30", "Assertion issued in the future", None, None, "token"),
    (401, "OAUTH-32", "Assertion already used", "jti 1234", None, "token"),
    (400, None, None, "JWT replay detected", "invalid_grant", "token"),
    (401, "OAUTH-21", "Missing kid", None, None, "token"),
    (401, "OAUTH-22", "Unknown kid", "kid abc names no key", None, "token"),
    (401, "OAUTH-20", "Unsupported algorithm", "HS256", None, "token"),
    (401, "OAUTH-31", "Missing jti", None, None, "token"),
    (401, "OAUTH-33", "Missing claim", "sub", None, "token"),
    (400, "OAUTH-4", "Invalid client assertion", None, None, "token"),
    (400, "OAUTH-5", "Invalid scope", "scope admin", None, "token"),
    (400, None, None, None, "invalid_scope", "token"),
    (400, "OAUTH-2", "Unsupported grant type", None, None, "token"),
    (400, "OAUTH-1", "Invalid request", "scope sent twice", None, "token"),
    (429, "HTTP-429", "Too many requests", None, None, "token"),
    (429, None, None, None, None, "api"),
    (403, None, None, None, None, "token"),
    (401, None, None, None, None, "token"),
    (400, None, None, None, None, "token"),
    (404, None, None, None, None, "token"),
    (302, None, None, None, None, "token"),
    (502, None, None, None, None, "token"),
    (401, "AUTH-3", "Access token expired", None, None, "api"),
    (401, "AUTH-2", "Invalid access token", None, None, "api"),
    (401, "AUTH-1", "Not authorized", None, None, "api"),
    (401, None, None, None, None, "api"),
    (403, None, None, None, None, "api"),
    (404, "HTTP-404", "Not found", None, None, "api"),
    (401, "AUTH-10", "Invalid admin key", None, None, "admin"),
    (400, "OAUTH-40", "Invalid public key", "member d is private", None, "admin"),
    (418, None, None, None, None, "api"),
]
EXPECTED = [
    "signature_invalid",
    "signature_invalid",
    "signature_invalid",
    "signature_invalid",
    "invalid_audience",
    "invalid_audience",
    "invalid_client",
    "invalid_client",
    "invalid_client",
    "invalid_client",
    "client_disabled",
    "grant_not_allowed",
    "grant_not_allowed",
    "auth_method_not_allowed",
    "unsupported_assertion_type",
    "unsupported_assertion_type",
    "assertion_expired",
    "assertion_expired",
    "lifetime_too_long",
    "issued_in_future",
    "jti_reused",
    "jti_reused",
    "missing_kid",
    "unknown_kid",
    "unsupported_alg",
    "missing_claim",
    "missing_claim",
    "invalid_assertion",
    "invalid_scope",
    "invalid_scope",
    "unsupported_grant_type",
    "invalid_request",
    "rate_limited",
    "rate_limited",
    "token_forbidden",
    "token_unauthorized",
    "token_bad_request",
    "token_not_found",
    "token_redirected",
    "server_error",
    "access_token_expired",
    "access_token_invalid",
    "authorization_missing",
    "api_unauthorized",
    "api_forbidden",
    "api_not_found",
    "admin_key_invalid",
    "public_key_invalid",
    "http_error",
]


@pytest.mark.parametrize(
    ("response", "name"), list(zip(RESPONSES, EXPECTED, strict=True))
)
def test_case_for_response(
    response: tuple[int, str | None, str | None, str | None, str | None, str],
    name: str,
) -> None:
    status, code, title, detail, error, endpoint = response
    assert case_for(status, code, title, detail, error, endpoint=endpoint).name == name


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("signature_invalid", ROW_SIGNATURE),
        ("invalid_audience", ROW_AUDIENCE),
        ("invalid_client", ROW_CLIENT),
        ("grant_not_allowed", ROW_CLIENT),
        ("unsupported_assertion_type", ROW_ASSERTION_TYPE),
        ("timeout", ROW_TIMEOUT),
        ("unreachable", ROW_TIMEOUT),
        ("jti_reused", None),
    ],
)
def test_case_row(name: str, row: str | None) -> None:
    assert case_named(name).row == row


def test_every_row_has_a_case() -> None:
    rows = {case.row for case in CASES}
    assert set(ROWS) <= rows


def test_case_names_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))


def test_every_case_explains() -> None:
    unexplained = [case.name for case in CASES if not (case.cause and case.fix)]
    assert unexplained == []


def test_keyword_needs_whole_word() -> None:
    # "audience" inside another word must not pick the audience case.
    assert case_for(401, title="Bad audiences2").name == "token_unauthorized"


def test_title_outweighs_detail() -> None:
    case = case_for(
        401, "X-1", "Unknown kid", "check the signature alg of the registered key"
    )
    assert case.name == "unknown_kid"


def test_fix_for_fills_tenant() -> None:
    fix = case_named("invalid_audience").fix_for("https://acme.eu.qlikcloud.com")
    assert "https://acme.eu.qlikcloud.com/oauth/token" in fix


def test_fix_for_without_tenant() -> None:
    assert "https://<TENANT>/oauth/token" in case_named("invalid_audience").fix_for(
        None
    )


def test_unknown_case_name() -> None:
    with pytest.raises(KeyError):
        case_named("no_such_case")


def test_exp_too_far_is_lifetime() -> None:
    case = case_for(
        401, error="invalid_client", detail="exp claim too far in the future"
    )
    assert case.name == "lifetime_too_long"


def test_iat_in_future_stays_future() -> None:
    case = case_for(401, error="invalid_client", detail="iat is in the future")
    assert case.name == "issued_in_future"


def test_invalid_token_expired_detail() -> None:
    case = case_for(
        401,
        "HTTP-401",
        "Invalid token",
        "The access token has expired",
        endpoint="api",
    )
    assert case.name == "access_token_expired"


def test_invalid_token_alone() -> None:
    case = case_for(401, "HTTP-401", "Invalid token", endpoint="api")
    assert case.name == "access_token_invalid"


def test_invalid_token_other_detail() -> None:
    case = case_for(
        401, "HTTP-401", "Invalid token", "The token was revoked", endpoint="api"
    )
    assert case.name == "access_token_invalid"


def test_invalid_token_fix_requests_new_token() -> None:
    fix = case_named("access_token_invalid").fix
    assert fix.startswith("request a new access token")


def test_invalid_token_fix_names_ways() -> None:
    fix = case_named("access_token_invalid").fix
    assert "04_exchange_token" in fix
    assert "`qlik-tutorial token`" in fix
