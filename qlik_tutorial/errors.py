"""Exceptions raised by the kit.

Every error names what failed, the offending value (never a secret), the
cause and the fix, in the way the tutorial's troubleshooting table does::

    QlikTutorialError
    ├── ConfigurationError          bad input, found before any request is sent
    │   ├── PrivateKeyError         key file or PEM text unusable
    │   ├── AlgorithmError          alg unsupported or not fitting the key
    │   ├── JWKError                public JWK unfit for the console
    │   ├── TenantURLError          tenant address invalid
    │   ├── ClientAssertionError    claims or lifetime break the rules
    │   └── WorkspaceError          workspace file missing or contradicting
    ├── TransportError              no HTTP response at all
    │   ├── TenantTimeoutError      connect or read timed out
    │   └── TenantUnreachableError  connection refused, DNS failure, TLS error
    └── ServerError                 an HTTP error response
        ├── TokenRequestError       from the token endpoint
        │   └── RateLimitedError    429 with Retry-After
        ├── APIRequestError         from the REST API
        └── ResponseFormatError     a response that is not the expected JSON
"""

from __future__ import annotations

from typing import Any


class QlikTutorialError(Exception):
    """Base of every error the kit raises.

    ``symptom`` is what failed, ``value`` the offending value (already safe to
    show), ``cause`` why it failed and ``fix`` what to do next. ``case`` is a
    short snake_case name of the fault, such as ``key_too_small`` or
    ``invalid_audience``, which distinguishes faults of the same class. It is
    None where the class alone names the fault, and the message never shows it.
    """

    def __init__(
        self,
        symptom: str,
        *,
        value: object = None,
        cause: str = "",
        fix: str = "",
        case: str | None = None,
    ) -> None:
        self.symptom = symptom
        self.value = value
        self.cause = cause
        self.fix = fix
        self.case = case
        super().__init__(self._message())

    def _message(self) -> str:
        text = self.symptom
        if self.value is not None:
            text += f": {self.value!r}"
        if self.cause:
            text += f". Cause: {self.cause}"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text

    def __str__(self) -> str:
        return self._message()


class ConfigurationError(QlikTutorialError):
    """A bad input found before any request is sent."""


class PrivateKeyError(ConfigurationError):
    """A private key that cannot be loaded or used."""


class AlgorithmError(ConfigurationError):
    """An alg the kit does not support or that does not fit the key."""


class JWKError(ConfigurationError):
    """A JWK that the console would reject or that leaks private members."""


class TenantURLError(ConfigurationError):
    """A tenant address that is not a usable origin."""


class ClientAssertionError(ConfigurationError):
    """Claims or a lifetime that break the client assertion rules."""


class WorkspaceError(ConfigurationError):
    """A workspace file that is missing, unreadable or contradicts a parameter."""


class TransportError(QlikTutorialError):
    """No HTTP response came back from the tenant."""


class TenantTimeoutError(TransportError):
    """Connecting to or reading from the tenant timed out."""


class TenantUnreachableError(TransportError):
    """The connection failed: refused, unknown host or TLS failure."""


class ServerError(QlikTutorialError):
    """An HTTP error response, parsed from Qlik's or RFC 6749's error body.

    ``status`` is the HTTP status, ``code``/``title``/``detail`` come from
    Qlik's ``{"errors": [...]}`` body or RFC 6749's ``error`` and
    ``error_description``, ``trace_id`` from Qlik's ``traceId``, and
    ``case`` names the troubleshooting case the response matches, as
    `qlik_tutorial.troubleshooting.case_named` looks it up.
    """

    def __init__(
        self,
        symptom: str,
        *,
        value: object = None,
        cause: str = "",
        fix: str = "",
        status: int,
        url: str,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        trace_id: str | None = None,
        case: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.url = url
        self.code = code
        self.title = title
        self.detail = detail
        self.trace_id = trace_id
        self.retry_after = retry_after
        self.body = body
        super().__init__(symptom, value=value, cause=cause, fix=fix, case=case)


class TokenRequestError(ServerError):
    """The token endpoint rejected the token request."""


class RateLimitedError(TokenRequestError):
    """The tenant responded 429 Too Many Requests."""


class APIRequestError(ServerError):
    """The REST API rejected the call."""


class ResponseFormatError(ServerError):
    """The response was not the JSON the endpoint documents."""
