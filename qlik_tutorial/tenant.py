"""Tenant addresses: normalise what a user types to an origin.

>>> tenant_origin("acme.eu.qlikcloud.com/")
'https://acme.eu.qlikcloud.com'
>>> token_endpoint("https://acme.eu.qlikcloud.com/some/page")
'https://acme.eu.qlikcloud.com/oauth/token'
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .errors import TenantURLError

TOKEN_PATH = "/oauth/token"  # noqa: S105 (a URL path, not a password)
EXAMPLE = "acme.eu.qlikcloud.com"


def is_loopback(host: str) -> bool:
    """Return whether ``host`` is localhost or a loopback IP address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tenant_origin(tenant: str) -> str:
    """Normalise a tenant host or URL to ``scheme://host[:port]``.

    A bare host means ``https``. A trailing slash, path, query or fragment is
    dropped. Plain ``http`` is accepted only for loopback hosts, which is
    where the local tenant listens.
    """
    text = (tenant or "").strip()
    if not text:
        raise TenantURLError(
            "Tenant is empty",
            value=tenant,
            cause="no tenant host was given",
            fix=f"pass the tenant host, for example {EXAMPLE}",
        )
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise TenantURLError(
            "Tenant URL has an unsupported scheme",
            value=tenant,
            cause=f"the scheme is {parts.scheme!r}, but a tenant speaks https",
            fix=f"use https://{EXAMPLE} or just {EXAMPLE}",
        )
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as error:
        raise TenantURLError(
            "Tenant URL is invalid",
            value=tenant,
            cause=str(error),
            fix=f"use the tenant host only, for example {EXAMPLE}",
        ) from None
    if not host:
        raise TenantURLError(
            "Tenant URL has no host",
            value=tenant,
            cause="nothing stands between the scheme and the path",
            fix=f"use the tenant host, for example {EXAMPLE}",
        )
    if parts.username or parts.password:
        raise TenantURLError(
            "Tenant URL contains user information",
            value=f"{scheme}://…@{host}",
            cause="credentials do not belong in the tenant URL",
            fix=f"use the tenant host only, for example {EXAMPLE}",
        )
    if scheme == "http" and not is_loopback(host):
        raise TenantURLError(
            "Tenant URL uses plain http",
            value=tenant,
            cause="http sends the client assertion and access token unencrypted",
            fix=f"use https://{host}; http is allowed only for 127.0.0.1",
        )
    shown_host = f"[{host}]" if ":" in host else host.lower()
    default_port = 443 if scheme == "https" else 80
    netloc = shown_host if port in (None, default_port) else f"{shown_host}:{port}"
    return f"{scheme}://{netloc}"


def token_endpoint(tenant: str) -> str:
    """Return the token endpoint: the tenant origin plus ``/oauth/token``."""
    return tenant_origin(tenant) + TOKEN_PATH
