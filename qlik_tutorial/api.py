"""REST API calls with a bearer access token.

Qlik Cloud responds to ``GET /api/v1/users/me`` with a redirect to
``/api/v1/users/{id}``. `call_api` follows redirects itself, so the
``Authorization`` header goes only to the tenant's own origin: a redirect to
another origin gets the request without it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from .errors import APIRequestError, ConfigurationError
from .redact import mask_token, redact_secrets
from .responses import json_body, raise_for_answer
from .tenant import safe_url, tenant_origin
from .token_endpoint import (
    DEFAULT_TIMEOUT,
    AccessToken,
    Timeout,
    check_header_safe,
    transport_error,
)
from .troubleshooting import case_named

logger = logging.getLogger(__name__)

DEFAULT_PATH = "/api/v1/users/me"
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}


def call_api(
    tenant: str,
    token: AccessToken | str,
    path: str = DEFAULT_PATH,
    *,
    timeout: Timeout = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
    max_redirects: int = MAX_REDIRECTS,
    now: Callable[[], float] = time.time,
) -> Any:
    """GET ``path`` on the tenant with the bearer token and return the JSON.

    Redirects are followed up to ``max_redirects`` times. The
    ``Authorization`` header is sent while the URL stays on the tenant's
    origin and never again once a redirect leaves it. Raises
    `APIRequestError` for an error response, `ResponseFormatError` for a body
    that is not JSON, and `TenantTimeoutError` or `TenantUnreachableError`
    when no response comes. A 204 response returns None.
    """
    origin = tenant_origin(tenant)
    url = api_url(origin, path)
    bearer = _bearer(token, now)

    owned = session is None
    client = requests.Session() if session is None else session
    try:
        response = _follow(client, url, origin, bearer, timeout, max_redirects)
        action = f"API call GET {urlsplit(response.url).path or path}"
        raise_for_answer(
            response, error_class=APIRequestError, tenant=origin, action=action
        )
        if response.status_code == 204 or not response.content:
            return None
        return json_body(response, what="API response")
    finally:
        if owned:
            client.close()


def api_url(origin: str, path: str) -> str:
    """Return the absolute URL of ``path`` on the tenant origin.

    ``path`` may also be an absolute URL, but only on the tenant's own
    origin, so the bearer token never goes to another host.
    """
    text = path.strip()
    if "://" in text:
        if same_origin(text, origin):
            return text
        raise ConfigurationError(
            "API URL is not on the tenant",
            value=text,
            cause=f"the access token belongs to {origin} and must not go elsewhere",
            fix=f"pass a path such as {DEFAULT_PATH}, or a URL on {origin}",
        )
    return origin + ("" if text.startswith("/") else "/") + text


def same_origin(url: str, other: str) -> bool:
    """Return whether two URLs share scheme, host and port (RFC 6454)."""
    return _origin_of(url) == _origin_of(other)


def _origin_of(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def _bearer(token: AccessToken | str, now: Callable[[], float]) -> str:
    if isinstance(token, AccessToken):
        if token.is_expired(now):
            case = case_named("access_token_expired")
            raise ConfigurationError(
                case.symptom,
                value=f"{token.masked}, expired {-token.expires_in(now):.0f} s ago",
                cause=case.cause,
                fix=case.fix,
            )
        return token.access_token
    if not isinstance(token, str) or not token.strip():
        raise ConfigurationError(
            "Access token is empty",
            value=type(token).__name__,
            cause="the API call needs the access token from the token response",
            fix="request an access token first, for example with fetch_access_token()",
        )
    check_header_safe(token.strip())
    return token.strip()


def _follow(
    client: requests.Session,
    url: str,
    origin: str,
    bearer: str,
    timeout: Timeout,
    max_redirects: int,
) -> requests.Response:
    """GET ``url`` and follow redirects, sending the token only on ``origin``."""
    authorized = same_origin(url, origin)
    for hop in range(max_redirects + 1):
        headers = {"Accept": "application/json"}
        if authorized:
            headers["Authorization"] = f"Bearer {bearer}"
        safe_url_text = redact_secrets(safe_url(url))
        logger.debug(
            "GET %s authorization=%s",
            safe_url_text,
            mask_token(bearer) if authorized else "none",
        )
        try:
            response = client.get(
                url, headers=headers, timeout=timeout, allow_redirects=False
            )
        except (requests.RequestException, ValueError) as error:
            # ValueError: requests parses a redirect's Location header even
            # without following it, and it is not a URL.
            raise transport_error(
                error, safe_url_text, timeout, action="API call"
            ) from None
        logger.debug("GET %s -> %s", safe_url_text, response.status_code)
        location = response.headers.get("Location")
        if response.status_code not in REDIRECT_STATUSES or not location:
            return response
        response.close()
        url = _redirect_target(response, url, location)
        if hop == max_redirects:
            break
        if authorized and not same_origin(url, origin):
            logger.debug("redirect leaves %s: Authorization dropped", origin)
            authorized = False
    case = case_named("too_many_redirects")
    safe_url_text = redact_secrets(safe_url(url))
    raise APIRequestError(
        case.symptom,
        value=f"more than {max_redirects} redirects, the last one to {safe_url_text}",
        cause=case.cause,
        fix=case.fix,
        status=response.status_code,
        url=safe_url_text,
        case=case.name,
    )


def _redirect_target(response: requests.Response, url: str, location: str) -> str:
    """Return the absolute URL a redirect points to, if it is http or https."""
    try:
        target = urljoin(url, location)
        parts = urlsplit(target)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        usable = False
    if usable:
        return target
    safe_url_text = redact_secrets(safe_url(location))[:200]
    raise APIRequestError(
        "API call redirected to an unusable URL",
        value=f"HTTP {response.status_code} from {redact_secrets(safe_url(url))} "
        f"to {safe_url_text!r}",
        cause="the Location header is not an http or https URL that can be requested",
        fix="check the tenant URL and the API path; a proxy or captive portal "
        "may have responded instead of the tenant",
        status=response.status_code,
        url=redact_secrets(safe_url(url)),
    )
