"""Tenant addresses: normalising to an origin and the token endpoint."""

from __future__ import annotations

import re

import pytest

from qlik_tutorial.errors import TenantURLError
from qlik_tutorial.tenant import is_loopback, tenant_origin, token_endpoint

ORIGIN = "https://acme.eu.qlikcloud.com"


@pytest.mark.parametrize(
    "text",
    [
        "acme.eu.qlikcloud.com",
        "acme.eu.qlikcloud.com/",
        "https://acme.eu.qlikcloud.com",
        "https://acme.eu.qlikcloud.com/",
        "https://acme.eu.qlikcloud.com/hub/spaces?x=1#top",
        "  HTTPS://ACME.eu.QlikCloud.com  ",
        "https://acme.eu.qlikcloud.com:443",
    ],
)
def test_origin_normalised(text: str) -> None:
    assert tenant_origin(text) == ORIGIN


def test_origin_keeps_port() -> None:
    assert tenant_origin("acme.eu.qlikcloud.com:8443") == f"{ORIGIN}:8443"


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://[::1]:9000/x", "http://[::1]:9000"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
    ],
)
def test_http_loopback_allowed(text: str, origin: str) -> None:
    assert tenant_origin(text) == origin


def test_token_endpoint_exact() -> None:
    assert token_endpoint("acme.eu.qlikcloud.com/") == f"{ORIGIN}/oauth/token"


def test_token_endpoint_drops_path() -> None:
    url = token_endpoint("https://acme.eu.qlikcloud.com/oauth/token/")
    assert url == f"{ORIGIN}/oauth/token"


@pytest.mark.parametrize(
    ("text", "symptom"),
    [
        ("", "Tenant is empty"),
        ("   ", "Tenant is empty"),
        ("ftp://acme.eu.qlikcloud.com", "unsupported scheme"),
        ("https://", "no host"),
        ("https:///path", "no host"),
        ("http://acme.eu.qlikcloud.com", "plain http"),
        ("http://10.0.0.5:8080", "plain http"),
        ("https://user:secret@acme.eu.qlikcloud.com", "user information"),
        ("https://acme.eu.qlikcloud.com:99999", "invalid"),
    ],
)
def test_invalid_tenant(text: str, symptom: str) -> None:
    with pytest.raises(TenantURLError, match=symptom):
        tenant_origin(text)


def test_userinfo_not_shown() -> None:
    with pytest.raises(TenantURLError) as caught:
        tenant_origin("https://user:secret@acme.eu.qlikcloud.com")
    assert "secret" not in str(caught.value)


def test_error_names_fix() -> None:
    fix = re.escape("Fix: use https://acme.eu.qlikcloud.com")
    with pytest.raises(TenantURLError, match=fix):
        tenant_origin("ftp://acme.eu.qlikcloud.com")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("acme.eu.qlikcloud.com", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize(
    "text",
    [
        "ftp://user:hunter2pw@acme.eu.qlikcloud.com",
        "https://user:hunter2pw@acme.eu.qlikcloud.com:99999",
        "https://user:hunter2pw@acme.eu.qlikcloud.com:port",
        "http://user:hunter2pw@[fe80::1]",
        "https://user:hunter2pw@acme eu.qlikcloud.com",
    ],
)
def test_password_never_echoed(text: str) -> None:
    with pytest.raises(TenantURLError) as caught:
        tenant_origin(text)
    assert "hunter2pw" not in str(caught.value)


@pytest.mark.parametrize(
    "text", ["https:/acme.eu.qlikcloud.com", "https:acme.eu.qlikcloud.com"]
)
def test_scheme_without_slashes_rejected(text: str) -> None:
    with pytest.raises(TenantURLError, match="https://"):
        tenant_origin(text)


def test_script_scheme_rejected() -> None:
    with pytest.raises(TenantURLError, match="unsupported scheme"):
        tenant_origin("javascript:alert(1)")


@pytest.mark.parametrize(
    "text",
    [
        "acme .eu.qlikcloud.com",
        "https://acme\t.eu.qlikcloud.com",
        "acme\x00.eu.qlikcloud.com",
        "acme<eu>.qlikcloud.com",
    ],
)
def test_host_with_bad_characters_rejected(text: str) -> None:
    with pytest.raises(TenantURLError, match="host"):
        tenant_origin(text)


@pytest.mark.parametrize("text", ["https://[::1", "https://[acme]", "[::1]x"])
def test_broken_brackets_rejected(text: str) -> None:
    with pytest.raises(TenantURLError, match="invalid"):
        tenant_origin(text)


def test_port_zero_rejected() -> None:
    with pytest.raises(TenantURLError, match="port"):
        tenant_origin("acme.eu.qlikcloud.com:0")


@pytest.mark.parametrize("value", [5, b"acme.eu.qlikcloud.com", ["acme"]])
def test_non_text_tenant_rejected(value: object) -> None:
    with pytest.raises(TenantURLError, match="not text"):
        tenant_origin(value)  # type: ignore[arg-type]


def test_trailing_dot_dropped() -> None:
    assert tenant_origin("acme.eu.qlikcloud.com.") == ORIGIN


def test_ipv6_origin_bracketed() -> None:
    assert tenant_origin("[2001:db8::1]:8443") == "https://[2001:db8::1]:8443"


def test_ipv6_http_fix_bracketed() -> None:
    with pytest.raises(TenantURLError, match=re.escape("use https://[2001:db8::1]")):
        tenant_origin("http://[2001:db8::1]:8080")


def test_international_host_kept() -> None:
    assert tenant_origin("bücher.example") == "https://bücher.example"


@pytest.mark.parametrize(
    ("tenant", "case"),
    [
        (5, "tenant_not_text"),
        ("", "tenant_empty"),
        ("acme .eu.qlikcloud.com", "tenant_white_space"),
        ("ftp://acme.eu.qlikcloud.com", "tenant_scheme"),
        ("javascript:alert(1)", "tenant_scheme"),
        ("https:acme.eu.qlikcloud.com", "tenant_scheme_slashes"),
        ("https://user:secret@acme.eu.qlikcloud.com", "tenant_user_information"),
        ("http://acme.eu.qlikcloud.com", "tenant_plain_http"),
        ("https://", "tenant_no_host"),
        ("acme<eu>.qlikcloud.com", "tenant_host_name"),
        ("https://[::1", "tenant_url_invalid"),
        ("https://[::1]x", "tenant_url_invalid"),
        ("acme.eu.qlikcloud.com:99999", "tenant_port"),
        ("acme.eu.qlikcloud.com:0", "tenant_port"),
    ],
)
def test_invalid_tenant_case(tenant: object, case: str) -> None:
    with pytest.raises(TenantURLError) as caught:
        tenant_origin(tenant)  # type: ignore[arg-type]
    assert caught.value.case == case
