"""Token endpoint: exchange a client assertion for an access token.

The request is the OAuth 2.0 client credentials grant with Private Key JWT
client authentication (RFC 7523), form-encoded::

    grant_type=client_credentials
    client_id=<client ID>
    client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
    client_assertion=<signed JWT>
    scope=user_default
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests

from .assertion import ASSERTION_TYPE, DEFAULT_LIFETIME, build_client_assertion
from .errors import (
    ClientAssertionError,
    ConfigurationError,
    ResponseFormatError,
    TenantTimeoutError,
    TenantUnreachableError,
    TokenRequestError,
)
from .redact import mask_token
from .responses import json_body, raise_for_answer
from .tenant import tenant_origin, token_endpoint
from .troubleshooting import case_named

if TYPE_CHECKING:
    from .keys import SigningKey

logger = logging.getLogger(__name__)

DEFAULT_SCOPE = "user_default"
GRANT_TYPE = "client_credentials"
# Seconds to connect and seconds to wait between bytes of the response.
DEFAULT_TIMEOUT = (5.0, 30.0)

Timeout = float | tuple[float, float]


@dataclass(repr=False)
class AccessToken:
    """An access token with its absolute expiry, in Unix seconds.

    ``response`` is the token endpoint's JSON response; equality ignores it, so
    a token reloaded from token.json equals the one saved. Neither ``repr``
    nor ``str`` shows the token: use `masked` to show its prefix.
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_at: float
    scope: str
    response: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def masked(self) -> str:
        """The token's first characters and length, safe to show."""
        return mask_token(self.access_token)

    def expires_in(self, now: Callable[[], float] = time.time) -> float:
        """Return the seconds left until the token expires (negative once past)."""
        return self.expires_at - now()

    def is_expired(
        self, now: Callable[[], float] = time.time, margin: float = 0
    ) -> bool:
        """Return whether the token expires within ``margin`` seconds from now."""
        return self.expires_in(now) <= margin

    @property
    def authorization(self) -> str:
        """The value of the Authorization header that carries this token."""
        return f"Bearer {self.access_token}"

    def __repr__(self) -> str:
        expiry = datetime.fromtimestamp(self.expires_at, UTC)
        return (
            f"AccessToken({self.masked}, token_type={self.token_type!r}, "
            f"expires_at={expiry.isoformat(timespec='seconds')}, "
            f"scope={self.scope!r})"
        )

    __str__ = __repr__

    @classmethod
    def from_response(
        cls,
        body: object,
        *,
        url: str = "",
        requested_scope: str = DEFAULT_SCOPE,
        now: Callable[[], float] = time.time,
        status: int = 200,
    ) -> AccessToken:
        """Parse a token response body.

        ``expires_at`` (ISO 8601 or Unix seconds) wins over ``expires_in``
        (seconds from ``now()``), so a token stored with its absolute expiry
        keeps it. A missing ``scope`` means the requested scope (RFC 6749
        section 5.1).
        """
        if not isinstance(body, Mapping):
            raise _format_error(
                "Token response is not a JSON object",
                type(body).__name__,
                "the token endpoint must respond with a JSON object",
                url,
                status,
            )
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise _format_error(
                "Token response has no access_token",
                sorted(body),
                "the JSON object lacks an access_token string",
                url,
                status,
            )
        token_type = body.get("token_type")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise _format_error(
                "Token response has an unsupported token_type",
                token_type,
                'the kit sends tokens as "Authorization: Bearer", so token_type '
                'must be "Bearer" in any case',
                url,
                status,
            )
        scope = body.get("scope")
        return cls(
            access_token=access_token,
            token_type=token_type,
            expires_at=_expires_at(body, now, url, status),
            scope=scope if isinstance(scope, str) else requested_scope,
            response=dict(body),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the token response with ``expires_at`` as Unix seconds."""
        return {**self.response, "expires_at": self.expires_at}


def request_access_token(
    tenant: str,
    client_id: str,
    assertion: str,
    *,
    scope: str = DEFAULT_SCOPE,
    timeout: Timeout = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
    now: Callable[[], float] = time.time,
) -> AccessToken:
    """Send a token request with a signed client assertion.

    Raises `TokenRequestError` (or `RateLimitedError`) for an error response,
    `ResponseFormatError` for a success response that is not a token response,
    `TenantTimeoutError` or `TenantUnreachableError` when no response comes.
    """
    url = token_endpoint(tenant)
    if not client_id or not client_id.strip():
        raise ConfigurationError(
            "Client ID is empty",
            value=client_id,
            cause="the token request needs the OAuth client's ID",
            fix="copy the client ID from the console's OAuth client page",
        )
    if not assertion or assertion.count(".") != 2:
        raise ClientAssertionError(
            "Client assertion is not a compact JWS",
            value=mask_token(assertion or ""),
            cause="a signed JWT has three base64url parts joined by dots",
            fix="pass the assertion as signed, for example from "
            "build_client_assertion()",
        )
    form = {
        "grant_type": GRANT_TYPE,
        "client_id": client_id.strip(),
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": scope,
    }
    logger.debug(
        "POST %s client_id=%s scope=%s assertion=%s",
        url,
        form["client_id"],
        scope,
        mask_token(assertion),
    )
    started = time.monotonic()
    response = _post(url, form, timeout=timeout, session=session)
    logger.debug(
        "POST %s -> %s in %.0f ms",
        url,
        response.status_code,
        (time.monotonic() - started) * 1000,
    )
    origin = tenant_origin(tenant)
    raise_for_answer(
        response, error_class=TokenRequestError, tenant=origin, action="Token request"
    )
    body = json_body(response, what="Token response")
    token = AccessToken.from_response(
        body, url=url, requested_scope=scope, now=now, status=response.status_code
    )
    logger.debug(
        "access token %s expires in %.0f s", token.masked, token.expires_in(now)
    )
    return token


def fetch_access_token(
    key: SigningKey,
    client_id: str,
    tenant: str,
    *,
    scope: str = DEFAULT_SCOPE,
    lifetime: int = DEFAULT_LIFETIME,
    now: Callable[[], float] = time.time,
    timeout: Timeout = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
) -> AccessToken:
    """Sign a fresh client assertion and exchange it for an access token."""
    assertion = build_client_assertion(
        key, client_id, tenant, lifetime=lifetime, now=now
    )
    return request_access_token(
        tenant,
        client_id,
        assertion,
        scope=scope,
        timeout=timeout,
        session=session,
        now=now,
    )


def _post(
    url: str,
    form: Mapping[str, str],
    *,
    timeout: Timeout,
    session: requests.Session | None,
) -> requests.Response:
    """POST the form, turning transport failures into the kit's errors."""
    owned = session is None
    client = requests.Session() if session is None else session
    try:
        return client.post(
            url,
            data=dict(form),
            headers={"Accept": "application/json"},
            timeout=timeout,
            allow_redirects=False,
        )
    except (requests.Timeout, requests.ConnectionError) as error:
        raise transport_error(error, url, timeout, action="Token request") from None
    finally:
        if owned:
            client.close()


def transport_error(
    error: requests.RequestException,
    url: str,
    timeout: Timeout,
    *,
    action: str,
) -> TenantTimeoutError | TenantUnreachableError:
    """Return the kit's error for a request that got no HTTP response."""
    origin = tenant_origin(url)
    if isinstance(error, requests.Timeout):
        case = case_named("timeout")
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        phase = f"no response within the {read:g} s read timeout"
        if isinstance(error, requests.ConnectTimeout):
            phase = f"connecting took longer than {connect:g} s"
        logger.debug("%s to %s timed out: %s", action, url, phase)
        return TenantTimeoutError(
            f"{action} timed out",
            value=url,
            cause=f"{case.cause} ({phase})",
            fix=case.fix_for(origin),
        )
    case = case_named("unreachable")
    reason = _reason(error)
    if isinstance(error, requests.exceptions.SSLError):
        reason = f"TLS handshake failed: {reason}"
    logger.debug("%s to %s failed: %s", action, url, reason)
    return TenantUnreachableError(
        f"{action} failed: tenant unreachable",
        value=url,
        cause=f"{case.cause} ({reason})",
        fix=case.fix_for(origin),
    )


def _reason(error: requests.RequestException) -> str:
    """Return urllib3's reason for a failed connection, such as a refusal."""
    inner: object = error
    if error.args and isinstance(error.args[0], BaseException):
        inner = error.args[0]
    reason = getattr(inner, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else inner)
    # urllib3 starts with the connection's description, such as
    # "HTTPConnection(host='127.0.0.1', port=1): ", which says nothing new.
    head, separator, tail = text.partition("): ")
    if separator and head.startswith(("HTTPConnection", "HTTPSConnection", "<")):
        return tail
    return text


def _expires_at(
    body: Mapping[str, Any], now: Callable[[], float], url: str, status: int
) -> float:
    if "expires_at" in body:
        value = body["expires_at"]
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number and math.isfinite(value):
            return float(value)
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                pass
            else:
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                return moment.timestamp()
        raise _format_error(
            "Token response has an invalid expires_at",
            value,
            "expires_at must be an ISO 8601 date and time",
            url,
            status,
        )
    if "expires_in" in body:
        value = body["expires_in"]
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = math.nan
        if math.isfinite(seconds) and not isinstance(value, bool):
            return now() + seconds
        raise _format_error(
            "Token response has an invalid expires_in",
            value,
            "expires_in must be a number of seconds",
            url,
            status,
        )
    raise _format_error(
        "Token response has no expiry",
        sorted(body),
        "the JSON object has neither expires_in nor expires_at",
        url,
        status,
    )


def _format_error(
    symptom: str, value: object, cause: str, url: str, status: int
) -> ResponseFormatError:
    return ResponseFormatError(
        symptom,
        value=value,
        cause=cause,
        fix="check that the tenant URL points at a Qlik Cloud tenant's token "
        "endpoint; a proxy or another server may have responded",
        status=status,
        url=url,
    )
