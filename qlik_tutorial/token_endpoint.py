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
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from .assertion import ASSERTION_TYPE, DEFAULT_LIFETIME, build_client_assertion
from .errors import (
    ClientAssertionError,
    ConfigurationError,
    ResponseFormatError,
    TenantTimeoutError,
    TenantUnreachableError,
    TokenRequestError,
    TransportError,
)
from .redact import mask_token, redact_secrets
from .responses import json_body, raise_for_answer
from .tenant import is_loopback, tenant_origin, token_endpoint
from .troubleshooting import case_named

if TYPE_CHECKING:
    from .keys import SigningKey

logger = logging.getLogger(__name__)

DEFAULT_SCOPE = "user_default"
GRANT_TYPE = "client_credentials"
# Seconds to connect and seconds to wait between bytes of the response.
DEFAULT_TIMEOUT = (5.0, 30.0)

Timeout = float | tuple[float, float]

# Unix seconds of 9999-12-31T23:59:59Z, the last time datetime can show.
LAST_SECOND = 253_402_300_799
# Characters an Authorization header can carry: visible ASCII, no spaces.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
SHOWN_VALUE_LENGTH = 40


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
        try:
            expiry = datetime.fromtimestamp(self.expires_at, UTC)
        except (OverflowError, OSError, ValueError):
            expiry_text = f"{self.expires_at:g} (Unix seconds)"
        else:
            expiry_text = expiry.isoformat(timespec="seconds")
        return (
            f"AccessToken({self.masked}, token_type={self.token_type!r}, "
            f"expires_at={expiry_text}, scope={self.scope!r})"
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
        if not is_header_safe(access_token):
            raise _format_error(
                "Token response has an access_token that no header can carry",
                f"access_token of {len(access_token)} characters",
                "it contains white space, control or non-ASCII characters, which "
                "an Authorization header cannot carry",
                url,
                status,
            )
        token_type = body.get("token_type")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise _format_error(
                "Token response has an unsupported token_type",
                safe_value(token_type),
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


def is_header_safe(token: str) -> bool:
    """Return whether ``token`` is visible ASCII only, as an HTTP header needs."""
    return _HEADER_SAFE.fullmatch(token) is not None


def check_header_safe(token: str) -> None:
    """Raise ConfigurationError unless ``token`` can go into an Authorization header."""
    if not is_header_safe(token):
        raise ConfigurationError(
            "Access token contains characters no header can carry",
            value=f"token of {len(token)} characters",
            cause="it contains white space, control or non-ASCII characters, "
            "perhaps from a copy and paste",
            fix="pass the access_token value of the token response exactly, "
            "with nothing around or inside it",
        )


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
    except (requests.RequestException, ValueError) as error:
        # requests parses a redirect's Location even when it does not follow
        # it, and raises ValueError when that is not a URL.
        raise transport_error(error, url, timeout, action="Token request") from None
    finally:
        if owned:
            client.close()


def transport_error(
    error: requests.RequestException | ValueError,
    url: str,
    timeout: Timeout,
    *,
    action: str,
) -> TransportError:
    """Return the kit's error for a request that got no usable HTTP response.

    A timeout gives `TenantTimeoutError`, a failed connection
    `TenantUnreachableError`, and a response cut short or with a body that
    cannot be decoded, or with a Location header that is not a URL, the
    base `TransportError`.
    """
    # The URL may come from a redirect, so it is not checked as a tenant.
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
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
    if not isinstance(error, requests.ConnectionError):
        return _broken_response_error(error, url, origin, action=action)
    case = case_named("unreachable")
    reason = _reason(error)
    if isinstance(error, requests.exceptions.SSLError):
        reason = f"TLS handshake failed: {reason}"
    logger.debug("%s to %s failed: %s", action, url, reason)
    return TenantUnreachableError(
        f"{action} failed: tenant unreachable",
        value=url,
        cause=f"{case.cause} ({reason})",
        fix=plain_http_fix(error, origin) or case.fix_for(origin),
    )


# OpenSSL's messages when the server responded to a TLS handshake with
# something else, such as a plain HTTP response.
_NOT_TLS = re.compile(
    r"wrong[ _]version[ _]number|record layer failure|packet length too long|"
    r"unknown protocol|record[ _]too[ _]long|http[ _]request",
    re.IGNORECASE,
)


def plain_http_fix(error: BaseException, origin: str) -> str | None:
    """Return the fix for a loopback server that speaks plain http, if that failed.

    A TLS handshake with a server that speaks plain http fails with an SSL
    error such as WRONG_VERSION_NUMBER. On a loopback host, where the local
    tenant serves plain http, the fix is the http URL; elsewhere, or for
    another error, this returns None.
    """
    if not isinstance(error, requests.exceptions.SSLError):
        return None
    parts = urlsplit(origin)
    host = parts.hostname
    if parts.scheme != "https" or host is None or not is_loopback(host):
        return None
    if not _NOT_TLS.search(str(error)):
        return None
    plain = "http://" + parts.netloc.rpartition("@")[2]
    return (
        f"the server at {origin} speaks plain http, not TLS: use {plain} as the "
        f"tenant (only a loopback host may use http), and test it: curl {plain}"
    )


def _broken_response_error(
    error: requests.RequestException | ValueError,
    url: str,
    origin: str,
    *,
    action: str,
) -> TransportError:
    # Only these two carry a message that cannot contain a header value.
    readable = (
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    )
    if isinstance(error, readable):
        # urllib3's ProtocolError and DecodeError keep their message first.
        inner = error.args[0] if error.args else error
        message = inner.args[0] if isinstance(inner, BaseException) else inner
        cause = "the connection broke during the response, or its body could not "
        cause += f"be decoded ({redact_secrets(str(message))})"
    elif not isinstance(error, requests.RequestException):
        cause = "the response redirects to a Location header that is not a URL "
        cause += f"({redact_secrets(str(error))})"
    else:
        cause = f"the response could not be handled ({type(error).__name__})"
    logger.debug("%s to %s failed: %s", action, url, cause)
    return TransportError(
        f"{action} failed: the response could not be read",
        value=url,
        cause=cause,
        fix=f"retry; if it happens again, check for a proxy between this machine "
        f"and {origin}, or run: curl -v {origin}",
    )


def _reason(error: requests.RequestException) -> str:
    """Return urllib3's reason for a failed connection, such as a refusal."""
    inner: object = error
    if error.args and isinstance(error.args[0], BaseException):
        inner = error.args[0]
    reason = getattr(inner, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else inner)
    # urllib3 starts with the connection's description, such as
    # "HTTPConnection(host='127.0.0.1', port=1): ", which adds nothing.
    head, separator, tail = text.partition("): ")
    if separator and head.startswith(("HTTPConnection", "HTTPSConnection", "<")):
        return tail
    return text


def _expires_at(
    body: Mapping[str, Any], now: Callable[[], float], url: str, status: int
) -> float:
    if "expires_at" in body:
        value = body["expires_at"]
        moment = _parse_expires_at(value)
        if moment is not None and 0 <= moment <= LAST_SECOND:
            return moment
        raise _format_error(
            "Token response has an invalid expires_at",
            safe_value(value),
            "expires_at must be an ISO 8601 date and time (or Unix seconds) "
            "between 1970 and 9999",
            url,
            status,
        )
    if "expires_in" in body:
        value = body["expires_in"]
        try:
            seconds = math.nan if isinstance(value, bool) else float(value)
        except (TypeError, ValueError, OverflowError):
            seconds = math.nan
        current = now()
        # A negative lifetime would make a fresh token look expired.
        if seconds >= 0 and current + seconds <= LAST_SECOND:
            return current + seconds
        raise _format_error(
            "Token response has an invalid expires_in",
            safe_value(value),
            "expires_in must be a number of seconds, 0 or more, that ends "
            "before the year 10000",
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


def _parse_expires_at(value: object) -> float | None:
    """Return expires_at as Unix seconds, or None when it is not a time."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    # RFC 3339 allows a lowercase z, which fromisoformat does not read.
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):
        return None


def safe_value(value: object) -> object:
    """Return a response member in a form safe and short enough for a message."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return (
            value
            if value.bit_length() <= 64
            else f"an integer of {value.bit_length()} bits"
        )
    if not isinstance(value, str):
        return f"a JSON {'object' if isinstance(value, Mapping) else 'array'}"
    text = redact_secrets(value)
    if len(text) <= SHOWN_VALUE_LENGTH:
        return text
    return text[: SHOWN_VALUE_LENGTH - 1] + "…"


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
