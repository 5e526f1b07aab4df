"""Tenant addresses: normalise what a user types to an origin.

>>> tenant_origin("acme.eu.qlikcloud.com/")
'https://acme.eu.qlikcloud.com'
>>> token_endpoint("https://acme.eu.qlikcloud.com/some/page")
'https://acme.eu.qlikcloud.com/oauth/token'
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .errors import TenantURLError

TOKEN_PATH = "/oauth/token"  # noqa: S105 (a URL path, not a password)
EXAMPLE = "acme.eu.qlikcloud.com"

# A scheme followed by a colon (RFC 3986 section 3.1).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# User information before the host, which may contain a password.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#]*@")
_BRACKETED_HOST = re.compile(r"\[[^\[\]]+\](?::[0-9]*)?")
_HOST_PUNCTUATION = frozenset("-._")


def is_loopback(host: str) -> bool:
    """Return whether ``host`` is localhost or a loopback IP address."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def safe_url(text: str) -> str:
    """Return ``text`` with any user information before the host replaced by …."""
    return _USERINFO.sub(lambda match: (match.group(1) or "") + "…@", text, count=1)


def tenant_origin(tenant: str) -> str:
    """Normalise a tenant host or URL to ``scheme://host[:port]``.

    A bare host means ``https``. A trailing slash, path, query or fragment is
    dropped, and so is the final dot of a fully qualified host name. Plain
    ``http`` is accepted only for loopback hosts, which is where the local
    tenant listens. Error messages never show user information, because it
    may contain a password.
    """
    if tenant is not None and not isinstance(tenant, str):
        raise TenantURLError(
            "Tenant is not text",
            value=type(tenant).__name__,
            cause="the tenant is a host name or URL string",
            fix=f"pass the tenant host as a string, for example {EXAMPLE!r}",
            case="tenant_not_text",
        )
    text = (tenant or "").strip()
    safe_text = safe_url(text)
    if not text:
        raise TenantURLError(
            "Tenant is empty",
            value=tenant,
            cause="no tenant host was given",
            fix=f"pass the tenant host, for example {EXAMPLE}",
            case="tenant_empty",
        )
    if "://" not in text:
        _check_scheme_slashes(text, safe_text)
        text = "https://" + text
    # urlsplit silently drops tabs and line breaks, so look before it does.
    authority = re.split(r"[/?#]", text.partition("://")[2], maxsplit=1)[0]
    if any(not char.isprintable() or char.isspace() for char in authority):
        raise TenantURLError(
            "Tenant host contains white space or control characters",
            value=safe_text,
            cause="a host name has no spaces, tabs or line breaks; a pasted value "
            "often brings one along",
            fix=f"remove them, for example {EXAMPLE}",
            case="tenant_white_space",
        )
    try:
        parts = urlsplit(text)
    except ValueError as error:
        raise _invalid(safe_text, str(error), "tenant_url_invalid") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise TenantURLError(
            "Tenant URL has an unsupported scheme",
            value=safe_text,
            cause=f"the scheme is {parts.scheme!r}, but a tenant speaks https",
            fix=f"use https://{EXAMPLE} or just {EXAMPLE}",
            case="tenant_scheme",
        )
    if parts.username is not None or parts.password is not None:
        raise TenantURLError(
            "Tenant URL contains user information",
            value=f"{scheme}://…@{parts.hostname or ''}",
            cause="credentials do not belong in the tenant URL",
            fix=f"use the tenant host only, for example {EXAMPLE}",
            case="tenant_user_information",
        )
    host, port = _host_and_port(parts.netloc, safe_text)
    if scheme == "http" and not is_loopback(host):
        raise TenantURLError(
            "Tenant URL uses plain http",
            value=safe_text,
            cause="http sends the client assertion and access token unencrypted",
            fix=f"use https://{_netloc(host, None)}; http is allowed only for "
            "127.0.0.1",
            case="tenant_plain_http",
        )
    default_port = 443 if scheme == "https" else 80
    return f"{scheme}://{_netloc(host, None if port == default_port else port)}"


def token_endpoint(tenant: str) -> str:
    """Return the token endpoint: the tenant origin plus ``/oauth/token``."""
    return tenant_origin(tenant) + TOKEN_PATH


def _check_scheme_slashes(text: str, safe_text: str) -> None:
    """Reject ``https:host`` and ``mailto:...``, which are not a host and port."""
    match = _SCHEME.match(text)
    if match is None:
        return
    rest = text[match.end() :]
    authority = rest.split("/", 1)[0]
    # host:port and user:password@host also start like a scheme.
    if not rest or rest[:1].isdigit() or "@" in authority:
        return
    scheme = match.group()[:-1]
    if scheme.lower() in ("https", "http"):
        raise TenantURLError(
            "Tenant URL lacks the // after its scheme",
            value=safe_text,
            cause=f"{scheme}: must be followed by // and the host",
            fix=f"write {scheme.lower()}://{rest.lstrip('/')}, or just the host, "
            f"for example {EXAMPLE}",
            case="tenant_scheme_slashes",
        )
    raise TenantURLError(
        "Tenant URL has an unsupported scheme",
        value=safe_text,
        cause=f"the scheme is {scheme!r}, but a tenant speaks https",
        fix=f"use https://{EXAMPLE} or just {EXAMPLE}",
        case="tenant_scheme",
    )


def _host_and_port(netloc: str, safe_text: str) -> tuple[str, int | None]:
    """Return the checked host, lowercased and without a final dot, and port."""
    authority = netloc.rpartition("@")[2]
    if authority.startswith("[") and not _BRACKETED_HOST.fullmatch(authority):
        raise _invalid(
            safe_text,
            "text follows the ] that closes the IPv6 address",
            "tenant_url_invalid",
        )

    parts = urlsplit("//" + authority)
    try:
        port = parts.port
    except ValueError as error:
        raise _invalid(safe_text, str(error), "tenant_port") from None
    host = parts.hostname or ""
    if not host:
        raise TenantURLError(
            "Tenant URL has no host",
            value=safe_text,
            cause="nothing stands between the scheme and the path",
            fix=f"use the tenant host, for example {EXAMPLE}",
            case="tenant_no_host",
        )
    if port == 0:
        raise _invalid(
            safe_text, "port 0 is not a port a server listens on", "tenant_port"
        )
    if authority.startswith("["):
        return host, port

    host = host.removesuffix(".")
    labels = host.split(".")
    bad = "".join(
        dict.fromkeys(
            char for char in host if not (char.isalnum() or char in _HOST_PUNCTUATION)
        )
    )
    if bad or "" in labels:
        found = repr(bad) if bad else "an empty label"
        raise TenantURLError(
            "Tenant host is not a valid host name",
            value=safe_text,
            cause="a host name is letters, digits, hyphens and dots between "
            f"non-empty labels, but it contains {found}",
            fix=f"use the host as the console shows it, for example {EXAMPLE}",
            case="tenant_host_name",
        )
    return host, port


def _netloc(host: str, port: int | None) -> str:
    shown_host = f"[{host}]" if ":" in host else host
    return shown_host if port is None else f"{shown_host}:{port}"


def _invalid(safe_text: str, cause: str, case: str) -> TenantURLError:
    return TenantURLError(
        "Tenant URL is invalid",
        value=safe_text,
        cause=cause,
        fix=f"use the tenant host only, for example {EXAMPLE}",
        case=case,
    )
